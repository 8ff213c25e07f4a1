"""Beat-matched synthetic music for the built-in demo corpus (no licence-gated audio needed).

A four-on-the-floor kick on every beat, a snare on the backbeat, quiet closed hats on the off-beats, a bass note per
beat and sustained triads changing every bar. The kick carries the beat: it dominates the low mel bands, so
librosa's onset envelope peaks on exactly the given beat times and its tracker recovers them, even when the beat
times come from a dancer and are slightly irregular. Deterministic for a given ``seed``.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from dance_rl.errors import UserError
from dance_rl.fileio import atomic_path

# I-V-vi-IV in C major as (root MIDI note, chord MIDI notes); one chord per bar of 4 beats.
PROGRESSION = ((36, (60, 64, 67)), (43, (59, 62, 67)), (45, (60, 64, 69)), (41, (60, 65, 69)))
BEATS_PER_BAR = 4


def _midi_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69) / 12.0)


def _fade_out(clip: np.ndarray, sr: int, seconds: float = 0.01) -> np.ndarray:
    """Linear release: a clip cut off mid-decay is a broadband click the onset detector would count."""
    n = min(clip.size, max(int(seconds * sr), 1))
    clip[-n:] *= np.linspace(1.0, 0.0, n, dtype=clip.dtype)
    return clip


def _kick(sr: int) -> np.ndarray:
    t = np.arange(int(0.25 * sr)) / sr
    freq = 48.0 + 110.0 * np.exp(-t / 0.035)  # pitch drop 158 -> 48 Hz
    phase = 2 * np.pi * np.cumsum(freq) / sr
    click = np.exp(-t / 0.002) * 0.3
    return _fade_out((np.sin(phase) * np.exp(-t / 0.12) + click).astype(np.float32), sr, 0.05)


def _snare(sr: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.18 * sr)) / sr
    noise = rng.standard_normal(t.size) * np.exp(-t / 0.05)
    tone = np.sin(2 * np.pi * 185.0 * t) * np.exp(-t / 0.04)
    return _fade_out((0.35 * noise + 0.5 * tone).astype(np.float32), sr, 0.03)


def _hat(sr: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.04 * sr)) / sr
    noise = np.diff(rng.standard_normal(t.size + 1))  # first difference = crude high-pass
    return _fade_out((noise * np.exp(-t / 0.008)).astype(np.float32), sr, 0.01)


def _tone(freq: float, n: int, sr: int, attack_s: float, decay_s: float, harmonics=(1.0, 0.5, 0.25)) -> np.ndarray:
    t = np.arange(n) / sr
    wave = sum(a * np.sin(2 * np.pi * freq * (k + 1) * t) for k, a in enumerate(harmonics))
    env = np.minimum(1.0, t / attack_s) * np.exp(-t / decay_s)
    return _fade_out((wave * env).astype(np.float32), sr, 0.02)


def _add(out: np.ndarray, clip: np.ndarray, start: int, gain: float) -> None:
    if start >= out.size:
        return
    n = min(clip.size, out.size - start)
    out[start:start + n] += gain * clip[:n]


def _check_inputs(beat_times, tempo_bpm: float, duration_s: float, sr: int) -> np.ndarray:
    if not (math.isfinite(duration_s) and duration_s > 0):
        raise UserError(f"duration_s: {duration_s!r} must be a positive number of seconds")
    if not (math.isfinite(tempo_bpm) and 20.0 <= tempo_bpm <= 400.0):
        raise UserError(f"tempo_bpm: {tempo_bpm!r} is outside 20-400 BPM; pass the music's tempo in beats per minute")
    if not (isinstance(sr, (int, np.integer)) and sr >= 4000):
        raise UserError(f"sr: {sr!r} must be an integer sample rate >= 4000 Hz")
    if beat_times is None:
        return np.arange(0.0, duration_s, 60.0 / tempo_bpm)
    beats = np.asarray(beat_times, dtype=np.float64).ravel()
    if not np.all(np.isfinite(beats)):
        raise UserError("beat_times: contains NaN/inf; pass finite times in seconds")
    if np.any(np.diff(beats) <= 0):
        raise UserError("beat_times: must be strictly increasing seconds; sort them and drop duplicates")
    return beats[(beats >= 0) & (beats < duration_s)]


def synthesize_music(
    beat_times: np.ndarray | None, tempo_bpm: float, duration_s: float, sr: int = 22050, seed: int = 0
) -> np.ndarray:
    """Mono float32 waveform (round(duration_s·sr),) with percussion on ``beat_times`` (s) plus bass and chords.

    ``beat_times=None`` places beats on a regular grid at ``tempo_bpm``; otherwise the given times are used as is
    (times outside [0, duration_s) are dropped) and ``tempo_bpm`` only sets note lengths where no next beat exists.
    Peak-normalised to 0.9.
    """
    beats = _check_inputs(beat_times, tempo_bpm, duration_s, sr)
    if beats.size == 0:
        raise UserError(f"beat_times: no beat inside [0, {duration_s:g}) s; pass beat times within the duration")
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * sr))
    out = np.zeros(n, dtype=np.float32)
    period = 60.0 / tempo_bpm
    kick, snare, hat = _kick(sr), _snare(sr, rng), _hat(sr, rng)
    ends = np.append(beats[1:], min(duration_s, beats[-1] + period))  # each beat's note lasts until the next beat

    for i, (b, e) in enumerate(zip(beats, ends)):
        start, length = int(round(b * sr)), max(int(round((e - b) * sr)), 1)
        pos = i % BEATS_PER_BAR
        bass_root, chord = PROGRESSION[(i // BEATS_PER_BAR) % len(PROGRESSION)]
        _add(out, kick, start, 1.0 if pos == 0 else 0.85)
        if pos in (1, 3):
            _add(out, snare, start, 0.45)
        _add(out, hat, start, 0.3)  # on-beat hat: a broadband transient that every mel band sees
        _add(out, _tone(_midi_hz(bass_root), length, sr, 0.005, 0.25), start, 0.25)
        if pos == 0:  # chord pad for the bar, slow attack so it adds harmony, not onsets
            bar_end = ends[min(i + BEATS_PER_BAR - 1, len(ends) - 1)]
            bar_len = max(int(round((bar_end - b) * sr)), 1)
            for note in chord:
                _add(out, _tone(_midi_hz(note), bar_len, sr, 0.08, 2.0), start, 0.06)

    peak = float(np.max(np.abs(out)))
    return (out * (0.9 / peak)).astype(np.float32) if peak > 0 else out


def save_wav(path: str | os.PathLike, audio: np.ndarray, sr: int) -> Path:
    """Write 16-bit PCM wav atomically (temp file in the same folder, then rename); (N,) or (C, N) input."""
    import soundfile as sf

    path = Path(path)
    data = np.asarray(audio, dtype=np.float32)
    if data.ndim not in (1, 2) or data.size == 0 or not np.all(np.isfinite(data)):
        raise UserError(f"{path}: audio to save must be a finite (N,) or (C, N) array, got shape {data.shape}")
    if data.ndim == 2:
        data = data.T  # soundfile wants (N, C)
    if not path.parent.is_dir():
        raise UserError(f"{path}: folder {path.parent} does not exist; create it first")
    with atomic_path(path, suffix=".wav.tmp") as tmp:
        sf.write(tmp, np.clip(data, -1.0, 1.0), int(sr), subtype="PCM_16", format="WAV")
    return path
