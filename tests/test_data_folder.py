"""``python -m dance_rl.data folder``: pairs by stem, any motion format, a broken pair is reported while the rest
imports; ``data.source: folder:PATH`` feeds the dataset and pretraining."""
from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

from dance_rl.config import load_config
from dance_rl.data.__main__ import main
from dance_rl.data.dataset import dataset_from_config
from dance_rl.errors import UserError, cli_main
from dance_rl.motion.io import Motion, load_motion, save_motion
from dance_rl.motion.skeleton import UPRIGHT_ROOT_AA
from dance_rl.music.audio import EDGE_SR
from dance_rl.music.synth import save_wav, synthesize_music
from tests.test_bvh_retarget import mixamo_skeleton, write_bvh

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SECONDS = 6.0


def _smpl_motion(rng, frames=int(SECONDS * 30)):
    poses = rng.normal(0, 0.1, (frames, 24, 3)).astype(np.float32)
    poses[:, 0] = UPRIGHT_ROOT_AA
    trans = np.zeros((frames, 3), np.float32)
    trans[:, 2] = 0.95
    return Motion(poses, trans, 30.0)


@pytest.fixture(scope="module")
def dance_folder(tmp_path_factory):
    """motions/ + music/: three good pairs in three formats, and three broken ones."""
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("own")
    motions, music = root / "motions", root / "music"
    motions.mkdir()
    music.mkdir()
    sr = EDGE_SR  # no resampling: keeps the test fast
    song = synthesize_music(None, 120.0, SECONDS + 0.5, sr=sr)
    for stem in ("a_bvh", "b_npz", "c_finedance", "d_corrupt"):
        save_wav(music / f"{stem}.wav", song, sr)
    save_wav(music / "e_short_music.wav", song[: 3 * sr], sr)
    write_bvh(motions / "a_bvh.bvh", mixamo_skeleton(), "ZXY", 60.0, 100.0, "y", True, rng,
              frames=int(SECONDS * 60))
    save_motion(_smpl_motion(rng), motions / "b_npz.npz")
    fd = np.zeros((int(SECONDS * 30), 315), np.float32)
    fd[:, 1] = 0.9  # y-up root height
    fd[:, 3:].reshape(-1, 52, 6)[:, :, [0, 4]] = 1.0  # identity rotations (6-D rows)
    fd[:, 3:] += rng.normal(0, 0.02, fd[:, 3:].shape).astype(np.float32)
    np.save(motions / "c_finedance.npy", fd)
    (motions / "d_corrupt.pkl").write_bytes(b"not a pickle at all")
    save_motion(_smpl_motion(rng), motions / "e_short_music.npz")
    save_motion(_smpl_motion(rng), motions / "f_no_music.npz")
    return root


@pytest.fixture(scope="module")
def built(dance_folder, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("built")
    out, cache = tmp / "corpus", tmp / "cache"
    argv = ["folder", "--motions", str(dance_folder / "motions"), "--music", str(dance_folder / "music"),
            "--out", str(out), "--cache-dir", str(cache), "--test-every", "3"]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        status = cli_main(main, argv)
    return out, cache, status, buf.getvalue()


def test_folder_with_broken_pairs_imports_the_rest(built):
    out, cache, status, printed = built
    assert status == 0
    info = json.loads((out / "corpus.json").read_text())
    assert [c["id"] for c in info["clips"]] == ["a_bvh", "b_npz", "c_finedance"]
    assert [c["split"] for c in info["clips"]] == ["train", "train", "test"]
    report = (out / "report.txt").read_text().splitlines()
    assert len(report) == 3
    assert report[0].startswith("f_no_music: motion f_no_music.npz has no music")
    assert report[1].startswith("d_corrupt: ") and "pickle" in report[1]
    assert report[2].startswith("e_short_music: music e_short_music.wav ends 3.0 s before the motion")
    assert all(line.split(":")[0] in printed for line in report)
    for c in info["clips"]:
        m = load_motion(out / f"{c['id']}.npz")
        assert m.fps == 30.0 and m.contacts is not None and c["windows"] >= 1
        assert abs(m.num_frames - SECONDS * 30) <= 1 and m.audio.endswith(f"{c['id']}.wav")
        assert abs(m.fk_joints()[..., 2].min(-1)).min() < 0.05  # grounded
    assert sorted(p.name for p in out.iterdir()) == ["a_bvh.npz", "b_npz.npz", "c_finedance.npz", "corpus.json",
                                                     "report.txt"]
    # Features cached by content: the song shared by three pairs once, plus the short one (read to be checked).
    assert len(list((cache / "features").glob("music-*.npy"))) == 2
    assert len(list((cache / "features").glob("motion-*.npy"))) == 4



@pytest.mark.slow
def test_folder_source_feeds_dataset_and_pretrain(built, tmp_path):
    """data.source: folder:OUT gives windows for both splits, and pretraining runs on it (two steps)."""
    out, cache, _, _ = built
    cfg = load_config(None, [f"data.source=folder:{out}", f"data.cache_dir={cache}", "data.window_frames=30"])
    train = dataset_from_config(cfg.data, "train")
    test = dataset_from_config(cfg.data, "test", normalizer=train.normalizer)
    assert {train.window_info(i)[0] for i in range(len(train))} == {"a_bvh", "b_npz"}
    assert {test.window_info(i)[0] for i in range(len(test))} == {"c_finedance"}
    from dance_rl import pretrain as pretrain_cli

    tiny = ["model.latent_dim=32", "model.ff_size=48", "model.num_layers=1", "model.seq_len=30",
            "pretrain.batch_size=4", "pretrain.max_minutes=0", "data.window_frames=30", f"data.cache_dir={cache}"]
    args = ["--data", f"folder:{out}", "--out", str(tmp_path / "m.pt"), "--steps", "2", "--no-progress"]
    assert cli_main(pretrain_cli.main, args + [a for kv in tiny for a in ("--set", kv)]) == 0
    assert (tmp_path / "m.pt").is_file()


def test_raw_folder_source_and_errors(dance_folder, tmp_path):
    cfg = load_config(None, [f"data.source=folder:{dance_folder}", f"data.cache_dir={tmp_path}",
                             "data.window_frames=30"])
    ds = dataset_from_config(cfg.data, "train")
    assert {ds.window_info(i)[0] for i in range(len(ds))} == {"a_bvh", "b_npz", "c_finedance"}
    with pytest.raises(UserError, match="neither a corpus"):
        dataset_from_config(load_config(None, [f"data.source=folder:{tmp_path / 'nope'}"]).data, "train")
    empty = tmp_path / "empty"
    (empty / "motions").mkdir(parents=True)
    (empty / "music").mkdir()
    (empty / "motions" / "x.npz").write_bytes(b"junk")
    (empty / "music" / "x.wav").write_bytes(b"junk")
    with pytest.raises(UserError, match="no usable motion/music pair"):
        cli_main_raise(["folder", "--motions", str(empty / "motions"), "--music", str(empty / "music"),
                        "--out", str(tmp_path / "o")])
    assert not (tmp_path / "o").exists()


def cli_main_raise(argv):
    return main(argv)
