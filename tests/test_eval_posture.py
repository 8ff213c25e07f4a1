"""Posture statistics on constructed poses: standing vs crouching, shifts, leaning, bad input."""
import numpy as np
import pytest

from dance_rl.eval.posture import knee_flexion, posture_shift, posture_stats
from dance_rl.motion.fk import joints_np
from dance_rl.motion.skeleton import UPRIGHT_ROOT_AA


def pose(hip=0.0, knee=0.0, ankle=0.0, spine=0.0, frames=10, height=0.95):
    """Upright SMPL body; hip/knee/ankle flexion (radians, about the body's left axis) on both legs."""
    p = np.zeros((frames, 24, 3), np.float32)
    p[:, 0] = UPRIGHT_ROOT_AA
    p[:, [1, 2], 0], p[:, [4, 5], 0], p[:, [7, 8], 0] = -hip, knee, -ankle
    p[:, 3, 0] = spine
    trans = np.tile(np.array([0.0, 0.0, height], np.float32), (frames, 1))
    return joints_np(p, trans)


def test_standing_is_straight_and_tall():
    s = posture_stats(pose())
    assert s["knee_flexion"] < 12.0 and s["trunk_lean"] < 10.0  # the mean-shape rest leg bends ~10°
    assert 0.85 < s["pelvis_height"] < 1.05  # SMPL mean-shape leg length ≈ 0.95 m


def test_crouch_is_lower_with_bent_knees():
    stand, crouch = posture_stats(pose()), posture_stats(pose(hip=1.0, knee=1.8, ankle=0.8))
    assert crouch["pelvis_height"] < stand["pelvis_height"] - 0.25
    assert crouch["knee_flexion"] == pytest.approx(np.degrees(1.8), abs=10.0)
    assert crouch["knee_flexion_p10"] > stand["knee_flexion_p90"] + 60
    shift = posture_shift(crouch, stand)
    assert shift["pelvis_height_shift"] < -0.25 and shift["knee_flexion_shift"] > 90
    # graded: a half crouch lies in between
    half = posture_stats(pose(hip=0.5, knee=0.9, ankle=0.4))
    assert crouch["pelvis_height"] < half["pelvis_height"] < stand["pelvis_height"]
    assert stand["knee_flexion"] < half["knee_flexion"] < crouch["knee_flexion"]


def test_pelvis_height_ignores_float_but_world_height_sees_it():
    a, b = posture_stats(pose()), posture_stats(pose(height=1.25))
    assert b["pelvis_height"] == pytest.approx(a["pelvis_height"], abs=1e-6)
    assert b["pelvis_height_world"] == pytest.approx(a["pelvis_height_world"] + 0.30, abs=1e-5)


def test_distribution_pools_frames_and_batches():
    clip = np.concatenate([pose(frames=5), pose(knee=1.2, hip=0.6, ankle=0.6, frames=5)])
    s = posture_stats(np.stack([clip, clip]))
    assert s["knee_flexion_p10"] < 12 and s["knee_flexion_p90"] > 60
    assert knee_flexion(clip).shape == (10, 2)


def test_lean_and_bad_shape():
    assert posture_stats(pose(spine=0.7))["trunk_lean"] > posture_stats(pose())["trunk_lean"] + 20
    with pytest.raises(ValueError, match="expected"):
        posture_stats(np.zeros((10, 22, 3)))
