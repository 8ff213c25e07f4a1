"""Torch dataset over the demo corpus: shapes, normalised range, feature round trip, caching, sources, errors."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from dance_rl.data import clips as ds_mod
from dance_rl.data import demo
from dance_rl.data.dataset import list_clips, make_dataset
from dance_rl.errors import UserError
from dance_rl.motion.fk import joints_np
from dance_rl.motion.io import Motion, load_motion, save_motion
from dance_rl.motion.representation import features_to_joints

WINDOWS_PER_CLIP = {"train": 11, "test": 3}  # 300 frames: starts every 15 (train) or 75 (test) frames


@pytest.fixture(scope="session")
def demo_cache(tmp_path_factory):
    cache = tmp_path_factory.getbasetemp() / "demo_data_cache"  # same path as tests/test_demo_corpus.py
    demo.build_demo_corpus(cache, max_clips=1)
    return cache


@pytest.fixture(scope="session")
def train_set(demo_cache):
    return make_dataset("demo", "train", demo_cache, max_clips=1)


def test_shapes_and_normalised_range(train_set, demo_cache):
    assert len(train_set) == 5 * WINDOWS_PER_CLIP["train"]
    motion, music, clip_id = train_set[3]
    assert motion.shape == (150, 151) and music.shape == (150, 35) and motion.dtype == torch.float32
    assert clip_id == train_set.window_info(3)[0] and clip_id.startswith(demo.CLIPS[0])
    allm = torch.stack([train_set[i][0] for i in range(len(train_set))])
    assert allm.min() >= -1.0 and allm.max() <= 1.0
    varying = train_set.normalizer.data_max > train_set.normalizer.data_min
    assert torch.allclose(allm.amin((0, 1))[varying], torch.tensor(-1.0)) \
        and torch.allclose(allm.amax((0, 1))[varying], torch.tensor(1.0))  # every varying dim reaches both ends
    batch = next(iter(torch.utils.data.DataLoader(train_set, batch_size=4)))
    assert batch[0].shape == (4, 150, 151) and len(batch[2]) == 4


def test_test_split_uses_the_train_normaliser(train_set, demo_cache):
    test = make_dataset("demo", "test", demo_cache, max_clips=1)
    assert len(test) == WINDOWS_PER_CLIP["test"] and test[0][2].endswith("_t115_m")
    torch.testing.assert_close(test.normalizer.data_min, train_set.normalizer.data_min)
    torch.testing.assert_close(test.normalizer.data_max, train_set.normalizer.data_max)


def test_windows_round_trip_to_the_clip(train_set, demo_cache):
    """Unnormalised window features → FK equals the stored motion's joints (root xy recentred per window)."""
    i = 7
    clip_id, start = train_set.window_info(i)
    m = load_motion(demo.corpus_dir(demo_cache, max_clips=1) / f"{clip_id}.npz")
    x = train_set.normalizer.unnormalize(train_set[i][0])
    joints = features_to_joints(x.double()).numpy()
    ref = joints_np(m.poses[start:start + 150], m.trans[start:start + 150])
    ref[..., :2] -= m.trans[start, :2]
    np.testing.assert_allclose(joints, ref, atol=2e-3)  # min-max round trip in float32
    raw, music = train_set.raw_item(i)
    np.testing.assert_allclose(raw[:, 4:7].numpy(), m.trans[start:start + 150] - [*m.trans[start, :2], 0], atol=1e-5)
    assert music[:, 34].sum() >= 2  # beat channel fires on the synthesised beats


def test_features_are_cached(demo_cache, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("features recomputed despite the cache")

    monkeypatch.setattr("dance_rl.music.features.extract_features", fail)
    again = make_dataset("demo", "train", demo_cache, max_clips=1)
    assert len(again) == 5 * WINDOWS_PER_CLIP["train"]


def test_prebuilt_aistpp_style_folder(tmp_path, demo_cache, train_set):
    """``aistpp:PATH`` with ready .npz + audio files (no corpus.json): all files, no recentring, given normaliser."""
    src = demo.corpus_dir(demo_cache, max_clips=1)
    for name in ("dance_a_t100_o", "dance_a_t085_m"):
        shutil.copy(src / f"{name}.npz", tmp_path / f"{name}.npz")
        shutil.copy(src / f"{name}.wav", tmp_path / f"{name}.wav")
    data = make_dataset(f"aistpp:{tmp_path}", "train", demo_cache, normalizer=train_set.normalizer)
    assert len(data) == 2 * WINDOWS_PER_CLIP["train"] and not data.recenter
    assert data.normalizer is train_set.normalizer
    assert [r.clip_id for r in list_clips(tmp_path, "test")] == ["dance_a_t085_m", "dance_a_t100_o"]


def test_errors(tmp_path, demo_cache):
    with pytest.raises(UserError, match="not 'demo'"):
        make_dataset("mocap", "train", demo_cache)
    with pytest.raises(UserError, match="not found"):
        make_dataset(f"aistpp:{tmp_path / 'missing'}", "train", demo_cache)
    with pytest.raises(UserError, match="split"):
        make_dataset("demo", "val", demo_cache)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no train motion files"):
        list_clips(tmp_path / "empty", "train")
    t = 160
    save_motion(Motion(np.zeros((t, 24, 3), np.float32), np.zeros((t, 3), np.float32)), tmp_path / "silent.npz")
    with pytest.raises(UserError, match="has no audio"):
        ds_mod.clip_features(ds_mod.ClipRef("silent", tmp_path / "silent.npz"), None)
    save_motion(Motion(np.zeros((t, 24, 3), np.float32), np.zeros((t, 3), np.float32), audio="gone.wav"),
                tmp_path / "lost.npz")
    with pytest.raises(UserError, match="does not exist"):
        ds_mod.clip_features(ds_mod.ClipRef("lost", tmp_path / "lost.npz"), None)
