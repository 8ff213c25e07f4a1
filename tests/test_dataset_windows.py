"""Window slicing shared by the AIST++ and demo sources (hand-computed starts and contents)."""
from __future__ import annotations

import numpy as np
import pytest

from dance_rl.data.windows import recenter_xy, slice_motion, slice_windows, stride_frames, window_starts
from dance_rl.errors import UserError
from dance_rl.motion.io import Motion


def test_window_starts_hand_computed():
    np.testing.assert_array_equal(window_starts(300, 150, 15), np.arange(0, 151, 15))  # 11 windows
    np.testing.assert_array_equal(window_starts(300, 150, 75), [0, 75, 150])
    np.testing.assert_array_equal(window_starts(150, 150, 15), [0])
    assert window_starts(149, 150, 15).size == 0
    assert stride_frames(0.5) == 15 and stride_frames(2.5) == 75 and stride_frames(0.001) == 1
    with pytest.raises(UserError):
        window_starts(300, 150, 0)


def test_slice_windows_contents_and_truncation():
    motion = np.arange(200 * 151, dtype=np.float32).reshape(200, 151)
    music = np.arange(190 * 35, dtype=np.float32).reshape(190, 35)  # shorter: the common 190 frames are used
    m, mu, starts = slice_windows(motion, music, length=100, stride=40)
    np.testing.assert_array_equal(starts, [0, 40, 80])
    assert m.shape == (3, 100, 151) and mu.shape == (3, 100, 35)
    np.testing.assert_array_equal(m[1], motion[40:140])
    np.testing.assert_array_equal(mu[2], music[80:180])


def test_recenter_moves_only_root_xy():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(2, 10, 151)).astype(np.float32)
    r = recenter_xy(w)
    np.testing.assert_allclose(r[:, 0, 4:6], 0.0)
    np.testing.assert_allclose(r[:, :, 4:6] - r[:, :1, 4:6], w[:, :, 4:6] - w[:, :1, 4:6], atol=1e-6)
    np.testing.assert_array_equal(np.delete(r, [4, 5], axis=-1), np.delete(w, [4, 5], axis=-1))
    m, _, _ = slice_windows(w[0], w[0][:, :35], length=5, stride=5, recenter=True)
    np.testing.assert_allclose(m[1, 0, 4:6], 0.0)


def test_slice_motion():
    t = 40
    mo = Motion(np.zeros((t, 24, 3), np.float32), np.arange(t * 3, dtype=np.float32).reshape(t, 3))
    parts = slice_motion(mo, length=16, stride=12)
    assert [p.num_frames for p in parts] == [16, 16, 16]  # starts 0, 12, 24 (24 + 16 = 40)
    np.testing.assert_array_equal(parts[1].trans, mo.trans[12:28])
