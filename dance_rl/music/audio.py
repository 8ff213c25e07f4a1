"""Audio loading with validation: one clear error for each way a music file can be unusable.

Everything downstream (features, beats, the dataset slicer) assumes a finite, non-silent signal at least one 5-s
training window long, so those checks live here, once, and name the file and the fix.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from dance_rl.errors import UserError

EDGE_SR = 15360  # 30 FPS * 512 hop: one feature frame per motion frame (EDGE baseline)
SILENCE_RMS = 1e-4  # about -80 dBFS; real music is orders of magnitude louder
AUDIO_SUFFIXES = (".wav", ".mp3", ".ogg", ".opus", ".flac")  # libsndfile >= 1.2 reads all five


def audio_files(folder: str | os.PathLike, label: str, or_else: str = "") -> list[Path]:
    """The audio files (wav/mp3/ogg/opus/flac) directly in ``folder``, sorted; ``label`` names the input in errors,
    ``or_else`` ends the fix (" or demo-test")."""
    d = Path(folder)
    if not d.is_dir():
        raise UserError(f"{label} {d}: not a folder; pass a folder of audio files (wav/mp3/ogg/opus/flac){or_else}")
    files = sorted(p for p in d.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    if not files:
        raise UserError(f"{label} {d}: no audio files (wav/mp3/ogg/opus/flac) in it")
    return files


def _read_soundfile(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    data, file_sr = sf.read(str(path), dtype="float32", always_2d=True)  # (N, C)
    return np.ascontiguousarray(data.T), int(file_sr)


def _read_librosa(path: Path) -> tuple[np.ndarray, int]:
    import librosa

    with warnings.catch_warnings():  # its "PySoundFile failed" warnings repeat what our error will say
        warnings.simplefilter("ignore")
        data, file_sr = librosa.load(str(path), sr=None, mono=False)
    data = np.atleast_2d(np.asarray(data, dtype=np.float32))
    return data, int(file_sr)


def _resample(data: np.ndarray, orig_sr: int, sr: int) -> np.ndarray:
    if orig_sr == sr:
        return data
    import librosa

    return librosa.resample(data, orig_sr=orig_sr, target_sr=sr, axis=-1).astype(np.float32)


def validate_audio(audio: np.ndarray, sr: int, name: str = "audio", min_seconds: float = 5.0) -> np.ndarray:
    """Check a waveform (N,) or (C, N) for NaN/inf, silence and length; return it as float32.

    ``name`` is the file (or description) quoted in the error message.
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim not in (1, 2) or audio.size == 0:
        raise UserError(f"{name}: empty or malformed audio array of shape {audio.shape}; pass a waveform (N,) or (C, N)")
    if not np.all(np.isfinite(audio)):
        bad = int(np.count_nonzero(~np.isfinite(audio)))
        raise UserError(f"{name}: {bad} NaN/inf samples; re-export the audio from its source or repair the file")
    seconds = audio.shape[-1] / float(sr)
    if seconds < min_seconds:
        raise UserError(
            f"{name}: audio is {seconds:.2f} s long, shorter than one {min_seconds:g}-s window; "
            f"use a longer track (or pad/loop it to at least {min_seconds:g} s)"
        )
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    if rms < SILENCE_RMS:
        raise UserError(f"{name}: audio is silent (RMS {rms:.2e} < {SILENCE_RMS:g}); check the file or its gain")
    return audio


def load_audio(path: str | os.PathLike, sr: int = EDGE_SR, mono: bool = True, min_seconds: float = 5.0) -> np.ndarray:
    """Load wav/mp3/ogg/opus/flac as float32 at ``sr`` Hz: (N,) if ``mono`` else (C, N).

    soundfile first (fast, exact for PCM formats); librosa/audioread as fallback for what libsndfile cannot decode.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: audio file not found; check the path")
    if path.suffix.lower() not in AUDIO_SUFFIXES:
        raise UserError(f"{path}: unsupported audio type {path.suffix!r}; use one of {', '.join(AUDIO_SUFFIXES)}")
    if path.stat().st_size == 0:
        raise UserError(f"{path}: audio file is empty (0 bytes); re-export or re-download it")
    errors = []
    data = file_sr = None
    for reader in (_read_soundfile, _read_librosa):
        try:
            data, file_sr = reader(path)
            break
        except Exception as e:  # noqa: BLE001 - any decoder failure means "try the next decoder"
            errors.append(f"{reader.__name__[6:]}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    if data is None:
        raise UserError(f"{path}: cannot decode audio ({'; '.join(errors)}); convert it to 16-bit PCM .wav")
    if data.shape[-1] == 0:
        raise UserError(f"{path}: audio file has no samples; re-export it")
    if mono:
        data = data.mean(axis=0)
    # Validate before resampling: resamplers smear a NaN over the whole signal and we want the count.
    validate_audio(data, file_sr, str(path), min_seconds)
    data = _resample(data, file_sr, sr)
    return np.ascontiguousarray(data, dtype=np.float32)
