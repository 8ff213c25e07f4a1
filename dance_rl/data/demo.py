"""The built-in demo corpus: real DeepMimic mocap retargeted to SMPL-24, augmented, paired with beat-matched music.

Why: users without AIST++ should see the whole pipeline run on real (not synthetic) human motion. Material is small
(≈ 20 s of upright mocap), so every source clip is looped to ``CLIP_SECONDS`` and varied by tempo (±15 %),
left/right mirroring and a random heading. Each variant gets music synthesised on its own kinematic beats, so
beat alignment in the corpus is real by construction.

Clip choice: the upright, dance-like clips (``CLIPS``). Left out: ``run`` (3.5 m/s, 17 m per 5-s window, which
would dominate the root-position range of the normaliser), and the floor/inverted clips backflip, cartwheel, crawl,
roll, getup_* (not upright dance; they would dominate ground-contact statistics). ``kick`` and ``punch`` are not
loops in the source (Loop "none"); they are looped the same way after closing the seam (:func:`close_loop`).

Split: the mirrored, fastest variant of every source clip is ``test``; the others are ``train``.
Layout of a built corpus: ``<id>.npz`` (interchange format, ``audio`` = ``<id>.wav``), ``<id>.wav`` and
``corpus.json`` (builder version, seed, per-clip metadata and split), written to a temp folder and renamed.
"""
from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from dance_rl.data import retarget_deepmimic as dm
from dance_rl.errors import UserError
from dance_rl.fileio import atomic_dir
from dance_rl.motion.fk import joints_np
from dance_rl.motion.skeleton import CONTACT_SPEED_M_PER_FRAME, FOOT_JOINTS, MIRROR_INDEX

BUILDER_VERSION = 1  # bump whenever the output changes: cached corpora with another version are rebuilt
CORPUS_FILE = "corpus.json"
FPS = 30.0
CLIP_SECONDS = 10.0
SAMPLE_RATE = 15360  # EDGE's feature rate: features need no resampling
CLIPS = ("dance_a", "dance_b", "walk", "jump", "spin", "spinkick", "kick", "punch")
# Clips that always keep a foot near the floor (lowest joint within 5 cm of z = 0 on >= 90 % of frames). The others
# are legitimately airborne at times: dance_b hops (its source soles are within 5 cm of the floor on only 73 % of
# frames), jump, spin and spinkick leave the ground.
GROUNDED_CLIPS = ("dance_a", "walk", "kick", "punch")
TEMPO_FACTORS = (0.85, 1.0, 1.15)
TEST_VARIANT = (1.15, True)  # (tempo factor, mirrored)
BPM_RANGE = (40.0, 200.0)


# ----------------------------------------------------------------------------------------------- motion helpers
def ground_offset(joints: np.ndarray) -> float:
    """Height of the floor under a motion: median lowest-joint height over frames where a foot joint is still."""
    low = joints[..., 2].min(axis=-1)
    feet = joints[:, list(FOOT_JOINTS)]
    speed = np.linalg.norm(np.diff(feet, axis=0), axis=-1).min(axis=-1)
    still = np.append(speed, speed[-1:]) < CONTACT_SPEED_M_PER_FRAME
    return float(np.median(low[still]) if still.sum() >= max(3, 0.1 * len(low)) else np.percentile(low, 10))


