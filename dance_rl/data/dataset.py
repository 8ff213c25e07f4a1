"""Torch dataset of normalised 5-s (motion, music) windows from a folder of interchange ``.npz`` files with audio.

Per clip the 151-d motion and 35-d music features come from the feature cache (dance_rl.data.clips). Windows are index pairs
(clip, start) into these whole-clip arrays: memory grows with total frames, not with the number of overlapping
windows.

Items are ``(motion (L, 151) normalised to [-1, 1], music (L, 35) raw features, clip id)``, as EDGE feeds them.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from dance_rl.data.clips import DEFAULT_STRIDE_S, FPS, SPLITS, clip_features, list_clips
from dance_rl.data.windows import WINDOW_FRAMES, recenter_xy, slice_array, stride_frames, window_starts
from dance_rl.errors import UserError
from dance_rl.motion.representation import FEATURE_DIM, Normalizer


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
