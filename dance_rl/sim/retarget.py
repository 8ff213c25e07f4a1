"""SMPL motion (axis-angle poses, z-up trans) ↔ MuJoCo qpos of the humanoid, and finite-difference qvel/qacc.

The humanoid's body frames are the SMPL joint frames (see humanoid.py), so retargeting is exact: the root quaternion
is the root axis-angle, and each joint's local rotation is split into intrinsic Euler angles in the order in which
MuJoCo composes that joint's hinges (``humanoid.AXIS_ORDER``). Angles are unwrapped over time so that finite
differences stay small through ±π (the decomposition is exact everywhere; only at the middle angle ±90°, the gimbal
lock the axis orders keep out of the way, does the split between first and third angle become ill-conditioned).
"""
from __future__ import annotations

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation

from dance_rl.motion.skeleton import NUM_JOINTS
from dance_rl.sim.humanoid import AXIS_ORDER, HINGE_DOF, HINGE_QPOS

NQ, NV = 7 + 3 * (NUM_JOINTS - 1), 6 + 3 * (NUM_JOINTS - 1)


# Per joint 1..23: the axis indices (i, j, k) of its hinge order and the permutation parity (+1 for xyz, yzx, zxy).
_AXES = np.array([["xyz".index(c) for c in AXIS_ORDER[j]] for j in range(1, NUM_JOINTS)])
_PARITY = np.array([1.0 if "".join(AXIS_ORDER[j]) in ("xyz", "yzx", "zxy") else -1.0 for j in range(1, NUM_JOINTS)])
_J = np.arange(NUM_JOINTS - 1)


