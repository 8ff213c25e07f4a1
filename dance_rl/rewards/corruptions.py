"""Controlled corruptions of real motion, for reward and metric validity tests.

Each corruption maps (poses (...,T,24,3) axis-angle, trans (...,T,3), fps, severity) to new (poses, trans) and
leaves its inputs untouched. Severity 0 returns the motion unchanged; larger severity means a worse motion of the
same kind, with everything else fixed (jitter reuses one noise draw scaled by severity), so a reward that detects
the defect should fall monotonically with severity.

| name            | severity unit | what happens                                                               |
|-----------------|---------------|----------------------------------------------------------------------------|
| slide           | m/s           | root drifts horizontally at constant speed: planted feet skate            |
| float           | m             | whole body raised                                                          |
| sink            | m             | whole body lowered into the floor                                          |
| jitter          | rad           | i.i.d. Gaussian rotation noise on every joint, every frame               |
| freeze          | fraction      | the last `severity` fraction of the clip holds one pose (and position)   |
| self_penetrate  | rad           | both upper arms rotated towards the body midline (into the torso)         |
| damp            | fraction      | every joint's frame-to-frame rotation and the root's horizontal velocity  |
|                 |               | scaled by (1 − severity): the same dance, done with less motion           |
"""
from __future__ import annotations

import numpy as np
import torch

from dance_rl.motion.rotations import axis_angle_to_quat, quat_conj, quat_mul, quat_to_axis_angle

L_SHOULDER, R_SHOULDER = 16, 17


def _copy(poses, trans):
    return np.array(poses, dtype=np.float32, copy=True), np.array(trans, dtype=np.float32, copy=True)


def slide(poses, trans, fps: float, severity: float):
    """Drift the root along +x at ``severity`` m/s (feet that were planted now skate at that speed)."""
    poses, trans = _copy(poses, trans)
    t = np.arange(trans.shape[-2], dtype=np.float32) / fps
    trans[..., 0] += severity * t
    return poses, trans


def float_(poses, trans, fps: float, severity: float):
    """Raise the whole body by ``severity`` metres."""
    poses, trans = _copy(poses, trans)
    trans[..., 2] += severity
    return poses, trans


def sink(poses, trans, fps: float, severity: float):
    """Lower the whole body by ``severity`` metres."""
    return float_(poses, trans, fps, -severity)


def jitter(poses, trans, fps: float, severity: float, seed: int = 0):
    """Compose each local rotation with a random rotation whose axis-angle is N(0, severity²) per component."""
    poses, trans = _copy(poses, trans)
    noise = np.random.default_rng(seed).standard_normal(poses.shape).astype(np.float32) * severity
    q = quat_mul(axis_angle_to_quat(torch.from_numpy(poses)), axis_angle_to_quat(torch.from_numpy(noise)))
    return quat_to_axis_angle(q).numpy().astype(np.float32), trans


def freeze(poses, trans, fps: float, severity: float):
    """Hold the pose and root position of one frame for the last ``severity`` fraction of the clip."""
    poses, trans = _copy(poses, trans)
    num_frames = poses.shape[-3]
    start = int(round((1.0 - float(np.clip(severity, 0.0, 1.0))) * (num_frames - 1)))
    if start < num_frames - 1 or severity >= 1.0:
        poses[..., start:, :, :] = poses[..., start:start + 1, :, :]
        trans[..., start:, :] = trans[..., start:start + 1, :]
    return poses, trans


def self_penetrate(poses, trans, fps: float, severity: float):
    """Rotate both upper arms by ``severity`` rad towards the body midline, in the collar (parent) frame.

    The rotation is about the parent's forward axis (+z of the SMPL rest frame), left arm clockwise and right arm
    counter-clockwise seen from the front, and is applied on top of the recorded rotation, so the arm keeps its own
    motion. Dance arms mostly hang or swing below the shoulder, where this drives them into the flanks, belly and
    chest; the swing of the arm relative to the torso is unchanged.
    """
    poses, trans = _copy(poses, trans)
    if severity == 0:
        return poses, trans
    for shoulder, sign in ((L_SHOULDER, -1.0), (R_SHOULDER, 1.0)):
        offset = np.zeros(poses[..., shoulder, :].shape, np.float32)
        offset[..., 2] = sign * severity
        q = quat_mul(axis_angle_to_quat(torch.from_numpy(offset)),
                     axis_angle_to_quat(torch.from_numpy(np.ascontiguousarray(poses[..., shoulder, :]))))
        poses[..., shoulder, :] = quat_to_axis_angle(q).numpy()
    return poses, trans


def damp(poses, trans, fps: float, severity: float):
    """Scale each joint's rotation from one frame to the next by k = 1 − ``severity`` (re-integrated from frame 0, so
    the result stays continuous) and the root's horizontal travel by k; root height is kept. Motion magnitude scales by
    about k (issue 13's base → crouch drop 0.14 → 0.09 is k ≈ 0.64)."""
    poses, trans = _copy(poses, trans)
    k = 1.0 - float(np.clip(severity, 0.0, 1.0))
    q = axis_angle_to_quat(torch.from_numpy(poses.astype(np.float64)))  # (..., T, 24, 4)
    step = quat_to_axis_angle(quat_mul(quat_conj(q[..., :-1, :, :]), q[..., 1:, :, :])) * k
    step_q = axis_angle_to_quat(step)
    out = [q[..., 0, :, :]]
    for i in range(step_q.shape[-3]):
        out.append(quat_mul(out[-1], step_q[..., i, :, :]))
    poses = quat_to_axis_angle(torch.stack(out, dim=-3)).numpy().astype(np.float32)
    trans[..., :2] = trans[..., :1, :2] + k * (trans[..., :2] - trans[..., :1, :2])
    return poses, trans


CORRUPTIONS = {
    "slide": slide,
    "float": float_,
    "sink": sink,
    "jitter": jitter,
    "freeze": freeze,
    "self_penetrate": self_penetrate,
    "damp": damp,
}


def corrupt(poses, trans, fps: float, name: str, severity: float, **kwargs):
    """Apply corruption ``name`` (see CORRUPTIONS) at ``severity``; returns new (poses, trans).
    Extra keyword arguments go to the corruption (e.g. ``seed`` for jitter)."""
    if name not in CORRUPTIONS:
        raise KeyError(f"unknown corruption {name!r}; choose from {sorted(CORRUPTIONS)}")
    return CORRUPTIONS[name](poses, trans, fps, severity, **kwargs)


def corrupt_batch(batch, name: str, severity: float, **kwargs):
    """Corrupt every motion of a MotionBatch; returns a new batch."""
    poses, trans = corrupt(batch.poses, batch.trans, batch.fps, name, severity, **kwargs)
    return batch.with_motion(poses, trans)


def corrupt_motion(motion, name: str, severity: float, **kwargs):
    """Corrupt a `dance_rl.motion.io.Motion`; stored joints/contacts are dropped (they would be stale)."""
    from dataclasses import replace

    poses, trans = corrupt(motion.poses, motion.trans, motion.fps, name, severity, **kwargs)
    return replace(motion, poses=poses, trans=trans, joints=None, contacts=None)
