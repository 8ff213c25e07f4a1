"""Beat Align Score, Skeleton2Stage's ``eval_ba.py`` variant of Bailando's BAS (docs/metrics.md).

Motion side: 30-fps joints duplicated to 60 fps (each frame repeated), first 1200 frames, made root-relative to
frame 0; per-frame kinetic velocity = mean over joints of ‖p[t+1]-p[t]‖; Gaussian filter σ = 5 frames; motion beats
= strict local minima (``argrelextrema(np.less)``, which never marks the end points).

Music side: librosa at sr = 60·512 = 30720 Hz, hop 512 -> 60 frames/s; HPSS percussive -> onset_strength
(aggregate=median) -> beat_track(tightness=100).

Score: mean over music beats b of exp(-min_m (m-b)² / (2·3²)). Like Bailando, music beats are truncated to the
motion-velocity length (frames < len(kinetic_vel)); a motion with no velocity minimum scores 0 (the reference
would crash on ``np.min`` of an empty array), a clip with no music beat gives NaN (reference: division by zero).
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.signal import argrelextrema

BAS_FPS = 60
BAS_FRAMES = 1200
SR = BAS_FPS * 512  # 30720 Hz
HOP = 512
SMOOTH_SIGMA = 5
SCORE_SIGMA = 3


def upsample_repeat(joints: np.ndarray, factor: int = 2) -> np.ndarray:
    """Repeat each frame ``factor`` times (30 -> 60 fps as the reference does; no interpolation)."""
    return np.repeat(np.asarray(joints), factor, axis=0)


def kinetic_velocity(joints: np.ndarray) -> np.ndarray:
    """(T,J,3) -> (T-1,) mean over joints of per-frame displacement, Gaussian-smoothed (σ = 5)."""
    j = np.asarray(joints, dtype=np.float64)
    vel = np.linalg.norm(j[1:] - j[:-1], axis=-1).mean(axis=1)
    return gaussian_filter(vel, SMOOTH_SIGMA)


def motion_beats(joints: np.ndarray) -> tuple[np.ndarray, int]:
    """Frame indices of the local minima of the smoothed kinetic velocity, and that velocity's length."""
    vel = kinetic_velocity(joints)
    return argrelextrema(vel, np.less)[0], len(vel)


def beat_align_score(music_beats: np.ndarray, motion_beat_frames: np.ndarray) -> float:
    """Mean over music beats of exp(-d²/(2·3²)), d = distance (frames) to the nearest motion beat."""
    mb = np.asarray(music_beats, dtype=np.float64).reshape(-1)
    db = np.asarray(motion_beat_frames, dtype=np.float64).reshape(-1)
    if len(mb) == 0:
        return float("nan")
    if len(db) == 0:
        return 0.0
    d2 = np.min((db[None, :] - mb[:, None]) ** 2, axis=1)
    return float(np.mean(np.exp(-d2 / 2.0 / SCORE_SIGMA ** 2)))


def motion_bas(joints_30fps: np.ndarray, music_beats_60fps: np.ndarray, fps: float = 30.0) -> float:
    """BAS of one motion given as (T,J,3) joints and its music beats in 60-fps frame indices."""
    j = np.asarray(joints_30fps, dtype=np.float64)
    factor = int(round(BAS_FPS / fps))
    if factor < 1 or abs(factor * fps - BAS_FPS) > 1e-6:
        raise ValueError(f"BAS needs a frame rate that divides 60 fps, got {fps}")
    j = upsample_repeat(j, factor)[:BAS_FRAMES]
    j = j - j[:1, :1, :]  # root-relative to frame 0 (no effect on velocities; kept to mirror the reference)
    beats, length = motion_beats(j)
    mb = np.asarray(music_beats_60fps).reshape(-1)
    return beat_align_score(mb[mb < length], beats)


def music_beats(audio, sr: int = SR) -> np.ndarray:
    """60-fps frame indices of librosa beats (HPSS percussive, median onset strength, tightness 100).

    ``audio`` is a file path (loaded at 30720 Hz with dance_rl.music's validation) or a waveform at ``sr`` = 30720.
    """
    import librosa  # heavy import, only needed here

    if isinstance(audio, np.ndarray):
        if sr != SR:
            raise ValueError(f"waveform must be sampled at {SR} Hz for 60-fps beats, got {sr}")
        y = np.asarray(audio, dtype=np.float32)
    else:
        from dance_rl.music.audio import load_audio

        y = load_audio(audio, sr=SR, min_seconds=0.5)
    _, percussive = librosa.effects.hpss(y)
    env = librosa.onset.onset_strength(y=percussive, sr=SR, hop_length=HOP, aggregate=np.median)
    _, beats = librosa.beat.beat_track(onset_envelope=env, sr=SR, hop_length=HOP, tightness=100)
    return np.asarray(beats, dtype=np.int64)
