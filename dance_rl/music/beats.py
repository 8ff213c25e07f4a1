"""Music beats (librosa), kinematic motion beats, and the beat F-measure used to check one against the other.

Music beats follow the EDGE/Skeleton2Stage convention (docs/metrics.md, BAS): ``librosa.beat.beat_track`` on the onset
envelope with tightness 100. Motion beats follow Bailando's BAS: local minima of the Gaussian-smoothed mean joint
speed. Times are in seconds unless a name says frames.
"""
from __future__ import annotations

import re

import numpy as np

from dance_rl.errors import UserError
from dance_rl.music.audio import EDGE_SR
from dance_rl.music.features import DEFAULT_START_BPM, HOP_LENGTH, TIGHTNESS


def onset_envelope(audio: np.ndarray, sr: int = EDGE_SR, hop_length: int = HOP_LENGTH, percussive: bool = False) -> np.ndarray:
    """librosa onset strength (spectral flux). ``percussive`` = HPSS first + median aggregation (the BAS variant)."""
    import librosa

    y = np.asarray(audio, dtype=np.float32)
    if percussive:
        y = librosa.effects.percussive(y)
        return librosa.onset.onset_strength(y=y, sr=sr, hop_length=hop_length, aggregate=np.median)
    return librosa.onset.onset_strength(y=y, sr=sr, hop_length=hop_length)


def _envelope(audio, sr, hop_length, onset_env, percussive) -> np.ndarray:
    if onset_env is not None:
        return np.asarray(onset_env, dtype=np.float32)
    if audio is None:
        raise ValueError("pass audio (a waveform at sr) or onset_env")
    return onset_envelope(audio, sr=sr, hop_length=hop_length, percussive=percussive)


def beat_frames(
    audio: np.ndarray | None = None,
    sr: int = EDGE_SR,
    *,
    onset_env: np.ndarray | None = None,
    hop_length: int = HOP_LENGTH,
    start_bpm: float | None = None,
    tightness: float = TIGHTNESS,
    percussive: bool = False,
) -> np.ndarray:
    """Beat positions as int frame indices (frame = hop_length / sr seconds; 30 FPS at the defaults)."""
    import librosa

    env = _envelope(audio, sr, hop_length, onset_env, percussive)
    _, frames = librosa.beat.beat_track(
        onset_envelope=env, sr=sr, hop_length=hop_length,
        start_bpm=DEFAULT_START_BPM if start_bpm is None else float(start_bpm), tightness=tightness,
    )
    return np.asarray(frames, dtype=np.int64)


def beat_times(audio: np.ndarray, sr: int = EDGE_SR, hop_length: int = HOP_LENGTH, **kwargs) -> np.ndarray:
    """Beat times in seconds (see :func:`beat_frames`)."""
    return beat_frames(audio, sr, hop_length=hop_length, **kwargs) * (hop_length / float(sr))


def estimate_tempo(
    audio: np.ndarray | None = None,
    sr: int = EDGE_SR,
    *,
    onset_env: np.ndarray | None = None,
    hop_length: int = HOP_LENGTH,
    start_bpm: float | None = None,
) -> float:
    """Global tempo in BPM from librosa's autocorrelation tempogram (the same estimate ``beat_track`` uses)."""
    import librosa

    env = _envelope(audio, sr, hop_length, onset_env, False)
    tempo = librosa.feature.tempo(
        onset_envelope=env, sr=sr, hop_length=hop_length,
        start_bpm=DEFAULT_START_BPM if start_bpm is None else float(start_bpm),
    )
    return float(np.asarray(tempo).ravel()[0])


