"""Turn dance_rl joints (z-up, 30 fps) into the AIST++ feature frame and extract both feature sets.

The AIST++ extractors expect y-up joints made root-relative to the first frame (Bailando's
``joint3d - tile(joint3d[:1, :3], (1, 24))``). dance_rl is z-up, so (x, y, z) -> (x, z, -y): the inverse of the
+90° X rotation EDGE bakes into the root. Like Skeleton2Stage / EDGE-style evaluation we feed the first 600 frames
at 30 fps to the extractors with their default time constants (see kinetic.py / manual.py for what that implies).
"""
from __future__ import annotations

import numpy as np

from dance_rl.eval.kinetic import extract_kinetic_features
from dance_rl.eval.manual import extract_manual_features

EVAL_FRAMES = 600  # 20 s at 30 fps


def zup_to_yup(joints: np.ndarray) -> np.ndarray:
    """(..., 3) z-up points -> y-up: (x, y, z) -> (x, z, -y)."""
    j = np.asarray(joints)
    return np.stack([j[..., 0], j[..., 2], -j[..., 1]], axis=-1)


def aist_frame(joints_zup: np.ndarray, max_frames: int | None = EVAL_FRAMES) -> np.ndarray:
    """(T,24,3) z-up joints -> first ``max_frames`` frames, y-up, minus the frame-0 root position."""
    j = np.asarray(joints_zup, dtype=np.float64)
    if max_frames is not None:
        j = j[:max_frames]
    j = zup_to_yup(j)
    return j - j[:1, :1, :]


def motion_features(joints_zup: np.ndarray, max_frames: int | None = EVAL_FRAMES) -> dict[str, np.ndarray]:
    """{'kinetic': (72,), 'manual': (32,)} for one motion given as (T,24,3) z-up joints."""
    j = aist_frame(joints_zup, max_frames)
    return {"kinetic": extract_kinetic_features(j), "manual": extract_manual_features(j)}
