"""Torch dataset of normalised 5-s (motion, music) windows from a folder of interchange ``.npz`` files with audio.

Per clip the 151-d motion features and the 35-d music features are computed once and cached under
``<cache_dir>/features`` (keys = content hashes of the motion and of the audio, plus the feature versions), so a
second run, a test split or another Ray worker reads them back in milliseconds. Windows are index pairs
(clip, start) into these whole-clip arrays: memory grows with total frames, not with the number of overlapping
windows.

Items are ``(motion (L, 151) normalised to [-1, 1], music (L, 35) raw features, clip id)``, as EDGE feeds them.
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
from torch.utils.data import Dataset

from dance_rl.data.windows import WINDOW_FRAMES, recenter_xy, slice_array, stride_frames, window_starts
from dance_rl.errors import UserError
from dance_rl.fileio import atomic_write
from dance_rl.motion.representation import FEATURE_DIM, Normalizer

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


# ----------------------------------------------------------------------------------------------------- dataset
class DanceDataset(Dataset):
    """Windows (clip, start) over whole-clip feature arrays; motion normalised on access."""

    def __init__(self, motions: list[np.ndarray], musics: list[np.ndarray], clip_ids: list[str],
                 length: int = WINDOW_FRAMES, stride: int = 15, recenter: bool = False,
                 normalizer: Normalizer | None = None):
        self.length, self.stride, self.recenter = int(length), int(stride), bool(recenter)
        self.clip_ids = list(clip_ids)
        n = [min(len(a), len(b)) for a, b in zip(motions, musics)]
        self.motions = [torch.from_numpy(np.ascontiguousarray(a[:k], dtype=np.float32)) for a, k in zip(motions, n)]
        self.musics = [torch.from_numpy(np.ascontiguousarray(b[:k], dtype=np.float32)) for b, k in zip(musics, n)]
        self.index = [(c, int(s)) for c, k in enumerate(n) for s in window_starts(k, self.length, self.stride)]
        if not self.index:
            raise UserError(f"dataset: no clip is at least {self.length} frames ({self.length / FPS:g} s) long; "
                            f"use longer clips or a shorter window")
        self.normalizer = normalizer if normalizer is not None else self.fit_normalizer()

    def raw_windows(self, clip: int) -> np.ndarray:
        """All (N, L, 151) unnormalised windows of one clip, recentred if configured."""
        starts = [s for c, s in self.index if c == clip]
        w = slice_array(self.motions[clip].numpy(), np.asarray(starts, dtype=np.int64), self.length)
        return recenter_xy(w) if self.recenter and len(starts) else w

    def fit_normalizer(self) -> Normalizer:
        """Min-max over every frame of every window (what the model will see)."""
        lo = torch.full((FEATURE_DIM,), float("inf"))
        hi = torch.full((FEATURE_DIM,), float("-inf"))
        for c in range(len(self.motions)):
            w = self.raw_windows(c)
            if len(w):
                flat = torch.from_numpy(w.reshape(-1, w.shape[-1]))
                lo, hi = torch.minimum(lo, flat.min(0).values), torch.maximum(hi, flat.max(0).values)
        return Normalizer(lo, hi)

    def __len__(self) -> int:
        return len(self.index)

    def window_info(self, i: int) -> tuple[str, int]:
        c, s = self.index[i]
        return self.clip_ids[c], s

    def raw_item(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        c, s = self.index[i]
        motion = self.motions[c][s:s + self.length].clone()
        if self.recenter:
            motion[:, 4:6] -= motion[:1, 4:6].clone()
        return motion, self.musics[c][s:s + self.length]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, str]:
        motion, music = self.raw_item(i)
        return self.normalizer.normalize(motion), music, self.clip_ids[self.index[i][0]]


# ------------------------------------------------------------------------------------------------ entry points
def resolve_source(source: str, split: str, cache_dir: str | os.PathLike,
                   max_clips: int = 0, seed: int = 0) -> tuple[Path, bool]:
    """``"demo"``, ``"aistpp:PATH"`` or ``"folder:PATH"`` → (folder of .npz + audio, recentre windows by default?).

    PATH may be a folder already built by ``python -m dance_rl.data aistpp`` (``*.npz`` directly or under
    ``<split>/``) or a raw AIST++ root, which is converted once (both splits) into ``<cache_dir>/aistpp/<hash>``.
    ``folder:PATH``: a corpus built by ``python -m dance_rl.data folder`` or a folder with ``motions/`` + ``music/``
    (:func:`dance_rl.data.folder.resolve_folder_source`); its windows are recentred (your clips start anywhere).
    """
    if source == "demo":
        from dance_rl.data.demo import build_demo_corpus

        return build_demo_corpus(cache_dir, seed=seed, max_clips=max_clips or None), True
    if source.startswith("aistpp:"):
        path = Path(source.split(":", 1)[1]).expanduser()
        if not path.is_dir():
            raise UserError(f"data.source: AIST++ folder {path} not found; pass aistpp:/path/to/aist_plusplus")
        if any(path.glob("*.npz")) or any((path / split).glob("*.npz")):
            return path, False
        from dance_rl.data.aistpp import build_aistpp  # lazy: only AIST++ users need it

        tag = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
        out = Path(cache_dir) / "aistpp" / tag  # both splits, listed in its corpus.json
        if not (out / "corpus.json").is_file():
            out.parent.mkdir(parents=True, exist_ok=True)
            build_aistpp(path, out, split="all")
        return out, False
    if source.startswith("folder:"):
        from dance_rl.data.folder import resolve_folder_source

        return resolve_folder_source(source.split(":", 1)[1], cache_dir), True
    raise UserError(f"data.source: {source!r} is not 'demo', 'aistpp:/path/to/aist_plusplus' or 'folder:/path'")


def make_dataset(source: str = "demo", split: str = "train", cache_dir: str | os.PathLike = ".cache/dance_rl",
                 normalizer: Normalizer | None = None, length: int = WINDOW_FRAMES, stride: int | None = None,
                 recenter: bool | None = None, max_clips: int = 0, seed: int = 0) -> DanceDataset:
    """Windows of ``split`` from ``source``; without a normaliser one is fitted on the source's train windows.

    ``stride`` defaults to EDGE's 0.5 s (train) / 2.5 s (test); ``recenter`` (root xy of each window starts at
    the origin) defaults to True for the demo corpus (looped clips travel) and False for AIST++ (as EDGE).
    """
    if split not in SPLITS:
        raise UserError(f"split: {split!r} is not one of {', '.join(SPLITS)}")
    data_dir, recenter_default = resolve_source(source, split, cache_dir, max_clips, seed)
    recenter = recenter_default if recenter is None else recenter
    stride = stride or stride_frames(DEFAULT_STRIDE_S[split], FPS)
    if normalizer is None and split != "train":
        normalizer = make_dataset(source, "train", cache_dir, None, length, None, recenter, max_clips, seed).normalizer
    refs = list_clips(data_dir, split, max_clips if not source == "demo" else 0)
    feats = [clip_features(r, cache_dir) for r in refs]
    return DanceDataset([f[0] for f in feats], [f[1] for f in feats], [r.clip_id for r in refs],
                        length=length, stride=stride, recenter=recenter, normalizer=normalizer)


def dataset_from_config(data_cfg, split: str = "train", normalizer: Normalizer | None = None) -> DanceDataset:
    """:func:`make_dataset` driven by ``Config.data`` (source, cache_dir, window_frames, strides, max_clips)."""
    stride_s = data_cfg.train_stride_s if split == "train" else data_cfg.test_stride_s
    if normalizer is None and split != "train":
        normalizer = dataset_from_config(data_cfg, "train").normalizer
    return make_dataset(data_cfg.source, split, data_cfg.cache_dir, normalizer, length=data_cfg.window_frames,
                        stride=stride_frames(stride_s, data_cfg.fps), max_clips=data_cfg.max_clips)