def mirror_motion(poses: np.ndarray, trans: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reflect through the world x = 0 plane: swap left/right joints; a reflected rotation has axis (x, -y, -z).

    SMPL joint frames share the rest frame's axes and the body's sagittal plane is x = 0 there, so the same rule
    holds for every local rotation including the root (whose +90° X stays upright). Involution.
    """
    flip = np.array([1.0, -1.0, -1.0], dtype=poses.dtype)
    return poses[..., list(MIRROR_INDEX), :] * flip, trans * np.array([-1.0, 1.0, 1.0], dtype=trans.dtype)


def rotate_yaw(poses: np.ndarray, trans: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Turn the whole motion by ``angle`` (rad) about the world z axis through the origin; heights unchanged."""
    rz = Rotation.from_rotvec([0.0, 0.0, angle])
    poses = poses.copy()
    poses[..., 0, :] = (rz * Rotation.from_rotvec(poses[..., 0, :].reshape(-1, 3))).as_rotvec().reshape(
        poses[..., 0, :].shape)
    return poses, rz.apply(trans.reshape(-1, 3)).reshape(trans.shape).astype(trans.dtype)


def source_clip(name: str) -> dm.DeepMimicClip:
    """Load a DeepMimic clip ready for looping (seam closed; one-shot clips are closed the same way)."""
    return dm.close_loop(replace(dm.load_clip(name), loop=True))


def clip_motion(clip: dm.DeepMimicClip, speed: float = 1.0, seconds: float = CLIP_SECONDS,
                fps: float = FPS) -> tuple[np.ndarray, np.ndarray]:
    """Retargeted SMPL (poses (T,24,3), trans (T,3)) at ``fps``; ``speed`` > 1 plays faster (tempo warp).

    The root starts above the origin and the floor (median lowest joint over still-foot frames) is at z = 0.
    """
    if not (0.1 <= speed <= 10.0):
        raise UserError(f"speed: {speed!r} is outside 0.1-10; use a tempo factor such as 0.85 or 1.15")
    times = np.arange(int(round(seconds * fps))) * (speed / fps)
    root, rots = dm.sample_clip(clip, times)
    poses, trans = dm.retarget_frames(root, rots)
    trans[:, :2] -= trans[0, :2]
    trans[:, 2] -= ground_offset(joints_np(poses, trans))
    return poses, trans


# ------------------------------------------------------------------------------------------------------- music
def music_for_motion(joints: np.ndarray, fps: float, seconds: float, sr: int = SAMPLE_RATE,
                     seed: int = 0) -> tuple[np.ndarray, float, np.ndarray]:
    """Music whose beats are the motion's kinematic beats; tempo from the median beat interval.

    Returns (audio (N,), bpm, beat times). Fewer than two beats (a near-static clip) → a 100 BPM grid.
    """
    from dance_rl.music.beats import beats_from_motion
    from dance_rl.music.synth import synthesize_music

    beats = beats_from_motion(joints, fps)
    if len(beats) >= 2:
        bpm = float(np.clip(60.0 / np.median(np.diff(beats)), *BPM_RANGE))
    else:
        beats, bpm = None, 100.0
    audio = synthesize_music(beats, bpm, seconds, sr=sr, seed=seed)
    return audio, bpm, (np.arange(0.0, seconds, 60.0 / bpm) if beats is None else beats)


# ------------------------------------------------------------------------------------------------------ corpus
def _variant_id(name: str, factor: float, mirror: bool) -> str:
    return f"{name}_t{int(round(factor * 100)):03d}_{'m' if mirror else 'o'}"


def _check_max_clips(max_clips: int | None) -> list[str]:
    if max_clips is not None and (not isinstance(max_clips, (int, np.integer)) or max_clips < 0):
        raise UserError(f"max_clips: {max_clips!r} must be a whole number >= 0 (0 = all {len(CLIPS)} source clips)")
    return list(CLIPS[:max_clips] if max_clips else CLIPS)


def write_corpus(out_dir: str | os.PathLike, seed: int = 0, max_clips: int | None = None) -> list[dict]:
    """Build every variant of the first ``max_clips`` source clips (0/None = all) into the existing empty
    ``out_dir``; returns the per-clip metadata written to ``corpus.json``."""
    import torch

    from dance_rl.motion.io import Motion, save_motion
    from dance_rl.motion.representation import foot_contacts
    from dance_rl.music.synth import save_wav

    out = Path(out_dir)
    names = _check_max_clips(max_clips)
    rng = np.random.default_rng(seed)
    entries = []
    for name in names:
        clip = source_clip(name)
        for factor in TEMPO_FACTORS:
            base_poses, base_trans = clip_motion(clip, speed=factor)
            for mirror in (False, True):
                vid = _variant_id(name, factor, mirror)
                yaw = float(rng.uniform(-np.pi, np.pi))
                poses, trans = mirror_motion(base_poses, base_trans) if mirror else (base_poses, base_trans)
                poses, trans = rotate_yaw(poses, trans, yaw)
                joints = joints_np(poses, trans).astype(np.float32)
                contacts = foot_contacts(torch.from_numpy(joints)).numpy()
                audio, bpm, beats = music_for_motion(joints, FPS, CLIP_SECONDS, seed=seed * 1000 + len(entries))
                save_wav(out / f"{vid}.wav", audio, SAMPLE_RATE)
                save_motion(Motion(poses=poses, trans=trans, fps=FPS, joints=joints, contacts=contacts,
                                   audio=f"{vid}.wav"), out / f"{vid}.npz")
                entries.append(dict(
                    id=vid, source=name, tempo_factor=factor, mirrored=mirror, yaw=round(yaw, 6),
                    bpm=round(bpm, 3), num_beats=int(len(beats)), frames=int(len(poses)),
                    split="test" if (factor, mirror) == TEST_VARIANT else "train"))
    info = dict(builder_version=BUILDER_VERSION, seed=int(seed), max_clips=int(max_clips or 0), fps=FPS,
                sample_rate=SAMPLE_RATE, clips=entries)
    (out / CORPUS_FILE).write_text(json.dumps(info, indent=1))
    return entries


def read_corpus_info(path: str | os.PathLike) -> dict | None:
    """``corpus.json`` of a built corpus folder, or None when absent or unreadable."""
    try:
        return json.loads((Path(path) / CORPUS_FILE).read_text())
    except (OSError, ValueError):
        return None


def is_current(path: str | os.PathLike, seed: int = 0, max_clips: int | None = None) -> bool:
    info = read_corpus_info(path)
    return bool(info) and info.get("builder_version") == BUILDER_VERSION and info.get("seed") == int(seed) \
        and info.get("max_clips") == int(max_clips or 0)


def build_corpus_at(out_dir: str | os.PathLike, seed: int = 0, max_clips: int | None = None,
                    force: bool = False) -> Path:
    """Build the corpus at ``out_dir`` atomically (temp folder beside it, then rename); no-op if already current.

    An existing ``out_dir`` is replaced only if it is an (outdated) demo corpus or empty, never a foreign folder.
    """
    out = Path(out_dir)
    _check_max_clips(max_clips)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is a file; choose a folder path for the corpus")
    if out.is_dir() and not force and is_current(out, seed, max_clips):
        return out
    if out.is_dir() and any(out.iterdir()) and read_corpus_info(out) is None:
        raise UserError(f"{out}: folder exists and is not a demo corpus; choose a new folder or empty it")
    if not out.parent.is_dir():
        raise UserError(f"{out.parent}: parent folder does not exist; create it first")
    try:
        with atomic_dir(out) as tmp:
            write_corpus(tmp, seed=seed, max_clips=max_clips)
    except OSError:
        if not is_current(out, seed, max_clips):  # lost a race only if the winner built the same thing
            raise
    return out


def corpus_dir(cache_dir: str | os.PathLike, seed: int = 0, max_clips: int | None = None) -> Path:
    name = "demo" if (seed == 0 and not max_clips) else f"demo-seed{seed}-clips{int(max_clips or 0)}"
    return Path(cache_dir) / name


def build_demo_corpus(cache_dir: str | os.PathLike, seed: int = 0, max_clips: int | None = None) -> Path:
    """The demo corpus folder under ``cache_dir``, built on first use and rebuilt when ``BUILDER_VERSION`` changes."""
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    return build_corpus_at(corpus_dir(cache_dir, seed, max_clips), seed=seed, max_clips=max_clips)
