"""Readers for SMPL-family dance datasets other than AIST++: FineDance ``.npy`` and PopDanceSet ``.pkl``.

FineDance (li-ronghui/FineDance, ``data/finedance/motion/*.npy``): one float array per dance at 30 fps,
``(T, 315)`` = root translation (3) + 52 SMPL-H/SMPL-X joint rotations in 6-D (first two rows of each matrix, the
pytorch3d convention we use too); the preprocessed ``(T, 319)`` variant has 4 foot contacts first. The first 22 joints
are the SMPL body joints in SMPL order; SMPL's two hand joints (22, 23) get no rotation (the SMPL-H finger joints do
not correspond to them, and they are leaves here).

PopDanceSet (Luke-Luo1/POPDG): a pickled dict per dance, ``pos`` (T,3) root translation, ``q`` (T,72) SMPL axis-angle,
optional ``scale`` (translation factor), 30 fps, fitted by HybrIK in camera space (y down); read with the restricted
unpickler. Files with AIST++ keys go to the AIST++ reader instead.

Both come out z-up (the up axis found from the performance, :func:`ground.upright_smpl`), floor at z = 0.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from dance_rl.errors import UserError
from dance_rl.motion.clip import Motion, resample, validate_motion
from dance_rl.motion.ground import ground_motion, upright_smpl
from dance_rl.motion.rotations import matrix_to_axis_angle, rot6d_to_matrix
from dance_rl.motion.safe_pickle import safe_load
from dance_rl.motion.skeleton import NUM_JOINTS

FINEDANCE_FPS = 30.0
POPDANCESET_FPS = 30.0
FINEDANCE_JOINTS = 52
BODY_JOINTS = 22  # SMPL joints 0-21 = the SMPL-H / SMPL-X body


def _finite(a: np.ndarray, source: str, what: str) -> np.ndarray:
    if a.dtype.kind not in "biuf" or not np.all(np.isfinite(a)):
        raise UserError(f"{source}: {what} has NaN/inf or non-numeric values; the file is corrupt")
    return a.astype(np.float64)


def _to_motion(poses: np.ndarray, trans: np.ndarray, fps: float, source: str) -> Motion:
    poses, trans = upright_smpl(poses, trans)
    m = validate_motion(Motion(poses, trans, fps), source)
    return ground_motion(resample(m, 30.0) if fps != 30.0 else m)


def finedance_to_motion(arr: np.ndarray, source: str = "FineDance motion", fps: float = FINEDANCE_FPS) -> Motion:
    """A FineDance array ``(T, 315)`` (or ``(T, 319)`` with contacts first) → z-up SMPL-24 Motion."""
    arr = np.asarray(arr)
    width = 3 + FINEDANCE_JOINTS * 6
    if arr.ndim != 2 or arr.shape[1] not in (width, width + 4):
        raise UserError(f"{source}: expected a FineDance array of shape (T, {width}) or (T, {width + 4}), got "
                        f"{arr.shape}; is this a FineDance motion .npy?")
    arr = _finite(arr[:, arr.shape[1] - width:], source, "the motion")
    t = len(arr)
    rot6d = torch.from_numpy(arr[:, 3:].reshape(t, FINEDANCE_JOINTS, 6)[:, :BODY_JOINTS])
    with torch.no_grad():
        body = matrix_to_axis_angle(rot6d_to_matrix(rot6d)).numpy()
    poses = np.zeros((t, NUM_JOINTS, 3))
    poses[:, :BODY_JOINTS] = body
    return _to_motion(poses, arr[:, :3], fps, source)


def load_finedance(path: str | os.PathLike) -> Motion:
    """Read a FineDance ``.npy`` (plain float array; object arrays are refused, never unpickled)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: motion file not found; check the path")
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: not a readable .npy float array ({str(e).splitlines()[0]})") from None
    return finedance_to_motion(arr, str(path))


def popdanceset_to_motion(data: dict, source: str = "PopDanceSet motion", fps: float = POPDANCESET_FPS) -> Motion:
    """A PopDanceSet dict (``pos`` (T,3), ``q`` (T,72), optional ``scale``) → z-up SMPL-24 Motion."""
    for key in ("pos", "q"):
        if key not in data:
            raise UserError(f"{source}: missing '{key}' (has {', '.join(map(str, data))}); not a PopDanceSet pkl")
    try:
        pos, q = np.asarray(data["pos"]), np.asarray(data["q"])
        scale = np.asarray(data.get("scale", 1.0), dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise UserError(f"{source}: 'pos', 'q' and 'scale' must be numeric arrays") from None
    if q.ndim != 2 or q.shape[1] != NUM_JOINTS * 3 or pos.shape != (len(q), 3):
        raise UserError(f"{source}: expected q (T,72) and pos (T,3), got {q.shape} and {pos.shape}")
    if scale.size != 1 or not scale[0] > 0:
        raise UserError(f"{source}: 'scale' must be one positive number, got {scale.tolist()}")
    pos, q = _finite(pos, source, "pos"), _finite(q, source, "q")
    return _to_motion(q.reshape(-1, NUM_JOINTS, 3), pos * scale[0], fps, source)


def is_popdanceset(data) -> bool:
    return isinstance(data, dict) and "pos" in data and "q" in data


def load_popdanceset(path: str | os.PathLike) -> Motion:
    path = Path(path)
    data = safe_load(path)
    if not is_popdanceset(data):
        raise UserError(f"{path}: expected a dict with 'pos' and 'q'; not a PopDanceSet motion pkl")
    return popdanceset_to_motion(data, str(path))
