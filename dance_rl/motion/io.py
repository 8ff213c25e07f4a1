"""Motion files: the ``.npz`` interchange format, AIST++ and EDGE ``.pkl`` import, EDGE ``.pkl`` export, resampling.

Interchange ``.npz`` (docs/data.md): ``poses`` (T,24,3) axis-angle local rotations, ``trans`` (T,3) root
position (z up, metres), ``fps`` scalar; optional ``joints`` (T,24,3), ``contacts`` (T,4), ``audio`` (path string).
Everything is stored as plain arrays, so loading never needs pickle.

AIST++ ``.pkl`` files are y-up, 60 fps and scaled; :func:`aistpp_to_motion` applies EDGE's preprocessing exactly
(docs/data.md): ``trans /= smpl_scaling``, stride-2 downsampling to 30 fps, and a +90°
rotation about X of the whole body (root orientation pre-multiplied by quaternion (0.7071068, 0.7071068, 0, 0),
root position rotated by the same rotation).
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import torch

from dance_rl.errors import UserError
from dance_rl.motion.clip import YUP_TO_ZUP_MAT, YUP_TO_ZUP_QUAT, Motion, atomic_write, resample, validate_motion  # noqa: F401 (Motion, resample, YUP_TO_ZUP_MAT: re-exported, the file API)
from dance_rl.motion.rotations import axis_angle_to_quat, quat_mul, quat_to_axis_angle
from dance_rl.motion.safe_pickle import safe_load
from dance_rl.motion.skeleton import NUM_JOINTS

AISTPP_FPS = 60.0


def resolve_audio(m: Motion, motion_file: str | os.PathLike) -> Path | None:
    """The motion's audio as an absolute path; a relative ``audio`` is relative to the motion file's folder."""
    if m.audio is None:
        return None
    p = Path(m.audio).expanduser()
    return p if p.is_absolute() else (Path(motion_file).resolve().parent / p)


def save_motion(m: Motion, path: str | os.PathLike) -> Path:
    """Write the interchange ``.npz`` (validated first; written to a temp file, then renamed)."""
    path = Path(path)
    if path.suffix != ".npz":
        raise UserError(f"{path}: motion files must end in .npz")
    m = validate_motion(m, str(path))
    arrays = {"poses": m.poses, "trans": m.trans, "fps": np.float64(m.fps)}
    if m.joints is not None:
        arrays["joints"] = m.joints
    if m.contacts is not None:
        arrays["contacts"] = m.contacts
    if m.audio is not None:
        arrays["audio"] = np.array(m.audio)  # unicode array: loads without pickle
    return atomic_write(path, lambda f: np.savez(f, **arrays))


def load_motion(path: str | os.PathLike) -> Motion:
    """Read and validate an interchange ``.npz``; any problem → UserError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: motion file not found; check the path")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except ValueError as e:
        raise UserError(f"{path}: cannot read .npz ({e}); object arrays are not supported, store plain arrays") \
            from None
    except Exception as e:  # noqa: BLE001 - zip/format errors of any kind mean a bad file
        raise UserError(f"{path}: not a readable .npz file ({type(e).__name__}); re-export it with save_motion") \
            from None
    missing = [k for k in ("poses", "trans", "fps") if k not in data]
    if missing:
        raise UserError(f"{path}: missing {', '.join(missing)} (has {', '.join(sorted(data)) or 'nothing'}); "
                        f"a motion .npz needs poses (T,24,3), trans (T,3) and fps")
    fps = data["fps"]
    if np.size(fps) != 1:
        raise UserError(f"{path}: fps must be a scalar, got shape {np.shape(fps)}")
    audio = data.get("audio")
    if audio is not None:
        if audio.dtype.kind not in "US" or audio.ndim != 0:
            raise UserError(f"{path}: audio must be a path string, got a {audio.dtype} array of shape {audio.shape}")
        audio = str(audio.item() if audio.dtype.kind == "U" else audio.item().decode())
    m = Motion(data["poses"], data["trans"], fps.reshape(()).item(), data.get("joints"), data.get("contacts"), audio)
    return validate_motion(m, str(path))


