"""EDGE's 35-d baseline music features at exactly 30 FPS (one feature row per motion frame).

At SR = 30 * 512 = 15360 Hz with hop 512 every librosa frame is 1/30 s, so feature frame t is centred on motion
frame t. librosa (center=True) returns 1 + N//512 frames; we keep the first N//512 so that a 5-s clip gives exactly
150 rows, as EDGE does by truncating to 150.

Channel order (EDGE's baseline features, docs/data.md):
  0 onset envelope | 1-20 MFCC | 21-32 chroma_cens | 33 onset-peak one-hot | 34 beat one-hot
"""
from __future__ import annotations

import math
import os

import numpy as np

from dance_rl.errors import UserError
from dance_rl.music.audio import EDGE_SR, load_audio, validate_audio

FPS = 30
HOP_LENGTH = 512
FEATURE_DIM = 35
FEATURE_VERSION = 1  # bump when the computation changes: it is part of the cache key
TIGHTNESS = 100.0
DEFAULT_START_BPM = 120.0  # librosa's default prior when the music's tempo is unknown

ONSET_ENV = slice(0, 1)
MFCC = slice(1, 21)
CHROMA = slice(21, 33)
SPECTRAL = slice(MFCC.start, CHROMA.stop)  # timbre and key: what model.music_cmn and rl.music_shift act on
PEAK = 33
BEAT = 34

assert EDGE_SR == FPS * HOP_LENGTH


def feature_frames_for_seconds(seconds: float, fps: int = FPS) -> int:
    """Number of feature rows for ``seconds`` of audio: floor(seconds * fps) (5 s -> 150)."""
    if seconds < 0:
        raise ValueError(f"seconds must be >= 0, got {seconds}")
    return int(math.floor(seconds * fps + 1e-6))


def _as_edge_audio(audio_or_path, sr: int, min_seconds: float) -> np.ndarray:
    """A mono float32 waveform at EDGE_SR from a path or an array sampled at ``sr``."""
    if isinstance(audio_or_path, (str, os.PathLike)):
        return load_audio(audio_or_path, sr=EDGE_SR, mono=True, min_seconds=min_seconds)
    audio = np.asarray(audio_or_path, dtype=np.float32)
    if audio.ndim == 2:  # (C, N) -> mono
        audio = audio.mean(axis=0)
    audio = validate_audio(audio, sr, "audio array", min_seconds)
    if sr != EDGE_SR:
        import librosa

        audio = librosa.resample(audio, orig_sr=sr, target_sr=EDGE_SR).astype(np.float32)
    return audio


def one_hot(indices: np.ndarray, length: int) -> np.ndarray:
    """(length,) float32 with ones at ``indices`` (indices >= length are dropped)."""
    out = np.zeros(length, dtype=np.float32)
    idx = np.asarray(indices, dtype=np.int64)
    out[idx[(idx >= 0) & (idx < length)]] = 1.0
    return out


def extract_features(
    audio_or_path,
    sr: int = EDGE_SR,
    start_bpm: float | None = None,
    min_seconds: float = 5.0,
) -> np.ndarray:
    """(T, 35) float32 EDGE baseline features at 30 FPS, T = floor(duration * 30).

    ``audio_or_path``: a file path (decoded at 15360 Hz) or a waveform (N,)/(C, N) sampled at ``sr`` (resampled).
    ``start_bpm``: tempo prior for the beat tracker (EDGE takes it from the AIST++ music ID, see
    :func:`dance_rl.music.beats.aist_music_bpm`); None -> librosa's default 120 BPM.
    """
    import librosa

    y = _as_edge_audio(audio_or_path, sr, min_seconds)
    n_frames = len(y) // HOP_LENGTH
    if n_frames < 1:
        raise UserError(f"audio: {len(y)} samples is shorter than one feature frame ({HOP_LENGTH} samples at {EDGE_SR} Hz)")
    bpm = DEFAULT_START_BPM if start_bpm is None else float(start_bpm)
    if not (bpm > 0 and math.isfinite(bpm)):
        raise UserError(f"start_bpm: {start_bpm!r} is not a positive tempo; pass BPM such as 120 or None")

    env = librosa.onset.onset_strength(y=y, sr=EDGE_SR, hop_length=HOP_LENGTH)
    mfcc = librosa.feature.mfcc(y=y, sr=EDGE_SR, n_mfcc=20, hop_length=HOP_LENGTH).T
    chroma = librosa.feature.chroma_cens(y=y, sr=EDGE_SR, hop_length=HOP_LENGTH, n_chroma=12).T
    peaks = librosa.onset.onset_detect(onset_envelope=env, sr=EDGE_SR, hop_length=HOP_LENGTH)
    _, beats = librosa.beat.beat_track(
        onset_envelope=env, sr=EDGE_SR, hop_length=HOP_LENGTH, start_bpm=bpm, tightness=TIGHTNESS
    )
    feats = np.concatenate(
        [
            env[:n_frames, None],
            mfcc[:n_frames],
            chroma[:n_frames],
            one_hot(peaks, n_frames)[:, None],
            one_hot(beats, n_frames)[:, None],
        ],
        axis=1,
    ).astype(np.float32)
    assert feats.shape == (n_frames, FEATURE_DIM), feats.shape
    return feats
