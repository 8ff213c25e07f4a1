"""python -m dance_rl.generate: outputs in the interchange and EDGE formats; bad inputs exit 2 and write nothing."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import soundfile as sf
import torch

from dance_rl import generate
from dance_rl.diffusion.checkpoint import save_checkpoint
from dance_rl.diffusion.model import DanceDecoder, ModelSpec
from dance_rl.errors import cli_main
from dance_rl.motion.io import load_motion
from dance_rl.motion.representation import Normalizer
from dance_rl.motion.skeleton import bone_lengths

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models run fastest on one thread


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    d = tmp_path_factory.mktemp("gen")
    torch.manual_seed(0)
    model = DanceDecoder(ModelSpec(latent_dim=32, ff_size=48, num_layers=1, num_heads=4, dropout=0.0))
    lo, hi = -torch.ones(151), torch.ones(151)
    lo[4:7], hi[4:7] = torch.tensor([-1.0, -1.0, 0.8]), torch.tensor([1.0, 1.0, 1.0])
    cfg = {"diffusion": {"ddim_steps": 4, "eta": 1.0, "guidance_weight": 2.0, "clip_denoised": True, "timesteps": 1000}}
    save_checkpoint(d / "ck.pt", model=model, ema=None, optimizer=None, normalizer=Normalizer(lo, hi), config=cfg, step=0)
    sr = 22050
    t = np.arange(int(7.0 * sr)) / sr
    clicks = (np.sin(2 * np.pi * 880 * t) * np.exp(-30 * (t % 0.5))).astype(np.float32)  # 120 BPM clicks
    sf.write(d / "song.wav", 0.5 * clicks + 0.05 * np.sin(2 * np.pi * 220 * t), sr)
    sf.write(d / "silent.wav", np.zeros(6 * sr, dtype=np.float32), sr)
    sf.write(d / "short.wav", clicks[: 2 * sr], sr)
    (d / "garbage.wav").write_bytes(b"this is not audio at all" * 10)
    return d


def test_generate_writes_npz_and_edge_pkl(assets, tmp_path):
    out = tmp_path / "out"
    rc = cli_main(generate.main, ["--checkpoint", str(assets / "ck.pt"), "--audio", str(assets / "song.wav"),
                                  "--out", str(out), "--seconds", "6"])
    assert rc == 0
    m = load_motion(out / "song.npz")
    assert m.poses.shape == (180, 24, 3) and m.trans.shape == (180, 3) and m.contacts.shape == (180, 4)
    assert m.fps == 30.0 and m.audio.endswith("song.wav")
    # FK of the stored rotations has SMPL bone lengths exactly (lengths are not a model output)
    from dance_rl.motion.fk import joints_np
    from dance_rl.motion.skeleton import PARENTS
    j = joints_np(m.poses, m.trans)
    lengths = np.linalg.norm(j[:, 1:] - j[:, list(PARENTS[1:])], axis=-1)
    np.testing.assert_allclose(lengths, np.broadcast_to(bone_lengths()[1:], lengths.shape), atol=1e-4)
    with open(out / "song.pkl", "rb") as f:
        edge = pickle.load(f)  # our own file, written by the test just now
    assert edge["smpl_poses"].shape == (180, 72) and edge["full_pose"].shape == (180, 24, 3)


def test_generate_with_fgd_guidance(assets, tmp_path):
    out = tmp_path / "g"
    rc = cli_main(generate.main, ["--checkpoint", str(assets / "ck.pt"), "--audio", str(assets / "song.wav"),
                                  "--out", str(out), "--seconds", "5", "--fgd-guidance"])
    assert rc == 0
    m = load_motion(out / "song.npz")
    h = m.joints[..., 2].min(axis=-1)
    assert m.num_frames == 150 and abs(h.mean()) < 1e-4  # post-processing puts the ground at z = 0


@pytest.mark.parametrize("audio,msg", [("missing.wav", "not found"), ("silent.wav", "silent"),
                                       ("short.wav", "shorter"), ("garbage.wav", "cannot decode")])
def test_bad_audio_exits_2_without_files(assets, tmp_path, capsys, audio, msg):
    out = tmp_path / "out"
    rc = cli_main(generate.main, ["--checkpoint", str(assets / "ck.pt"), "--audio", str(assets / audio), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and msg in err and err.count("\n") == 1
    assert not out.exists()


def test_bad_checkpoint_and_lengths_exit_2(assets, tmp_path, capsys):
    out = tmp_path / "out"
    base = ["--audio", str(assets / "song.wav"), "--out", str(out)]
    assert cli_main(generate.main, ["--checkpoint", str(assets / "song.wav")] + base) == 2
    assert cli_main(generate.main, ["--checkpoint", str(assets / "ck.pt"), "--seconds", "60"] + base) == 2
    assert "longer than the song" in capsys.readouterr().err
    assert cli_main(generate.main, ["--checkpoint", str(assets / "ck.pt"), "--seconds", "2"] + base) == 2
    assert not out.exists()


def test_generate_motion_takes_read_only_music_silently(assets):
    """Music from Ray's object store is read-only; sampling must neither warn about it nor write into it."""
    import warnings

    from dance_rl.diffusion.checkpoint import load_model

    model, norm, _ = load_model(assets / "ck.pt")
    music = np.random.default_rng(0).normal(size=(150, 35)).astype(np.float32)
    music.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = generate.generate_motion(model, norm, music, steps=2, seed=0)
    assert out["joints"].shape == (150, 24, 3) and np.isfinite(out["joints"]).all()