def _rotate_root_to_zup(poses: np.ndarray, trans: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """EDGE's +90° X rotation of the whole body: root quaternion q ← q_x90 ⊗ q, root position p ← R_x90 · p."""
    poses = poses.astype(np.float64, copy=True)
    q_root = axis_angle_to_quat(torch.from_numpy(poses[:, 0]))
    q_new = quat_mul(torch.from_numpy(YUP_TO_ZUP_QUAT).expand_as(q_root), q_root)
    poses[:, 0] = quat_to_axis_angle(q_new).numpy()
    return poses, trans.astype(np.float64) @ YUP_TO_ZUP_MAT.T


def _get_array(data: dict, key: str, source: str) -> np.ndarray:
    if key not in data:
        raise UserError(f"{source}: missing '{key}' (has {', '.join(map(str, data))}); not an AIST++/EDGE motion pkl")
    try:
        a = np.asarray(data[key], dtype=np.float64)
    except (TypeError, ValueError):
        raise UserError(f"{source}: '{key}' is not a numeric array") from None
    if not np.all(np.isfinite(a)):
        raise UserError(f"{source}: '{key}' has NaN/inf values; the file is corrupt")
    return a


def aistpp_to_motion(data: dict, source: str = "AIST++ motion", fps_in: float = AISTPP_FPS,
                     stride: int = 2, audio: str | None = None) -> Motion:
    """AIST++ dict (``smpl_poses`` (T,72), ``smpl_trans`` (T,3), ``smpl_scaling`` (1,)) → z-up Motion.

    EDGE preprocessing: unscale, keep every ``stride``-th frame (60 → 30 fps), rotate +90° about X.
    """
    poses = _get_array(data, "smpl_poses", source)
    trans = _get_array(data, "smpl_trans", source)
    scaling = _get_array(data, "smpl_scaling", source).reshape(-1)
    if poses.ndim != 2 or poses.shape[1] != NUM_JOINTS * 3 or trans.shape != (poses.shape[0], 3):
        raise UserError(f"{source}: expected smpl_poses (T,72) and smpl_trans (T,3), "
                        f"got {poses.shape} and {trans.shape}")
    if scaling.size != 1 or not scaling[0] > 0:
        raise UserError(f"{source}: smpl_scaling must be one positive number, got {scaling.tolist()}")
    poses = poses.reshape(-1, NUM_JOINTS, 3)[::stride]
    trans = trans[::stride] / scaling[0]
    poses, trans = _rotate_root_to_zup(poses, trans)
    return validate_motion(Motion(poses, trans, fps_in / stride, audio=audio), source)


def edge_to_motion(data: dict, source: str = "EDGE motion", fps: float = 30.0) -> Motion:
    """EDGE output dict (``smpl_poses`` (T,72), ``smpl_trans`` (T,3), optional ``full_pose`` (T,24,3)); already z-up."""
    poses = _get_array(data, "smpl_poses", source)
    trans = _get_array(data, "smpl_trans", source)
    joints = _get_array(data, "full_pose", source) if "full_pose" in data else None
    return validate_motion(Motion(poses, trans, fps, joints=joints), source)


def save_edge_pkl(m: Motion, path: str | os.PathLike) -> Path:
    """EDGE-style ``.pkl``: ``smpl_poses`` (T,72), ``smpl_trans`` (T,3), ``full_pose`` (T,24,3) joints from FK."""
    path = Path(path)
    m = validate_motion(m, str(path))
    data = {
        "smpl_poses": m.poses.reshape(m.num_frames, NUM_JOINTS * 3),
        "smpl_trans": m.trans,
        "full_pose": m.joints if m.joints is not None else m.fk_joints(),
    }
    return atomic_write(path, lambda f: pickle.dump(data, f, protocol=4))


def load_pkl_motion(path: str | os.PathLike) -> Motion:
    """AIST++ (has ``smpl_scaling``), PopDanceSet (``pos`` + ``q``) or EDGE ``.pkl``, read with the restricted
    unpickler."""
    path = Path(path)
    data = safe_load(path)
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a dict of arrays, got {type(data).__name__}; not an AIST++/EDGE motion pkl")
    if "pos" in data and "q" in data:
        from dance_rl.motion.smpl_files import popdanceset_to_motion  # lazy: it imports this module

        return popdanceset_to_motion(data, str(path))
    if "smpl_scaling" in data:
        return aistpp_to_motion(data, str(path))
    return edge_to_motion(data, str(path))


MOTION_SUFFIXES = (".npz", ".pkl", ".bvh", ".npy")


def load_any(path: str | os.PathLike, mapping=None) -> Motion:
    """Load a motion by extension: ``.npz`` (interchange), ``.pkl`` (AIST++, EDGE or PopDanceSet), ``.bvh`` (our
    export, or any skeleton retargeted; ``mapping`` = joint-mapping file or None to detect) or ``.npy`` (FineDance)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return load_motion(path)
    if suffix == ".pkl":
        return load_pkl_motion(path)
    if suffix == ".bvh":
        from dance_rl.motion.bvh_retarget import load_bvh

        return load_bvh(path, mapping=mapping)
    if suffix == ".npy":
        from dance_rl.motion.smpl_files import load_finedance

        return load_finedance(path)
    raise UserError(f"{path}: unknown motion file type {path.suffix!r}; use .npz, .pkl (AIST++/EDGE/PopDanceSet), "
                    f".bvh or .npy (FineDance)")


def save_any(m: Motion, path: str | os.PathLike) -> Path:
    """Write a motion by extension: ``.npz``, ``.pkl`` (EDGE style) or ``.bvh``."""
    suffix = Path(path).suffix.lower()
    if suffix == ".npz":
        return save_motion(m, path)
    if suffix == ".pkl":
        return save_edge_pkl(m, path)
    if suffix == ".bvh":
        from dance_rl.motion.bvh import save_bvh

        return save_bvh(m, path)
    raise UserError(f"{path}: unknown motion file type {Path(path).suffix!r}; use .npz, .pkl or .bvh")


