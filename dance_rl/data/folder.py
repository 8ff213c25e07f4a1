"""Bring your own dance: a folder of motion files and a folder of music, paired by file stem, → a training corpus.

Motion files may be any format :func:`dance_rl.motion.io.load_any` reads: our ``.npz``, AIST++/EDGE/PopDanceSet
``.pkl``, FineDance ``.npy``, ``.bvh`` of any skeleton (retargeted to SMPL-24; joint names detected or given by a
mapping file). Music: ``.wav``, ``.mp3``, ``.ogg``, ``.opus``, ``.flac``. ``dance01.bvh`` dances to ``dance01.wav``.

Each pair is checked on its own; a broken pair (unreadable file, a stem on one side only, music ending more than
``LENGTH_TOLERANCE_S`` before the dance, shorter than one window) becomes one line of the report and the rest goes
on. The output folder holds one interchange ``.npz`` per good pair (30 fps, z-up, joints and contacts, ``audio`` =
absolute music path), ``corpus.json`` (builder ``folder``; every ``test_every``-th clip by name is a test clip) and
``report.txt``. Motion and music features are computed once into the feature cache the dataset reads, so training
starts without recomputing them. Everything is written to a temp folder and renamed at the end.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch

from dance_rl.data.clips import DEFAULT_STRIDE_S, FPS, ClipRef, clip_features
from dance_rl.data.windows import WINDOW_FRAMES, stride_frames, window_starts
from dance_rl.errors import UserError
from dance_rl.fileio import atomic_dir
from dance_rl.motion.io import MOTION_SUFFIXES, load_any, resample, save_motion
from dance_rl.motion.joint_map import read_mapping_file
from dance_rl.motion.representation import foot_contacts
from dance_rl.music.audio import AUDIO_SUFFIXES

BUILDER = "folder"
BUILDER_VERSION = 1
CORPUS_FILE = "corpus.json"
REPORT_FILE = "report.txt"
LENGTH_TOLERANCE_S = 1.0  # music may end this much before the motion (the dance is cut to the music)


def _by_stem(folder: Path, suffixes: tuple[str, ...], kind: str, problems: list[str]) -> dict[str, Path]:
    """Files of ``folder`` with one of ``suffixes``, by stem; a stem with several such files is a problem."""
    out: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith("."):
            if p.stem in out:
                problems.append(f"{p.stem}: several {kind} files ({out[p.stem].name}, {p.name}); keep one")
            else:
                out[p.stem] = p
    return out


def pair_files(motions: Path, music: Path) -> tuple[list[tuple[str, Path, Path]], list[str]]:
    """(stem, motion file, music file) for every stem found on both sides, and a problem line for every other."""
    for folder, what in ((motions, "--motions"), (music, "--music")):
        if not folder.is_dir():
            raise UserError(f"{what}: folder {folder} not found; pass the folder holding the files")
    problems: list[str] = []
    mot = _by_stem(motions, MOTION_SUFFIXES, "motion", problems)
    mus = _by_stem(music, AUDIO_SUFFIXES, "music", problems)
    if not mot:
        raise UserError(f"{motions}: no motion files ({', '.join(MOTION_SUFFIXES)}); check --motions")
    problems += [f"{s}: motion {mot[s].name} has no music {s}.* in {music}" for s in sorted(set(mot) - set(mus))]
    problems += [f"{s}: music {mus[s].name} has no motion {s}.* in {motions}" for s in sorted(set(mus) - set(mot))]
    bad = {p.split(":", 1)[0] for p in problems}
    return [(s, mot[s], mus[s]) for s in sorted(set(mot) & set(mus)) if s not in bad], problems


def import_pair(stem: str, motion_file: Path, music_file: Path, out: Path, mapping: dict | None,
                cache_dir: str | os.PathLike | None, window: int) -> dict:
    """Convert one pair into ``out/<stem>.npz`` and cache its features; any problem → UserError naming the pair."""
    m = load_any(motion_file, mapping=mapping if motion_file.suffix.lower() == ".bvh" else None)
    if abs(m.fps - FPS) > 1e-6:
        m = resample(m, FPS)
    joints = torch.from_numpy(m.fk_joints())
    m.joints, m.contacts = joints.numpy(), foot_contacts(joints).numpy()
    m.audio = str(music_file.resolve())
    path = save_motion(m, out / f"{stem}.npz")
    motion_feats, music_feats = clip_features(ClipRef(stem, path), cache_dir)
    short = (len(motion_feats) - len(music_feats)) / FPS
    if short > LENGTH_TOLERANCE_S:
        path.unlink()
        raise UserError(f"music {music_file.name} ends {short:.1f} s before the motion ({m.duration:.1f} s); "
                        f"pair a music file at least as long as the dance")
    n = min(len(motion_feats), len(music_feats))
    windows = len(window_starts(n, window, stride_frames(DEFAULT_STRIDE_S["train"], FPS)))
    if windows == 0:
        path.unlink()
        raise UserError(f"{n / FPS:.1f} s long, shorter than one {window / FPS:g}-s window; use a longer dance")
    return dict(id=stem, frames=int(n), seconds=round(n / FPS, 3), windows=windows, motion=str(motion_file.resolve()),
                music=str(music_file.resolve()), bpm=None)


def build_folder(motions: str | os.PathLike, music: str | os.PathLike, out: str | os.PathLike,
                 mapping: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None,
                 test_every: int = 10, window: int = WINDOW_FRAMES, log=print) -> dict:
    """Build the corpus (see module docstring); returns ``corpus.json``'s dict plus ``problems`` (report lines).

    No good pair at all → UserError and nothing written.
    """
    motions, music, out = Path(motions).expanduser(), Path(music).expanduser(), Path(out).expanduser()
    spec = read_mapping_file(mapping) if mapping is not None else None  # a bad mapping fails before any work
    pairs, problems = pair_files(motions, music)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not is_folder_corpus(out))):
        raise UserError(f"{out}: exists and is not a folder corpus; choose a new or empty output folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_dir(out) as tmp:
        entries = []
        for stem, motion_file, music_file in pairs:
            try:
                entries.append(import_pair(stem, motion_file, music_file, tmp, spec, cache_dir, window))
                log(f"{stem}: {entries[-1]['seconds']:.1f} s")
            except UserError as e:
                problems.append(f"{stem}: {e}")
                log(f"{stem}: skipped ({e})")
        if not entries:
            raise UserError(f"{motions}: no usable motion/music pair ({len(problems)} problems, first: "
                            f"{problems[0] if problems else 'none'}); fix the files and run again")
        for i, e in enumerate(entries):
            e["split"] = "test" if test_every and i % test_every == test_every - 1 else "train"
        info = dict(builder=BUILDER, builder_version=BUILDER_VERSION, motions=str(motions.resolve()),
                    music=str(music.resolve()), mapping=None if spec is None else spec["path"], fps=FPS,
                    clips=entries, problems=problems)
        (tmp / CORPUS_FILE).write_text(json.dumps(info, indent=1))
        (tmp / REPORT_FILE).write_text("".join(f"{p}\n" for p in problems) or "all pairs imported\n")
    return info


def is_folder_corpus(path: Path) -> bool:
    try:
        return json.loads((Path(path) / CORPUS_FILE).read_text()).get("builder") == BUILDER
    except (OSError, ValueError, AttributeError):
        return False


def resolve_folder_source(path: str | os.PathLike, cache_dir: str | os.PathLike) -> Path:
    """``data.source: folder:PATH`` → a built corpus folder.

    PATH is either a corpus built by ``python -m dance_rl.data folder`` or a raw folder with ``motions/`` and
    ``music/`` (and optionally ``mapping.yaml``), built once into ``<cache_dir>/folder/<hash>`` and rebuilt when a
    file there changes.
    """
    path = Path(path).expanduser()
    if is_folder_corpus(path):
        return path
    if not ((path / "motions").is_dir() and (path / "music").is_dir()):
        raise UserError(f"data.source: {path} is neither a corpus built by 'python -m dance_rl.data folder' nor a "
                        f"folder with motions/ and music/ subfolders; build it or fix the path")
    mapping = path / "mapping.yaml" if (path / "mapping.yaml").is_file() else None
    files = [p for sub in ("motions", "music") for p in sorted((path / sub).iterdir()) if p.is_file()]
    files += [mapping] if mapping else []
    listing = "|".join(f"{p.resolve()}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)
    tag = hashlib.sha1(f"{BUILDER_VERSION}|{listing}".encode()).hexdigest()[:12]
    out = Path(cache_dir) / "folder" / tag
    if not is_folder_corpus(out):
        build_folder(path / "motions", path / "music", out, mapping=mapping, cache_dir=cache_dir, log=lambda s: None)
    return out
