"""AIST++ reader: the official folder layout, EDGE's crossmodal splits, and 5-s (motion, music) training windows.

Layout (as downloaded from https://google.github.io/aistplusplus_dataset, plus the AIST Dance DB music)::

    <root>/motions/<sequence>.pkl     smpl_poses (T,72), smpl_trans (T,3), smpl_scaling (1,), 60 fps, y-up
    <root>/wavs/<music id>.wav        e.g. mBR0.wav; a sequence "gBR_sBM_cAll_d04_mBR0_ch01" dances to mBR0

Splits are EDGE's copies of the AIST++ crossmodal split, shipped in ``dance_rl/data/splits`` (see its README);
sequences in ``ignore_list.txt`` are dropped from every split, as EDGE does. Motions get EDGE's preprocessing
(:func:`dance_rl.motion.io.aistpp_to_motion`: unscale, 60 → 30 fps by stride 2, y-up → z-up).

Music tempo: the last digit of an AIST music ID encodes its BPM (80 + 10·i, House 110 + 5·i; AIST++ API
``get_tempo``), passed to the beat tracker as ``start_bpm`` like EDGE.

Windows: 150 frames, stride 0.5 s (train) / 2.5 s (test), both counted from the start of the sequence. Music
features are computed once per whole track and sliced with the motion (EDGE computes them per 5-s audio slice;
whole-track features differ slightly at window borders but are 10× cheaper and cacheable by content hash).
"""
from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import numpy as np
import torch

from dance_rl.data.windows import WINDOW_FRAMES, slice_windows
from dance_rl.errors import UserError
from dance_rl.fileio import atomic_dir
from dance_rl.motion.io import Motion, aistpp_to_motion, save_motion
from dance_rl.motion.representation import foot_contacts, motion_to_features
from dance_rl.motion.safe_pickle import safe_load
from dance_rl.music.beats import aist_music_bpm

SPLIT_DIR = Path(__file__).resolve().parent / "splits"
SPLIT_FILES = {"train": "crossmodal_train.txt", "test": "crossmodal_test.txt", "ignore": "ignore_list.txt"}
SPLITS = ("train", "test", "all")
DEFAULT_STRIDE_S = {"train": 0.5, "test": 2.5}
FPS = 30.0
CORPUS_FILE = "corpus.json"
BUILDER = "aistpp"
BUILDER_VERSION = 1


def read_split(name: str) -> list[str]:
    """Sequence names listed in a shipped split file (``train``, ``test`` or ``ignore``), whitespace stripped."""
    if name not in SPLIT_FILES:
        raise UserError(f"split: {name!r} is not one of {', '.join(SPLIT_FILES)}")
    return list(_split_lines(SPLIT_FILES[name]))


@functools.lru_cache(maxsize=None)
def _split_lines(filename: str) -> tuple[str, ...]:
    lines = (SPLIT_DIR / filename).read_text().splitlines()
    return tuple(s.strip() for s in lines if s.strip())


def music_id(sequence: str) -> str:
    """``gBR_sBM_cAll_d04_mBR0_ch01`` → ``mBR0`` (the 5th underscore field)."""
    parts = sequence.split("_")
    if len(parts) != 6 or not parts[4].startswith("m"):
        raise UserError(f"{sequence}: not an AIST++ sequence name (expected e.g. gBR_sBM_cAll_d04_mBR0_ch01)")
    return parts[4]


def _check_root(root: str | os.PathLike) -> Path:
    root = Path(root).expanduser()
    if not (root / "motions").is_dir():
        raise UserError(f"{root}: no 'motions' folder; point --aistpp at the AIST++ root that contains "
                        f"motions/*.pkl and wavs/*.wav")
    if not (root / "wavs").is_dir():
        raise UserError(f"{root}: no 'wavs' folder; put the AIST Dance DB music (mBR0.wav, ...) in {root / 'wavs'}")
    return root


def list_sequences(root: str | os.PathLike, split: str = "train") -> list[str]:
    """Sequences of ``split`` (train / test / all) present under ``root/motions``, minus the ignore list, sorted.

    ``all`` = every ``motions/*.pkl``. A split with no sequence present → UserError (wrong folder or split).
    """
    root = _check_root(root)
    if split not in SPLITS:
        raise UserError(f"split: {split!r} is not one of {', '.join(SPLITS)}")
    present = {p.stem for p in (root / "motions").glob("*.pkl")}
    wanted = present if split == "all" else set(read_split(split))
    names = sorted((wanted & present) - set(read_split("ignore")))
    if not names:
        raise UserError(f"{root / 'motions'}: none of the {len(wanted)} '{split}' sequences is there "
                        f"({len(present)} .pkl files found); check the AIST++ root folder")
    return names


def sequence_split(name: str) -> str | None:
    """``train``/``test`` for sequences in the shipped splits, None otherwise (or ignored)."""
    if name in set(read_split("ignore")):
        return None
    for split in ("train", "test"):
        if name in set(read_split(split)):
            return split
    return None


