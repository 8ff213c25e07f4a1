"""AIST++ reader on a small fake tree in the official layout: splits, sequences, windows, build_aistpp."""
from __future__ import annotations

import json
import pickle
import re

import numpy as np
import pytest
import soundfile as sf
import torch

from dance_rl.data import aistpp
from dance_rl.errors import UserError
from dance_rl.motion.io import load_motion
from dance_rl.motion.representation import motion_to_features

SR = 15360  # EDGE's feature rate, so extraction needs no resampling
SECONDS = 6.0
TEST_SEQS = ("gLH_sBM_cAll_d17_mLH4_ch02", "gHO_sBM_cAll_d20_mHO5_ch02")
TRAIN_SEQ = "gWA_sFM_cAll_d25_mWA4_ch05"
IGNORED_SEQ = "gBR_sFM_cAll_d05_mBR5_ch14"  # listed in both crossmodal_train and ignore_list
ALL = TEST_SEQS + (TRAIN_SEQ, IGNORED_SEQ)
NAME = re.compile(r"^g(BR|PO|LO|MH|LH|HO|WA|KR|JS|JB)_s(BM|FM)_cAll_d\d\d_m\1[0-5]_ch\d\d$")


def _click_track(bpm: float, seed: int) -> np.ndarray:
    t = np.arange(int(SECONDS * SR)) / SR
    rng = np.random.default_rng(seed)
    y = 0.05 * np.sin(2 * np.pi * 220 * t) + 0.01 * rng.normal(size=t.size)
    for b in np.arange(0, SECONDS, 60.0 / bpm):
        i = int(b * SR)
        y[i:i + 300] += np.hanning(600)[300:] * 0.8 * np.sin(2 * np.pi * 1000 * t[: min(300, t.size - i)])
    return (y / np.abs(y).max() * 0.9).astype(np.float32)


def _write_tree(root, names=ALL, frames60=int(SECONDS * 60)):
    (root / "motions").mkdir(parents=True)
    (root / "wavs").mkdir()
    rng = np.random.default_rng(0)
    for k, name in enumerate(names):
        poses = rng.normal(0, 0.2, (frames60, 72))
        poses[:, :3] = 0.0  # upright in AIST++'s y-up world
        trans = np.cumsum(rng.normal(0, 0.01, (frames60, 3)), 0) + [0, 0.9, 0]
        scale = 1.5 + k
        with open(root / "motions" / f"{name}.pkl", "wb") as f:
            pickle.dump({"smpl_loss": 0.5, "smpl_poses": poses, "smpl_scaling": np.array([scale]),
                         "smpl_trans": trans * scale}, f, protocol=4)
        mid = aistpp.music_id(name)
        if not (root / "wavs" / f"{mid}.wav").exists():
            sf.write(root / "wavs" / f"{mid}.wav", _click_track(100 + 5 * k, k), SR, subtype="PCM_16")
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return _write_tree(tmp_path_factory.mktemp("aistpp"))


def test_shipped_splits_match_the_published_lists():
    train, test, ignore = (aistpp.read_split(s) for s in ("train", "test", "ignore"))
    assert (len(train), len(test), len(ignore)) == (980, 20, 45)
    assert all(NAME.match(n) for n in train + test + ignore)
    assert len(set(train)) == 980 and not set(train) & set(test) and not set(test) & set(ignore)
    assert len({aistpp.music_id(n) for n in test}) == 10  # 20 sequences over 10 songs
    assert len(set(train) & set(ignore)) == 28  # EDGE drops these at load time
    assert test[0] == "gLH_sBM_cAll_d17_mLH4_ch02" and train[-1] == "gPO_sBM_cAll_d10_mPO0_ch06"


def test_list_sequences_applies_split_and_ignore_list(tree):
    assert aistpp.list_sequences(tree, "test") == sorted(TEST_SEQS)
    assert aistpp.list_sequences(tree, "train") == [TRAIN_SEQ]
    assert aistpp.list_sequences(tree, "all") == sorted(TEST_SEQS + (TRAIN_SEQ,))
    with pytest.raises(UserError, match="split"):
        aistpp.list_sequences(tree, "val")


def test_layout_errors(tmp_path, tree):
    with pytest.raises(UserError, match="no 'motions' folder"):
        aistpp.list_sequences(tmp_path, "train")
    (tmp_path / "motions").mkdir()
    (tmp_path / "wavs").mkdir()
    with pytest.raises(UserError, match="none of the 20 'test' sequences"):
        aistpp.list_sequences(tmp_path, "test")
    with pytest.raises(UserError, match="not an AIST\\+\\+ sequence name"):
        aistpp.music_id("dance01")
    other = _write_tree(tmp_path / "nowav", names=(TRAIN_SEQ,))
    (other / "wavs" / "mWA4.wav").unlink()
    with pytest.raises(UserError, match="mWA4.wav: music for"):
        aistpp.load_sequence(other, TRAIN_SEQ)


def test_load_sequence_edge_preprocessing(tree):
    m, wav = aistpp.load_sequence(tree, TRAIN_SEQ)
    assert wav.name == "mWA4.wav" and m.audio == str(wav.resolve())
    assert m.fps == 30.0 and m.num_frames == 180  # 360 frames at 60 fps, stride 2
    np.testing.assert_allclose(m.poses[:, 0], np.tile([np.pi / 2, 0, 0], (180, 1)), atol=1e-6)
    head_above_pelvis = m.fk_joints()[:, 15, 2] - m.trans[:, 2]
    assert np.all(head_above_pelvis > 0.4)  # z-up: the head is above the pelvis
    with open(tree / "motions" / f"{TRAIN_SEQ}.pkl", "rb") as f:
        src = pickle.load(f)  # written by this test
    yup = src["smpl_trans"][::2] / src["smpl_scaling"][0]
    np.testing.assert_allclose(m.trans, np.stack([yup[:, 0], -yup[:, 2], yup[:, 1]], -1), atol=1e-5)