def tempo_from_beat_times(times: np.ndarray) -> float:
    """BPM implied by beat times: 60 / mean of the inter-beat intervals within ±25 % of the median one.

    The median rejects missed/extra beats; averaging the intervals near it removes the frame quantisation of beats
    read off 30-fps motion (16- and 17-frame intervals average to the true 16.5).
    """
    t = np.asarray(times, dtype=np.float64).ravel()
    if t.size < 2:
        raise ValueError("need at least two beat times to estimate a tempo")
    ibi = np.diff(np.sort(t))
    ibi = ibi[ibi > 0]
    if ibi.size == 0:
        raise ValueError("beat times are all identical")
    med = float(np.median(ibi))
    return 60.0 / float(np.mean(ibi[np.abs(ibi - med) <= 0.25 * med]))


def beat_f_measure(reference: np.ndarray, estimated: np.ndarray, window: float = 0.07) -> float:
    """F-measure of estimated beats against reference beats, each beat matched at most once within ±``window`` s.

    Left-to-right two-pointer matching: with one tolerance for every beat, matching each reference beat to the
    earliest unused estimate in its window gives the maximum number of one-to-one matches.
    """
    ref = np.sort(np.asarray(reference, dtype=np.float64).ravel())
    est = np.sort(np.asarray(estimated, dtype=np.float64).ravel())
    if ref.size == 0 and est.size == 0:
        return 1.0
    if ref.size == 0 or est.size == 0:
        return 0.0
    i = j = hits = 0
    while i < ref.size and j < est.size:
        if est[j] < ref[i] - window:
            j += 1
        elif est[j] > ref[i] + window:
            i += 1
        else:
            hits, i, j = hits + 1, i + 1, j + 1
    if hits == 0:
        return 0.0
    precision, recall = hits / est.size, hits / ref.size
    return 2 * precision * recall / (precision + recall)


def kinetic_speed(joints: np.ndarray) -> np.ndarray:
    """(T-1,) mean over joints of per-frame displacement ‖p[t+1] - p[t]‖ (Bailando ``calc_db``)."""
    p = np.asarray(joints, dtype=np.float64)
    if p.ndim != 3 or p.shape[-1] != 3 or p.shape[0] < 2:
        raise UserError(f"joints: expected shape (T>=2, J, 3), got {p.shape}")
    if not np.all(np.isfinite(p)):
        raise UserError("joints: contains NaN/inf positions; fix the motion before extracting beats")
    return np.linalg.norm(np.diff(p, axis=0), axis=-1).mean(axis=-1)


def beats_from_motion(joints: np.ndarray, fps: float = 30.0, sigma_s: float = 5.0 / 60.0) -> np.ndarray:
    """Kinematic beats in seconds: local minima of the Gaussian-smoothed mean joint speed.

    Bailando smooths with σ = 5 frames at 60 fps, i.e. ``sigma_s`` = 1/12 s (2.5 frames at 30 fps), so the same
    σ in seconds is used at any frame rate. Minimum index t (speed between frames t and t+1) maps to time t / fps.
    """
    from scipy.ndimage import gaussian_filter1d
    from scipy.signal import argrelextrema

    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    speed = kinetic_speed(joints)
    smooth = gaussian_filter1d(speed, sigma=sigma_s * fps) if sigma_s > 0 else speed
    minima = argrelextrema(smooth, np.less)[0]
    return minima.astype(np.float64) / fps


_AIST_MUSIC_ID = re.compile(r"m(BR|PO|LO|MH|LH|HO|WA|KR|JS|JB)([0-5])")


def aist_music_bpm(name: str) -> float | None:
    """Tempo of an AIST Dance DB track from its music ID (e.g. ``gBR_sBM_cAll_d04_mBR0_ch01`` -> 80), else None.

    Every genre's six tracks run 80-130 BPM in steps of 10, except House (mHO) at 110-135 in steps of 5.
    EDGE passes this as ``start_bpm`` to the beat tracker.
    """
    m = _AIST_MUSIC_ID.search(str(name))
    if m is None:
        return None
    genre, idx = m.group(1), int(m.group(2))
    return float(110 + 5 * idx) if genre == "HO" else float(80 + 10 * idx)