def load_sequence(root: str | os.PathLike, name: str) -> tuple[Motion, Path]:
    """One AIST++ sequence as a z-up 30-fps Motion (``audio`` = its wav path) and that wav path."""
    root = _check_root(root)
    pkl = root / "motions" / f"{name}.pkl"
    wav = root / "wavs" / f"{music_id(name)}.wav"
    if not pkl.is_file():
        raise UserError(f"{pkl}: motion file not found; is '{name}' an AIST++ sequence in this root?")
    if not wav.is_file():
        raise UserError(f"{wav}: music for {name} not found; copy the AIST Dance DB wavs into {root / 'wavs'}")
    data = safe_load(pkl)
    if not isinstance(data, dict):
        raise UserError(f"{pkl}: expected a dict of arrays, got {type(data).__name__}; not an AIST++ motion file")
    return aistpp_to_motion(data, str(pkl), audio=str(wav.resolve())), wav


def _music_features(wav: Path, name: str, cache_dir: str | os.PathLike | None) -> np.ndarray:
    bpm = aist_music_bpm(name)
    if cache_dir is not None:
        from dance_rl.music.cache import cached_features

        return cached_features(wav, cache_dir, start_bpm=bpm)
    from dance_rl.music.features import extract_features

    return extract_features(wav, start_bpm=bpm)


def aistpp_windows(root: str | os.PathLike, split: str = "train", window: int = WINDOW_FRAMES,
                   stride_s: float | None = None, cache_dir: str | os.PathLike | None = None,
                   max_sequences: int | None = None) -> dict:
    """(motion, music) window pairs of a split: ``motion`` (N,window,151), ``music`` (N,window,35) float32,
    ``names`` (N,) sequence of each window, ``starts`` (N,) start frame. Stride defaults to 0.5 s (train) / 2.5 s."""
    if split not in DEFAULT_STRIDE_S:
        raise UserError(f"split: {split!r} must be 'train' or 'test' for windows")
    stride = int(round((DEFAULT_STRIDE_S[split] if stride_s is None else stride_s) * FPS))
    names = list_sequences(root, split)[: max_sequences or None]
    mot, mus, seq, starts = [], [], [], []
    for name in names:
        motion, wav = load_sequence(root, name)
        feats = motion_to_features(torch.from_numpy(motion.poses), torch.from_numpy(motion.trans)).numpy()
        a, b, s = slice_windows(feats, _music_features(wav, name, cache_dir), window, max(stride, 1))
        mot.append(a)
        mus.append(b)
        seq += [name] * len(s)
        starts.append(s)
    if not seq:
        raise UserError(f"{root}: no '{split}' sequence is at least {window} frames long; nothing to train on")
    return {"motion": np.concatenate(mot).astype(np.float32), "music": np.concatenate(mus).astype(np.float32),
            "names": np.array(seq), "starts": np.concatenate(starts)}


def _is_aistpp_corpus(path: Path) -> bool:
    try:
        return json.loads((path / CORPUS_FILE).read_text()).get("builder") == BUILDER
    except (OSError, ValueError, AttributeError):
        return False


def build_aistpp(root: str | os.PathLike, out_dir: str | os.PathLike, split: str = "all") -> list[Path]:
    """Write one interchange ``.npz`` per sequence of ``split`` (z-up, 30 fps, joints + contacts, ``audio`` = absolute
    wav path) plus ``corpus.json`` (per-clip id, split, frames, music, bpm) into ``out_dir``.

    Everything is built in a temp folder beside ``out_dir`` and renamed at the end, so a failure leaves no partial
    output. An existing ``out_dir`` is replaced only if it is empty or a previous AIST++ build.
    """
    names = list_sequences(root, split)
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not _is_aistpp_corpus(out))):
        raise UserError(f"{out}: exists and is not an AIST++ build; choose a new or empty output folder")
    if not out.parent.is_dir():
        raise UserError(f"{out.parent}: parent folder does not exist; create it first")
    with atomic_dir(out) as tmp:
        entries = []
        for name in names:
            motion, wav = load_sequence(root, name)
            joints = torch.from_numpy(motion.fk_joints())
            motion.joints, motion.contacts = joints.numpy(), foot_contacts(joints).numpy()
            save_motion(motion, tmp / f"{name}.npz")
            entries.append(dict(id=name, split=sequence_split(name) or "unlisted", frames=motion.num_frames,
                                music=music_id(name), bpm=aist_music_bpm(name)))
        info = dict(builder=BUILDER, builder_version=BUILDER_VERSION, root=str(Path(root).resolve()), fps=FPS,
                    split=split, clips=entries)
        (tmp / CORPUS_FILE).write_text(json.dumps(info, indent=1))
    return [out / f"{n}.npz" for n in names]