def test_window_starts_and_pairs():
    from dance_rl.data.windows import slice_windows, window_starts

    np.testing.assert_array_equal(window_starts(180, 150, 15), [0, 15, 30])
    np.testing.assert_array_equal(window_starts(180, 150, 75), [0])
    assert window_starts(149, 150, 15).size == 0
    mot, mus = np.arange(200.0)[:, None] * np.ones(151), -np.arange(170.0)[:, None] * np.ones(35)
    a, b, s = slice_windows(mot, mus, 150, 10)  # music is shorter: 170 frames → starts 0, 10, 20
    np.testing.assert_array_equal(s, [0, 10, 20])
    assert a.shape == (3, 150, 151) and b.shape == (3, 150, 35)
    assert a[2, 0, 0] == 20 and b[2, -1, 0] == -169


def test_windows_pair_motion_and_music(tree, monkeypatch):
    import dance_rl.music.features as feats

    real, bpms = feats.extract_features, []

    def spy(path, start_bpm=None, **kw):
        bpms.append((str(path).rsplit("/", 1)[-1], start_bpm))
        return real(path, start_bpm=start_bpm, **kw)

    monkeypatch.setattr(feats, "extract_features", spy)
    w = aistpp.aistpp_windows(tree, "train")
    assert bpms == [("mWA4.wav", 120.0)]  # AIST tempo from the music ID: 80 + 10 * 4
    assert w["motion"].shape == (3, 150, 151) and w["music"].shape == (3, 150, 35)  # 0.5-s stride: 0, 15, 30
    np.testing.assert_array_equal(w["starts"], [0, 15, 30])
    assert list(w["names"]) == [TRAIN_SEQ] * 3
    m, wav = aistpp.load_sequence(tree, TRAIN_SEQ)
    full = motion_to_features(torch.from_numpy(m.poses), torch.from_numpy(m.trans)).numpy()
    np.testing.assert_allclose(w["motion"][1], full[15:165], atol=1e-6)
    np.testing.assert_allclose(w["music"][2], real(wav, start_bpm=120.0)[30:180], atol=1e-5)

    bpms.clear()
    t = aistpp.aistpp_windows(tree, "test")  # 2.5-s stride: one window per 6-s sequence
    assert t["motion"].shape == (2, 150, 151) and sorted(t["names"]) == sorted(TEST_SEQS)
    assert sorted(bpms) == [("mHO5.wav", 135.0), ("mLH4.wav", 120.0)]  # House: 110 + 5 * 5


@pytest.mark.slow
def test_windows_with_feature_cache_match(tree, tmp_path):
    a = aistpp.aistpp_windows(tree, "train", stride_s=1.0, cache_dir=tmp_path / "cache")
    b = aistpp.aistpp_windows(tree, "train", stride_s=1.0, cache_dir=tmp_path / "cache")  # from the cache
    np.testing.assert_array_equal(a["music"], b["music"])
    np.testing.assert_array_equal(a["starts"], [0, 30])
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 1


def test_build_aistpp_writes_interchange_files(tree, tmp_path):
    out = tmp_path / "built"
    paths = aistpp.build_aistpp(tree, out, "all")
    assert sorted(p.name for p in out.iterdir()) == sorted([f"{n}.npz" for n in ALL[:3]] + ["corpus.json"])
    assert paths == [out / f"{n}.npz" for n in sorted(ALL[:3])]
    m = load_motion(out / f"{TRAIN_SEQ}.npz")
    ref, wav = aistpp.load_sequence(tree, TRAIN_SEQ)
    np.testing.assert_allclose(m.poses, ref.poses)
    assert m.audio == str(wav.resolve()) and m.joints.shape == (180, 24, 3) and m.contacts.shape == (180, 4)
    np.testing.assert_allclose(m.joints, ref.fk_joints(), atol=1e-6)
    info = json.loads((out / "corpus.json").read_text())
    splits = {c["id"]: (c["split"], c["bpm"], c["frames"]) for c in info["clips"]}
    assert splits == {TEST_SEQS[0]: ("test", 120.0, 180), TEST_SEQS[1]: ("test", 135.0, 180),
                      TRAIN_SEQ: ("train", 120.0, 180)}
    aistpp.build_aistpp(tree, out, "test")  # rebuilding over a previous build replaces it
    assert sorted(p.name for p in out.iterdir()) == sorted([f"{n}.npz" for n in TEST_SEQS] + ["corpus.json"])


def test_build_aistpp_leaves_no_partial_output(tmp_path):
    root = _write_tree(tmp_path / "root", names=(TRAIN_SEQ,) + TEST_SEQS)
    (root / "motions" / f"{TEST_SEQS[1]}.pkl").write_bytes(b"\x80\x04corrupt")
    out = tmp_path / "out"
    with pytest.raises(UserError, match=TEST_SEQS[1]):
        aistpp.build_aistpp(root, out, "all")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["root"]  # no out dir, no temp dirs
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("x")
    with pytest.raises(UserError, match="not an AIST\\+\\+ build"):
        aistpp.build_aistpp(root, foreign, "train")
    assert [p.name for p in foreign.iterdir()] == ["keep.txt"]
