"""BVH export: SMPL-24 hierarchy, channel layout, Euler semantics, and FK from the parsed file reproducing joints."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from dance_rl.errors import UserError
from dance_rl.motion.bvh import hierarchy_order, read_bvh, save_bvh
from dance_rl.motion.bvh_retarget import load_bvh
from dance_rl.motion.io import Motion
from dance_rl.motion.skeleton import JOINT_NAMES, OFFSETS, PARENTS

ZUP_TO_YUP = np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])


def _motion(rng, t=20):
    poses = rng.normal(0, 0.7, (t, 24, 3)).astype(np.float32)
    poses[:, 0] += np.array([np.pi / 2, 0, 0], dtype=np.float32)
    trans = rng.normal(0, 1, (t, 3)).astype(np.float32)
    return Motion(poses, trans, 30.0)


def _independent_fk(b):
    """FK of a parsed BVH with scipy's intrinsic Euler ("ZXY" uppercase = Rz·Rx·Ry), independent of bvh.py."""
    f = b.frames.shape[0]
    world, pos = {}, {}
    col = 0
    for j, name in enumerate(b.names):
        ch = b.channels[j]
        vals = b.frames[:, col:col + len(ch)]
        col += len(ch)
        rot_axes = "".join(c[0] for c in ch if c.endswith("rotation"))
        rot_cols = [k for k, c in enumerate(ch) if c.endswith("rotation")]
        r = Rotation.from_euler(rot_axes.upper(), vals[:, rot_cols], degrees=True).as_matrix()
        local_t = np.tile(b.offsets[j], (f, 1))
        if "Xposition" in ch:
            local_t = local_t + vals[:, [ch.index("Xposition"), ch.index("Yposition"), ch.index("Zposition")]]
        p = b.parents[j]
        if p < 0:
            world[j], pos[j] = r, local_t
        else:
            world[j] = world[p] @ r
            pos[j] = pos[p] + np.einsum("fij,fj->fi", world[p], local_t)
    return np.stack([pos[j] for j in range(len(b.names))], 1)


@pytest.mark.parametrize("units, scale", [("m", 1.0), ("cm", 100.0)])
def test_hierarchy_channels_and_fk_reproduce_joints(tmp_path, rng, units, scale):
    m = _motion(rng)
    b = read_bvh(save_bvh(m, tmp_path / "a.bvh", units=units))
    # Hierarchy: the 24 SMPL joints, parents as in the skeleton, offsets in the chosen units.
    assert sorted(b.names) == sorted(JOINT_NAMES) and len(b.names) == 24
    assert b.names == [JOINT_NAMES[j] for j in hierarchy_order()]
    for k, name in enumerate(b.names):
        j = JOINT_NAMES.index(name)
        assert (b.parents[k] < 0) if PARENTS[j] < 0 else (b.names[b.parents[k]] == JOINT_NAMES[PARENTS[j]])
        np.testing.assert_allclose(b.offsets[k], OFFSETS[j] * scale, atol=1e-5 * scale)
    # Channels: root 6 (positions then ZXY), every other joint 3; 75 columns; leaves have End Sites.
    assert b.channels[0] == ["Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation"]
    assert all(c == ["Zrotation", "Xrotation", "Yrotation"] for c in b.channels[1:])
    assert b.frames.shape == (20, 75) and b.frame_time == pytest.approx(1 / 30, abs=1e-8)
    assert sorted(b.names[k] for k in b.end_sites) == ["head", "lhand", "ltoes", "rhand", "rtoes"]
    # FK from the parsed Euler angles (scipy, not our code) → back to z-up metres: < 1 mm from our skeleton FK.
    joints_yup = _independent_fk(b) / scale
    order = [b.names.index(n) for n in JOINT_NAMES]
    joints_zup = joints_yup[:, order] @ ZUP_TO_YUP  # row vectors: p_zup = C^T p_yup
    assert np.abs(joints_zup - m.fk_joints()).max() < 1e-3


