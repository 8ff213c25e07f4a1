"""Clips of a data folder and their whole-clip features, computed once and cached.

Per clip the 151-d motion features and the 35-d music features are computed once and cached under
``<cache_dir>/features`` (keys = content hashes of the motion and of the audio, plus the feature versions), so a
second run, a test split or another Ray worker reads them back in milliseconds. The torch dataset
(dance_rl.data.dataset) and the folder importer (dance_rl.data.folder) both read them from here.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dance_rl.errors import UserError
from dance_rl.fileio import atomic_write

DATASET_VERSION = 1  # part of the feature cache key
FPS = 30.0
SPLITS = ("train", "test")
DEFAULT_STRIDE_S = {"train": 0.5, "test": 2.5}  # EDGE: 0.5-s training stride, 2.5-s test stride


@dataclass
class ClipRef:
    """One motion file of a source; ``start_bpm`` is the beat tracker's tempo prior (None = librosa default)."""
    clip_id: str
    path: Path
    start_bpm: float | None = None


# ---------------------------------------------------------------------------------------------- clip discovery
def list_clips(data_dir: str | os.PathLike, split: str, max_clips: int = 0) -> list[ClipRef]:
    """Clips of ``split`` in a folder: a demo corpus (``corpus.json``), ``<dir>/<split>/*.npz`` or ``<dir>/*.npz``."""
    from dance_rl.music.beats import aist_music_bpm

    root = Path(data_dir)
    if split not in SPLITS:
        raise UserError(f"split: {split!r} is not one of {', '.join(SPLITS)}")
    if not root.is_dir():
        raise UserError(f"{root}: data folder not found; build it first (python -m dance_rl.data --help)")
    corpus = root / "corpus.json"
    if corpus.is_file():
        try:
            entries = json.loads(corpus.read_text())["clips"]
            refs = [ClipRef(e["id"], root / f"{e['id']}.npz", e.get("bpm")) for e in entries if e["split"] == split]
        except (ValueError, KeyError, TypeError) as e:
            raise UserError(f"{corpus}: unreadable corpus index ({e}); rebuild it (python -m dance_rl.data)") from e
    else:
        folder = root / split if (root / split).is_dir() else root
        refs = [ClipRef(p.stem, p, aist_music_bpm(p.stem)) for p in sorted(folder.glob("*.npz"))]
    if max_clips:
        refs = refs[:max_clips]
    if not refs:
        raise UserError(f"{root}: no {split} motion files (.npz) found; check the folder and the split")
    return refs


# -------------------------------------------------------------------------------------------- feature caching
@functools.lru_cache(maxsize=4096)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    """Content hash, memoised per (path, size, mtime): AIST++ reuses one song for ~20 sequences."""
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _digest(path: Path, extra: str) -> str:
    st = path.stat()
    return hashlib.sha1(f"{_file_digest(str(path.resolve()), st.st_size, st.st_mtime_ns)}/{extra}".encode()).hexdigest()


def _audio_path(motion_path: Path, audio: str | None) -> Path:
    if not audio:
        raise UserError(f"{motion_path}: has no audio; store the music path in the motion's 'audio' field")
    path = Path(audio)
    path = path if path.is_absolute() else motion_path.parent / path
    if not path.is_file():
        raise UserError(f"{motion_path}: its audio {path} does not exist; put the music file there")
    return path


def _cached(cache: Path | None, compute) -> np.ndarray:
    """float32 array from ``cache`` (.npy) or ``compute()``, stored atomically; a damaged entry is recomputed."""
    if cache is not None and cache.is_file():
        try:
            return np.load(cache, allow_pickle=False)
        except (OSError, ValueError):
            pass
    value = np.ascontiguousarray(compute(), dtype=np.float32)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(cache, lambda f: np.save(f, value, allow_pickle=False))
    return value


def clip_features(ref: ClipRef, cache_dir: str | os.PathLike | None) -> tuple[np.ndarray, np.ndarray]:
    """Whole-clip (motion (T, 151), music (T', 35)) float32 features at 30 fps.

    Cached separately under ``<cache_dir>/features``: motion by the .npz content, music by the audio content and
    tempo prior (shared by every motion dancing to the same song).
    """
    from dance_rl.motion.io import load_motion, resample
    from dance_rl.motion.representation import motion_to_features
    from dance_rl.music.features import FEATURE_VERSION, extract_features

    motion = load_motion(ref.path)
    audio = _audio_path(ref.path, motion.audio)
    folder = Path(cache_dir) / "features" if cache_dir is not None else None

    def motion_feats():
        m = resample(motion, FPS) if abs(motion.fps - FPS) > 1e-6 else motion
        return motion_to_features(torch.from_numpy(m.poses), torch.from_numpy(m.trans)).numpy()

    def music_feats():
        return extract_features(audio, start_bpm=ref.start_bpm, min_seconds=0.0)

    motion_key = _digest(ref.path, f"motion/{DATASET_VERSION}")
    music_key = _digest(audio, f"music/{DATASET_VERSION}/{FEATURE_VERSION}/{ref.start_bpm}")
    return (_cached(folder / f"motion-{motion_key}.npy" if folder else None, motion_feats),
            _cached(folder / f"music-{music_key}.npy" if folder else None, music_feats))
