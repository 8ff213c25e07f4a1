"""Putting imported motion into our world: which way is up, and where the floor is.

Shared by every importer of foreign data (BVH retargeting, FineDance, PopDanceSet), whose files disagree on the up
axis (y, z, even -y for camera-space fits) and on the floor height.
"""
from __future__ import annotations

import numpy as np

from dance_rl.motion.clip import Motion
from dance_rl.motion.fk import joints_np
from dance_rl.motion.skeleton import CONTACT_SPEED_M_PER_FRAME, FOOT_JOINTS


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotations (...,3,3) taking unit vectors a (...,3) onto unit vectors b (...,3); 180° about a
    perpendicular axis when they are opposite."""
    a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
    v, c = np.cross(a, b), np.sum(a * b, -1)
    k = np.zeros(a.shape + (3,))
    k[..., 0, 1], k[..., 0, 2], k[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    k = k - np.swapaxes(k, -1, -2)
    opposite = c < -1.0 + 1e-9
    r = np.eye(3) + k + (k @ k) / np.where(opposite, 1.0, 1.0 + c)[..., None, None]
    if np.any(opposite):
        ao = a[opposite]
        axis = np.cross(ao, np.where(np.abs(ao[:, :1]) < 0.9, [[1.0, 0, 0]], [[0, 1.0, 0]]))
        axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
        r[opposite] = 2.0 * axis[:, :, None] * axis[:, None, :] - np.eye(3)
    return r


def up_to_z(up: np.ndarray) -> np.ndarray:
    """Rotation (3,3) taking the file's up direction ``up`` onto +z (y-up → +90° about x, as EDGE's AIST++ rule)."""
    up = np.asarray(up, np.float64)
    return rotation_between(up / np.linalg.norm(up), np.array([0.0, 0.0, 1.0]))


def dominant_axis(v: np.ndarray) -> np.ndarray:
    """The signed coordinate axis closest to ``v`` (e.g. (0.1, 0.9, -0.2) → (0, 1, 0))."""
    k = int(np.argmax(np.abs(v)))
    out = np.zeros(3)
    out[k] = np.sign(v[k]) or 1.0
    return out


def floor_height(joints: np.ndarray, fps: float = 30.0) -> float:
    """Height of the floor under a z-up motion (T,24,3): the median lowest-joint height over frames where a foot is
    planted; the 5th percentile of the lowest joint when too few frames are planted (a clip of jumps)."""
    low = joints[..., 2].min(axis=-1)
    if len(joints) < 2:
        return float(low[0])
    feet = joints[:, list(FOOT_JOINTS)]
    speed = np.linalg.norm(np.diff(feet, axis=0), axis=-1).min(axis=-1) * (fps / 30.0)
    still = np.append(speed, speed[-1:]) < CONTACT_SPEED_M_PER_FRAME
    return float(np.median(low[still]) if still.sum() >= max(3, 0.1 * len(low)) else np.percentile(low, 5))


def ground_motion(m: Motion) -> Motion:
    """Floor at z = 0 (:func:`floor_height`) and the first frame's root above the origin."""
    trans = m.trans.astype(np.float64).copy()
    trans[:, :2] -= trans[0, :2]
    trans[:, 2] -= floor_height(joints_np(m.poses, trans), m.fps)
    return Motion(m.poses, trans.astype(np.float32), m.fps, audio=m.audio)


def upright_smpl(poses: np.ndarray, trans: np.ndarray, up: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """SMPL poses (T,24,3) + root positions (T,3) in a file's frame → z-up: the whole body turned so that ``up``
    (default: the performance's mean pelvis → neck direction snapped to an axis, which finds y-up, z-up and the
    y-down of camera-space fits) points along +z."""
    from scipy.spatial.transform import Rotation

    if up is None:
        joints = joints_np(poses, trans)
        up = dominant_axis(np.mean(joints[:, 12] - joints[:, 0], axis=0))
    u = up_to_z(up)
    root = Rotation.from_matrix(u) * Rotation.from_rotvec(np.asarray(poses[:, 0], np.float64))
    poses = np.array(poses, dtype=np.float64)
    poses[:, 0] = root.as_rotvec()
    return poses, np.asarray(trans, np.float64) @ u.T