def test_exported_numbers_hand_computed(tmp_path):
    poses = np.zeros((1, 24, 3), dtype=np.float32)
    poses[0, 0] = [np.pi / 2, 0, 0]  # upright in z-up → identity in y-up BVH
    poses[0, 4] = [0, 0, np.pi / 2]  # lknee: 90° about z
    poses[0, 5] = [np.pi / 6, 0, 0]  # rknee: 30° about x
    b = read_bvh(save_bvh(Motion(poses, np.array([[1.0, 2.0, 3.0]], dtype=np.float32), 25.0), tmp_path / "h.bvh"))
    row = dict(zip([f"{n}.{c}" for n, ch in zip(b.names, b.channels) for c in ch], b.frames[0]))
    assert [row[f"root.{c}"] for c in ("Xposition", "Yposition", "Zposition")] == pytest.approx([1.0, 3.0, -2.0])
    assert [row[f"root.{a}rotation"] for a in "ZXY"] == pytest.approx([0, 0, 0], abs=1e-4)
    assert [row[f"lknee.{a}rotation"] for a in "ZXY"] == pytest.approx([90, 0, 0], abs=1e-4)
    assert [row[f"rknee.{a}rotation"] for a in "ZXY"] == pytest.approx([0, 30, 0], abs=1e-4)
    assert b.frame_time == pytest.approx(0.04)


def test_reader_composes_rotations_in_channel_order(tmp_path):
    """Standard BVH semantics: 'Zrotation 90 Xrotation 90' is Rz(90)·Rx(90), which maps child offset +y to +z."""
    text = """HIERARCHY
ROOT a
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT b
  {
    OFFSET 0 1 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 1 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.5
0 0 0 90 90 0 0 0 0
5 0 0 90 0 0 0 0 0
"""
    (tmp_path / "t.bvh").write_text(text)
    pos = read_bvh(tmp_path / "t.bvh").joint_positions()
    np.testing.assert_allclose(pos[0, 1], [0, 0, 1], atol=1e-12)  # Rx first would give (-1, 0, 0)
    np.testing.assert_allclose(pos[1, 1], [5 - 1, 0, 0], atol=1e-12)  # Rz(90) maps +y to -x


def test_load_bvh_round_trip_including_gimbal_lock(tmp_path, rng):
    m = _motion(rng, t=6)
    m.poses[0, 7] = [np.pi / 2, 0, 0]  # x = +90°: gimbal lock in ZXY
    m.poses[1, 8] = [-np.pi / 2, 0, 0.0]
    back = load_bvh(save_bvh(m, tmp_path / "r.bvh", units="cm"))
    assert back.fps == 30.0
    np.testing.assert_allclose(back.trans, m.trans, atol=1e-5)
    np.testing.assert_allclose(back.fk_joints(), m.fk_joints(), atol=1e-4)
    np.testing.assert_allclose(back.joints, m.fk_joints(), atol=1e-4)


def test_bad_bvh_files(tmp_path):
    (tmp_path / "trunc.bvh").write_text("HIERARCHY\nROOT a\n{\n OFFSET 0 0")
    with pytest.raises(UserError, match="trunc.bvh"):
        read_bvh(tmp_path / "trunc.bvh")
    (tmp_path / "short.bvh").write_text(
        "HIERARCHY\nROOT a\n{\nOFFSET 0 0 0\nCHANNELS 3 Zrotation Xrotation Yrotation\n}\n"
        "MOTION\nFrames: 2\nFrame Time: 0.1\n0 0 0\n")
    with pytest.raises(UserError, match="expected 2 frames"):
        read_bvh(tmp_path / "short.bvh")
    (tmp_path / "other.bvh").write_text(
        "HIERARCHY\nROOT hips\n{\nOFFSET 0 0 0\nCHANNELS 3 Zrotation Xrotation Yrotation\n}\n"
        "MOTION\nFrames: 1\nFrame Time: 0.1\n0 0 0\n")
    with pytest.raises(UserError, match="not SMPL-24 and match no mapping preset"):
        load_bvh(tmp_path / "other.bvh")
    with pytest.raises(UserError, match="units"):
        save_bvh(Motion(np.zeros((1, 24, 3)), np.zeros((1, 3))), tmp_path / "u.bvh", units="inch")
