"""DeepMimic → SMPL-24 retargeting: geometry checks against the source mocap and hand-computed poses."""
from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from dance_rl.data import demo
from dance_rl.data import retarget_deepmimic as dm
from dance_rl.errors import UserError
from dance_rl.motion.fk import joints_np
from dance_rl.motion.skeleton import OFFSETS, PARENTS

# (SMPL joint, SMPL child) ↔ (source joint, source child); 13/14 = right/left wrist in dm_joint_positions.
LIMBS = {
    "l_thigh": ((1, 4), (8, 9)), "r_thigh": ((2, 5), (3, 4)),
    "l_shin": ((4, 7), (9, 10)), "r_shin": ((5, 8), (4, 5)),
    "l_upper_arm": ((16, 18), (11, 12)), "r_upper_arm": ((17, 19), (6, 7)),
    "l_forearm": ((18, 20), (12, 14)), "r_forearm": ((19, 21), (7, 13)),
}


def _unit(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _retarget(name, seconds=4.0):
    clip = demo.source_clip(name)
    times = np.arange(int(seconds * 30)) / 30.0
    root, rots = dm.sample_clip(clip, times)
    poses, trans = dm.retarget_frames(root, rots)
    return joints_np(poses, trans), dm.dm_joint_positions(root, rots) @ dm.W_YUP_TO_ZUP.T, poses


@pytest.mark.parametrize("name", ["dance_a", "dance_b", "kick", "spin"])
def test_limb_directions_match_source(name):
    joints, src, _ = _retarget(name)
    frames = np.arange(0, len(joints), 7)
    for limb, ((a, b), (c, d)) in LIMBS.items():
        cos = np.sum(_unit(joints[frames, b] - joints[frames, a]) * _unit(src[frames, d] - src[frames, c]), -1)
        assert cos.min() > 0.95, (name, limb, cos.min())
    # Pelvis → chest direction too (torso keeps the source's rest alignment; SMPL's spine is nearly straight).
    cos = np.sum(_unit(joints[frames, 9] - joints[frames, 0]) * _unit(src[frames, 1] - src[frames, 0]), -1)
    assert cos.min() > 0.95


def test_bone_lengths_are_smpl():
    joints, _, _ = _retarget("dance_b", seconds=2.0)
    lengths = np.linalg.norm(joints[:, 1:] - joints[:, list(PARENTS[1:])], axis=-1)
    np.testing.assert_allclose(lengths, np.broadcast_to(np.linalg.norm(OFFSETS[1:], axis=-1), lengths.shape),
                               atol=1e-5)


@pytest.mark.parametrize("name", demo.GROUNDED_CLIPS)
def test_grounded_clips_stay_on_the_floor(name):
    poses, trans = demo.clip_motion(demo.source_clip(name), seconds=6.0)
    low = joints_np(poses, trans)[..., 2].min(axis=-1)
    assert np.mean(np.abs(low) < 0.05) >= 0.9, np.mean(np.abs(low) < 0.05)
    assert trans[0, 0] == 0 and trans[0, 1] == 0


def test_rest_frame_hand_computed():
    """An all-identity source frame (DeepMimic rest: upright, arms down, facing +x) in the z-up world."""
    rots = np.zeros((1, len(dm.DM_JOINTS), 4))
    rots[..., 3] = 1.0
    poses, trans = dm.retarget_frames(np.array([[0.0, 0.9, 0.0]]), rots)
    j = joints_np(poses, trans)[0]
    # Root orientation W·Cᵀ: body left (+x) → world +y, body up (+y) → world +z, body forward (+z) → world +x.
    root = Rotation.from_rotvec(poses[0, 0]).as_matrix()
    np.testing.assert_allclose(root, [[0, 0, 1], [1, 0, 0], [0, 1, 0]], atol=1e-6)
    assert j[12, 2] > j[0, 2] + 0.4  # neck well above the pelvis
    assert j[10, 0] > j[7, 0] + 0.08 and j[11, 0] > j[8, 0] + 0.08  # toes point along +x
    assert j[1, 1] > 0 > j[2, 1]  # left hip on +y: facing +x with z up, the left is +y
    for wrist, shoulder in ((20, 16), (21, 17)):  # arms hang: wrist straight below the shoulder
        np.testing.assert_allclose(j[wrist, :2], j[shoulder, :2], atol=1e-6)
        np.testing.assert_allclose(j[shoulder, 2] - j[wrist, 2],
                                   np.linalg.norm(OFFSETS[[18, 20]], axis=-1).sum() if wrist == 20 else
                                   np.linalg.norm(OFFSETS[[19, 21]], axis=-1).sum(), atol=1e-5)
    # Hip midpoint = leg_scale × source root (the source hips sit level with its root).
    np.testing.assert_allclose((j[1] + j[2]) / 2, [0, 0, 0.9 * dm.leg_scale()], atol=1e-6)


def test_knee_angle_becomes_flexion():
    """A source knee angle of -60° (about the lateral axis) bends the SMPL knee by 60° backwards."""
    rots = np.zeros((1, len(dm.DM_JOINTS), 4))
    rots[..., 3] = 1.0
    rots[0, 9] = dm._angle_quats(np.array(-np.pi / 3))  # left knee
    poses, trans = dm.retarget_frames(np.zeros((1, 3)), rots)
    j = joints_np(poses, trans)[0]
    thigh, shin = _unit(j[4] - j[1]), _unit(j[7] - j[4])
    assert np.degrees(np.arccos(thigh @ shin)) == pytest.approx(60.0, abs=1e-3)
    assert shin[0] < -0.5  # shin points backwards (-x, the body faces +x)


def test_close_loop_makes_a_seamless_cycle():
    clip = dm.close_loop(dm.load_clip("walk"))
    T = clip.duration
    root_a, rots_a = dm.sample_clip(clip, np.array([T - 1e-4]))
    root_b, rots_b = dm.sample_clip(clip, np.array([T + 1e-4]))
    np.testing.assert_allclose(root_a, root_b, atol=1e-3)
    dots = np.abs(np.sum(rots_a * rots_b, -1))
    assert dots.min() > 0.9999
    # Looping carries the root forward: ~1 m/s for 4 cycles.
    root, _ = dm.sample_clip(clip, np.array([0.0, 4 * T]))
    assert np.linalg.norm((root[1] - root[0])[[0, 2]]) > 4 * 1.2


def test_load_clip_rejects_bad_files(tmp_path):
    bad = tmp_path / "humanoid3d_bad.txt"
    bad.write_text("not json")
    with pytest.raises(UserError, match="not a DeepMimic motion file"):
        dm.load_clip(bad)
    bad.write_text(json.dumps({"Loop": "wrap", "Frames": [[0.1] * 10, [0.0] * 10]}))
    with pytest.raises(UserError, match="44 finite numbers"):
        dm.load_clip(bad)
    with pytest.raises(UserError, match="no DeepMimic clip"):
        dm.load_clip("moonwalk")