def _elementary(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotations (...,23,3,3) about coordinate axis ``axis[j]`` (23,) by ``angle`` (...,23)."""
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros(angle.shape + (3, 3))
    i, j = (axis + 1) % 3, (axis + 2) % 3  # the plane the rotation acts in, right-handed
    out[..., _J, axis, axis] = 1.0
    out[..., _J, i, i] = c
    out[..., _J, j, j] = c
    out[..., _J, i, j] = -s
    out[..., _J, j, i] = s
    return out


def euler_to_matrix(e: np.ndarray) -> np.ndarray:
    """Hinge angles (...,23,3) of joints 1..23 in their axis orders → local rotation matrices (...,23,3,3)."""
    e = np.asarray(e, dtype=np.float64)
    r = [_elementary(_AXES[:, n], e[..., n]) for n in range(3)]
    return r[0] @ r[1] @ r[2]


def matrix_to_euler(m: np.ndarray) -> np.ndarray:
    """Local rotation matrices (...,23,3,3) of joints 1..23 → hinge angles (...,23,3), middle angle in [-π/2, π/2].

    Intrinsic Tait-Bryan order (i, j, k) with parity s: b = asin(s·R_ik), a = atan2(−s·R_jk, R_kk),
    c = atan2(−s·R_ij, R_ii); at the gimbal lock (cos b = 0) c = 0 and a = atan2(s·R_kj, R_jj).
    """
    m = np.asarray(m, dtype=np.float64)
    i, j, k, s = _AXES[:, 0], _AXES[:, 1], _AXES[:, 2], _PARITY
    flat = m.reshape(m.shape[:-3] + (-1,))
    r = lambda u, v: np.take(flat, 9 * _J + 3 * u + v, axis=-1)  # entry (u[n], v[n]) of joint n's matrix
    b = np.arcsin(np.clip(s * r(i, k), -1.0, 1.0))
    rjk, rkk = r(j, k), r(k, k)
    a, c = np.arctan2(-s * rjk, rkk), np.arctan2(-s * r(i, j), r(i, i))
    lock = np.hypot(rjk, rkk) < 1e-9
    if lock.any():
        a = np.where(lock, np.arctan2(s * r(k, j), r(j, j)), a)
        c = np.where(lock, 0.0, c)
    return np.stack([a, b, c], axis=-1)


def _rotvec(aa: np.ndarray) -> Rotation:
    return Rotation.from_rotvec(aa.reshape(-1, 3))


def unwrap_time(angles: np.ndarray) -> np.ndarray:
    """Remove 2π jumps between consecutive frames (axis -2), like ``np.unwrap`` but in a few vector ops; only the
    few (clip, angle) series that do jump are touched."""
    step = np.round(np.diff(angles, axis=-2) * (0.5 / np.pi))
    if not step.any():  # the common case: no angle crossed ±π
        return angles
    T, n = angles.shape[-2:]
    step = step.reshape(-1, T - 1, n)
    clip, col = np.nonzero(step.any(axis=1))
    out = angles.copy()
    out.reshape(-1, T, n)[clip, 1:, col] -= 2 * np.pi * np.cumsum(step[clip, :, col], axis=-1)
    return out


def motion_to_qpos(poses, trans) -> np.ndarray:
    """poses (...,T,24,3) axis-angle, trans (...,T,3) z-up metres → qpos (...,T,76) float64."""
    poses = np.asarray(poses, dtype=np.float64)
    trans = np.asarray(trans, dtype=np.float64)
    if poses.shape[-2:] != (NUM_JOINTS, 3) or trans.shape[-1] != 3 or trans.shape[:-1] != poses.shape[:-2]:
        raise ValueError(f"motion_to_qpos: poses {poses.shape} / trans {trans.shape} must be (...,T,24,3)/(...,T,3)")
    quat = _rotvec(poses[..., 0, :]).as_quat()[..., [3, 0, 1, 2]].reshape(poses.shape[:-2] + (4,))  # w,x,y,z
    # q and -q are the same rotation; keep the sign continuous over time for smooth interpolation
    flip = np.cumprod(np.where(np.sum(quat[..., 1:, :] * quat[..., :-1, :], -1) < 0, -1.0, 1.0), axis=-1)
    quat[..., 1:, :] *= flip[..., None]
    euler = matrix_to_euler(_rotvec(poses[..., 1:, :]).as_matrix().reshape(poses[..., 1:, :].shape + (3,)))
    euler = unwrap_time(euler.reshape(euler.shape[:-2] + (-1,)))
    qpos = np.zeros(trans.shape[:-1] + (NQ,))
    qpos[..., 0:3] = trans
    qpos[..., 3:7] = quat
    qpos[..., HINGE_QPOS] = euler
    return qpos


def local_rotations(qpos: np.ndarray) -> np.ndarray:
    """qpos (...,76) → local rotation matrices (...,24,3,3) of the SMPL joints (root = world orientation)."""
    qpos = np.asarray(qpos, dtype=np.float64)
    root = Rotation.from_quat(qpos[..., [4, 5, 6, 3]].reshape(-1, 4)).as_matrix().reshape(qpos.shape[:-1] + (3, 3))
    rest = euler_to_matrix(qpos[..., HINGE_QPOS].reshape(qpos.shape[:-1] + (NUM_JOINTS - 1, 3)))
    return np.concatenate([root[..., None, :, :], rest], axis=-3)


def qpos_to_motion(qpos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """qpos (...,76) → (poses (...,24,3) axis-angle float32, trans (...,3) float32)."""
    qpos = np.asarray(qpos, dtype=np.float64)
    rot = local_rotations(qpos)
    poses = Rotation.from_matrix(rot.reshape(-1, 3, 3)).as_rotvec().reshape(rot.shape[:-1])
    return poses.astype(np.float32), qpos[..., 0:3].astype(np.float32)


def hinge_angles(qpos: np.ndarray) -> np.ndarray:
    """(...,76) → (...,69) hinge angles in SMPL order."""
    return np.asarray(qpos)[..., HINGE_QPOS]


def hinge_velocities(qvel: np.ndarray) -> np.ndarray:
    """(...,75) → (...,69) hinge velocities in SMPL order."""
    return np.asarray(qvel)[..., HINGE_DOF]


def qpos_velocity(model: mujoco.MjModel, qpos: np.ndarray, fps: float) -> np.ndarray:
    """Central-difference qvel (...,T, nv) of qpos trajectories (...,T, nq); one-sided at the ends.

    Same convention as ``mj_differentiatePos`` (world linear velocity, root-frame angular velocity = rotation vector
    of q_prev⁻¹·q_next over the time span; hinges are plain differences), vectorised over clips and frames.
    """
    qpos = np.asarray(qpos, dtype=np.float64)
    T = qpos.shape[-2]
    qvel = np.zeros(qpos.shape[:-1] + (model.nv,))
    if T < 2:
        return qvel
    prev = np.r_[0, np.arange(T - 1)]
    nxt = np.r_[np.arange(1, T), T - 1]
    span = ((nxt - prev) / fps)[:, None]
    # np.gradient is exactly these central / one-sided differences for the vector-space coordinates
    qvel[..., 0:3] = np.gradient(qpos[..., 0:3], 1.0 / fps, axis=-2)
    qvel[..., HINGE_DOF] = np.gradient(qpos[..., HINGE_QPOS], 1.0 / fps, axis=-2)
    quat = qpos[..., 3:7]
    qvel[..., 3:6] = relative_rotvec(quat[..., prev, :], quat[..., nxt, :]) / span
    return qvel


def relative_rotvec(q0: np.ndarray, q1: np.ndarray) -> np.ndarray:
    """Rotation vector (...,3) of q0⁻¹·q1 for quaternions (...,4) in MuJoCo's (w, x, y, z) order, angle in [0, π].

    Plain vector arithmetic: scipy's Rotation objects cost more in construction than in maths for a few thousand
    frames, and this runs on every frame the physics rewards score."""
    q0 = q0 / np.sqrt((q0 ** 2).sum(-1, keepdims=True))
    q1 = q1 / np.sqrt((q1 ** 2).sum(-1, keepdims=True))
    (w0, x0, y0, z0), (w1, x1, y1, z1) = np.moveaxis(q0, -1, 0), np.moveaxis(q1, -1, 0)
    w = w0 * w1 + x0 * x1 + y0 * y1 + z0 * z1  # conj(q0)·q1 = (w0·w1 + v0·v1, w0·v1 − w1·v0 − v0×v1)
    v = np.stack([w0 * x1 - w1 * x0 - (y0 * z1 - z0 * y1),
                  w0 * y1 - w1 * y0 - (z0 * x1 - x0 * z1),
                  w0 * z1 - w1 * z0 - (x0 * y1 - y0 * x1)], axis=-1)
    sign = np.where(w < 0, -1.0, 1.0)  # q and −q are one rotation; take the one with the angle ≤ π
    w, v = w * sign, v * sign[..., None]
    n = np.sqrt((v ** 2).sum(-1))
    small = n < 1e-12
    scale = np.where(small, 2.0 / np.where(small, w, 1.0), 2.0 * np.arctan2(n, w) / np.where(small, 1.0, n))
    return v * scale[..., None]


def velocity_acceleration(model: mujoco.MjModel, qpos: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """(qvel, qacc), both (...,T, nv), by central differences of qpos then qvel (qvel lives in a vector space)."""
    qvel = qpos_velocity(model, qpos, fps)
    if qvel.shape[-2] < 2:
        return qvel, np.zeros_like(qvel)
    qacc = np.gradient(qvel, 1.0 / fps, axis=-2)
    return qvel, qacc
