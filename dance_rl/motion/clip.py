"""The in-memory motion clip (SMPL-24 axis-angle poses, z-up root translation, fps) and what every format needs:
validation, resampling, atomic writes. File formats (dance_rl.motion.io, bvh, smpl_files) build on this module.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from dance_rl import fileio
from dance_rl.errors import UserError
from dance_rl.motion.rotations import axis_angle_to_quat, quat_slerp, quat_to_axis_angle
from dance_rl.motion.skeleton import NUM_JOINTS

# EDGE's y-up → z-up rotation (+90° about X) as a quaternion (w, x, y, z) and as a matrix acting on column vectors.
YUP_TO_ZUP_QUAT = np.array([0.7071068, 0.7071068, 0.0, 0.0], dtype=np.float64)
YUP_TO_ZUP_MAT = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


@dataclass
class Motion:
    """One SMPL-24 motion clip in the z-up world (metres), local axis-angle rotations."""

    poses: np.ndarray  # (T, 24, 3) float32
    trans: np.ndarray  # (T, 3) float32
    fps: float = 30.0
    joints: np.ndarray | None = None  # (T, 24, 3) joint positions
    contacts: np.ndarray | None = None  # (T, 4) foot contacts (joints 7, 8, 10, 11)
    audio: str | None = None  # path of the music this motion dances to

    @property
    def num_frames(self) -> int:
        return int(self.poses.shape[0])

    @property
    def duration(self) -> float:
        return self.num_frames / float(self.fps)

    def fk_joints(self) -> np.ndarray:
        """Joint positions (T,24,3) from the built-in skeleton (ignores a stored ``joints`` array)."""
        from dance_rl.motion.fk import joints_np

        return joints_np(self.poses, self.trans).astype(np.float32)

    def slice(self, start: int, stop: int) -> "Motion":
        cut = lambda a: None if a is None else a[start:stop]  # noqa: E731
        return replace(self, poses=self.poses[start:stop], trans=self.trans[start:stop],
                       joints=cut(self.joints), contacts=cut(self.contacts))


def validate_motion(m: Motion, source: str = "motion") -> Motion:
    """Check shapes, finiteness and fps; return a copy with float32 arrays. Problems → UserError naming ``source``."""
    poses = np.asarray(m.poses)
    if poses.ndim == 2 and poses.shape[1] == NUM_JOINTS * 3:
        poses = poses.reshape(-1, NUM_JOINTS, 3)
    if poses.ndim != 3 or poses.shape[1:] != (NUM_JOINTS, 3):
        raise UserError(f"{source}: poses must have shape (T, 24, 3) or (T, 72), got {poses.shape}")
    t = poses.shape[0]
    if t < 1:
        raise UserError(f"{source}: motion has no frames; export at least one frame")
    trans = np.asarray(m.trans)
    if trans.shape != (t, 3):
        raise UserError(f"{source}: trans must have shape ({t}, 3) to match poses, got {trans.shape}")
    arrays = {"poses": poses, "trans": trans}
    for key, width in (("joints", (NUM_JOINTS, 3)), ("contacts", (4,))):
        a = getattr(m, key)
        if a is not None:
            a = np.asarray(a)
            if a.shape != (t,) + width:
                raise UserError(f"{source}: {key} must have shape {(t,) + width}, got {a.shape}")
            arrays[key] = a
    for key, a in arrays.items():
        numeric = a.dtype.kind in "biuf"
        if not numeric or not np.all(np.isfinite(a)):
            bad = "non-numeric" if not numeric else f"{int(np.sum(~np.isfinite(a)))} NaN/inf"
            raise UserError(f"{source}: {key} has {bad} values; re-export the motion with finite numbers")
    try:
        fps = float(m.fps)
    except (TypeError, ValueError):
        raise UserError(f"{source}: fps must be a number, got {m.fps!r}") from None
    if not (np.isfinite(fps) and fps > 0):
        raise UserError(f"{source}: fps must be > 0, got {m.fps!r}; store the frame rate (e.g. 30)")
    audio = None if m.audio is None else str(m.audio)
    f32 = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in arrays.items()}
    return Motion(f32["poses"], f32["trans"], fps, f32.get("joints"), f32.get("contacts"), audio)


def atomic_write(path: Path, write) -> Path:
    """Call ``write(fileobj)`` on a temp file next to ``path`` and rename it into place (no partial files)."""
    path = Path(path)
    if not path.parent.is_dir():
        raise UserError(f"{path}: folder {path.parent} does not exist; create it first")
    return fileio.atomic_write(path, write)


def resample(m: Motion, fps: float) -> Motion:
    """Resample to ``fps``: rotations by quaternion slerp, translation and joints linearly, contacts nearest-frame.

    Output frame k sits at time k/fps for every k with k/fps <= (T-1)/m.fps, so an integer ratio (60 → 30) picks
    every other frame exactly.
    """
    if not (np.isfinite(fps) and fps > 0):
        raise UserError(f"fps: must be > 0, got {fps!r}")
    t_src = m.num_frames
    if float(fps) == float(m.fps) or t_src == 1:
        return replace(m, fps=float(fps))
    n_out = int(np.floor((t_src - 1) * fps / m.fps + 1e-9)) + 1
    pos = np.arange(n_out, dtype=np.float64) * (m.fps / fps)  # fractional source frame index
    i0 = np.clip(np.floor(pos + 1e-9).astype(np.int64), 0, t_src - 1)
    i1 = np.minimum(i0 + 1, t_src - 1)
    alpha = np.clip(pos - i0, 0.0, 1.0)

    q = axis_angle_to_quat(torch.from_numpy(m.poses.astype(np.float64)))
    a_t = torch.from_numpy(alpha)[:, None, None]
    poses = quat_to_axis_angle(quat_slerp(q[i0], q[i1], a_t)).numpy().astype(np.float32)

    def lerp(a):
        w = alpha.reshape((-1,) + (1,) * (a.ndim - 1))
        return ((1 - w) * a[i0] + w * a[i1]).astype(np.float32)

    contacts = None if m.contacts is None else m.contacts[np.where(alpha < 0.5, i0, i1)]
    joints = None if m.joints is None else lerp(m.joints)
    return Motion(poses, lerp(m.trans), float(fps), joints, contacts, m.audio)
