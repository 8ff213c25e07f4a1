"""Fixed-length training windows cut from a whole clip (motion + its 30-fps music features); shared by all sources.

EDGE trains on 5-s windows (150 frames) taken every 0.5 s and tests every 2.5 s; a tail shorter than a window is
dropped. Features are computed on the whole clip first and sliced afterwards, so contact labels and music features
at window edges see their true neighbours. Music is truncated to the motion (AIST++ songs outlast the dance).
"""
from __future__ import annotations

import numpy as np

from dance_rl.errors import UserError
from dance_rl.motion.representation import TRANS_SLICE

WINDOW_FRAMES = 150


def stride_frames(stride_s: float, fps: float = 30.0) -> int:
    """Window stride in frames from seconds (at least one frame)."""
    return max(1, int(round(stride_s * fps)))


def window_starts(n_frames: int, length: int = WINDOW_FRAMES, stride: int = 15) -> np.ndarray:
    """Start frames of every full window: 0, stride, 2·stride, … while start + length <= n_frames."""
    if length < 1 or stride < 1:
        raise UserError(f"windows: length ({length}) and stride ({stride}) must be >= 1 frame")
    if n_frames < length:
        return np.zeros(0, dtype=np.int64)
    return np.arange(0, n_frames - length + 1, stride, dtype=np.int64)


def slice_array(x: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """(T, ...) → (N, length, ...) windows starting at ``starts`` (a copy)."""
    idx = np.asarray(starts, dtype=np.int64)[:, None] + np.arange(length)
    return np.asarray(x)[idx]


def recenter_xy(motion_windows: np.ndarray) -> np.ndarray:
    """Shift each 151-d window so its root starts above the origin (heights untouched).

    Useful for sources that travel (looped walk cycles): without it the root-xy range, and with it the
    normaliser's scale, grows with clip length.
    """
    out = np.array(motion_windows, copy=True)
    xy = slice(TRANS_SLICE.start, TRANS_SLICE.start + 2)
    out[..., xy] -= out[..., :1, xy]
    return out


def slice_windows(motion_feats: np.ndarray, music_feats: np.ndarray, length: int = WINDOW_FRAMES,
                  stride: int = 15, recenter: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut a clip's (T, 151) motion features and (T', 35) music features into aligned windows.

    Both are at 30 fps from frame 0; the common length min(T, T') is used. Returns (motion (N, L, 151),
    music (N, L, 35), starts (N,)); N = 0 when the clip is shorter than one window.
    """
    motion_feats, music_feats = np.asarray(motion_feats), np.asarray(music_feats)
    if motion_feats.ndim != 2 or music_feats.ndim != 2:
        raise UserError(f"windows: expected (T, D) motion and music features, got {motion_feats.shape} "
                        f"and {music_feats.shape}")
    n = min(len(motion_feats), len(music_feats))
    starts = window_starts(n, length, stride)
    motion = slice_array(motion_feats, starts, length)
    if recenter and len(starts):
        motion = recenter_xy(motion)
    return motion, slice_array(music_feats, starts, length), starts


def slice_motion(motion, length: int = WINDOW_FRAMES, stride: int = 15) -> list:
    """Cut a :class:`dance_rl.motion.io.Motion` into window-length Motions (e.g. to export test windows)."""
    return [motion.slice(int(s), int(s) + length) for s in window_starts(motion.num_frames, length, stride)]
