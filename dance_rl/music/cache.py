"""On-disk cache of music features keyed by what the audio *is* (SHA-256 of its bytes), not where it lives.

Renaming or copying a track reuses its features; editing it or changing the feature code (FEATURE_VERSION) does not.
Entries are plain .npy (no pickle) written to a temp file and renamed, so concurrent Ray workers computing the same
track never see a half-written file.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from dance_rl.errors import UserError
from dance_rl.fileio import atomic_write
from dance_rl.music.features import FEATURE_DIM, FEATURE_VERSION, FPS, extract_features, feature_frames_for_seconds


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's content."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def feature_cache_key(path: str | os.PathLike, start_bpm: float | None = None) -> str:
    """Cache key: content hash + feature version + the one option that changes the result."""
    bpm = "auto" if start_bpm is None else f"{float(start_bpm):g}"
    tag = f"edge35-v{FEATURE_VERSION}-bpm{bpm}"
    return hashlib.sha256(f"{file_sha256(path)}|{tag}".encode()).hexdigest()


def _load_entry(entry: Path) -> np.ndarray | None:
    """A valid cached array, or None when the entry is missing or unreadable (then it is recomputed)."""
    try:
        arr = np.load(entry, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if arr.ndim != 2 or arr.shape[1] != FEATURE_DIM or arr.dtype != np.float32 or not np.all(np.isfinite(arr)):
        return None
    return arr


def _atomic_save(entry: Path, arr: np.ndarray) -> None:
    atomic_write(entry, lambda f: np.save(f, arr, allow_pickle=False))


def cached_features(
    path: str | os.PathLike, cache_dir: str | os.PathLike, start_bpm: float | None = None, min_seconds: float = 5.0
) -> np.ndarray:
    """(T, 35) float32 features of the audio file at ``path``, computed once per content and cached in ``cache_dir``."""
    path, cache_dir = Path(path), Path(cache_dir)
    if not path.is_file():
        raise UserError(f"{path}: audio file not found; check the path")
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"{cache_dir}: cannot create the feature cache folder ({e.strerror}); pick a writable cache_dir") from e
    entry = cache_dir / f"{feature_cache_key(path, start_bpm)}.npy"
    arr = _load_entry(entry)
    if arr is not None:
        if arr.shape[0] < feature_frames_for_seconds(min_seconds):  # same answer as a cache miss would give
            raise UserError(f"{path}: audio is {arr.shape[0] / FPS:.2f} s long, shorter than one {min_seconds:g}-s window; "
                            f"use a longer track")
        return arr
    arr = extract_features(path, start_bpm=start_bpm, min_seconds=min_seconds)
    try:
        _atomic_save(entry, arr)
    except OSError as e:
        raise UserError(f"{cache_dir}: cannot write the feature cache ({e.strerror}); pick a writable cache_dir") from e
    return arr


def folder_windows(folder: str | os.PathLike, cache_dir: str | os.PathLike, frames: int, stride: int,
                   label: str = "rl.music") -> tuple[np.ndarray, list[str]]:
    """Every ``frames``-long feature window, at ``stride`` frames, of every song in an audio folder: (N, frames, 35)
    and keys ``song@start_s``. Why: RL fine-tuning needs music only (no paired dance), so it can train on real songs
    that no mocap exists for; songs shorter than one window are skipped."""
    from dance_rl.music.audio import audio_files

    windows, keys = [], []
    for f in audio_files(folder, label):
        feats = cached_features(f, cache_dir, min_seconds=0.0)
        for start in range(0, len(feats) - frames + 1, stride):
            windows.append(feats[start:start + frames])
            keys.append(f"{f.stem}@{start / FPS:g}s")
    if not windows:
        raise UserError(f"{label} {folder}: every song is shorter than one {frames / FPS:g}-s window; add longer songs")
    return np.stack(windows).astype(np.float32), keys
