"""load_audio: formats, resampling, channel handling, and one clear UserError per bad input."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from dance_rl.errors import UserError
from dance_rl.music import audio as audio_mod
from dance_rl.music.audio import EDGE_SR, audio_files, load_audio, validate_audio


def _sine(freq: float, seconds: float, sr: int, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _peak_hz(y: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    return float(np.fft.rfftfreq(y.size, 1.0 / sr)[np.argmax(spec)])


def test_wav_is_resampled_to_edge_rate_and_keeps_pitch(tmp_path):
    sr = 22050
    path = tmp_path / "tone.wav"
    sf.write(path, _sine(440.0, 5.5, sr), sr, subtype="PCM_16")
    y = load_audio(path)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(y.size - round(5.5 * EDGE_SR)) <= 1  # 84480 samples
    assert abs(_peak_hz(y, EDGE_SR) - 440.0) < 1.0
    assert abs(np.sqrt(np.mean(y**2)) - 0.5 / np.sqrt(2)) < 5e-3  # amplitude survives resampling


# Opus (warzone2100-music's soundtrack, scripts/game_music.sh heldout2) is Ogg-contained and allows only 8-48 kHz rates
@pytest.mark.parametrize("fmt,subtype,suffix,sr", [("FLAC", None, ".flac", 22050), ("OGG", None, ".ogg", 22050),
                                                   ("MP3", None, ".mp3", 22050), ("OGG", "OPUS", ".opus", 48000)])
def test_compressed_formats_load(tmp_path, fmt, subtype, suffix, sr):
    if fmt not in sf.available_formats() or (subtype and subtype not in sf.available_subtypes(fmt)):
        pytest.skip(f"libsndfile here cannot write {fmt} {subtype or ''}")
    path = tmp_path / f"tone{suffix}"
    sf.write(path, _sine(330.0, 5.2, sr), sr, format=fmt, subtype=subtype)  # MP3 allows only standard rates
    assert path in audio_files(tmp_path, "--music")
    y = load_audio(path)
    # lossy codecs may pad a few ms; the pitch must survive
    assert abs(y.size / EDGE_SR - 5.2) < 0.1
    assert abs(_peak_hz(y, EDGE_SR) - 330.0) < 1.0


def test_stereo_mono_mix_and_keep_channels(tmp_path):
    left, right = _sine(220.0, 5.0, EDGE_SR, 0.4), _sine(220.0, 5.0, EDGE_SR, 0.2)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), EDGE_SR, subtype="FLOAT")
    mono = load_audio(path)
    both = load_audio(path, mono=False)
    assert both.shape == (2, left.size)
    np.testing.assert_allclose(mono, 0.5 * (left + right), atol=1e-6)
    np.testing.assert_allclose(both[1], right, atol=1e-6)


def test_librosa_fallback_when_soundfile_fails(tmp_path, monkeypatch):
    path = tmp_path / "tone.wav"
    y0 = _sine(440.0, 5.0, EDGE_SR)
    sf.write(path, y0, EDGE_SR, subtype="FLOAT")

    def broken(_path):
        raise RuntimeError("pretend libsndfile cannot decode this")

    monkeypatch.setattr(audio_mod, "_read_soundfile", broken)
    np.testing.assert_allclose(load_audio(path), y0, atol=1e-6)


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_audio(tmp_path / "nope.wav")


def test_unreadable_file_names_path_and_fix(tmp_path):
    path = tmp_path / "garbage.wav"
    path.write_bytes(b"this is not a RIFF file" * 100)
    with pytest.raises(UserError, match=r"garbage\.wav: cannot decode audio.*convert it"):
        load_audio(path)


def test_empty_file_and_unsupported_suffix(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(UserError, match="empty"):
        load_audio(tmp_path / "empty.wav")
    (tmp_path / "song.txt").write_text("la la la")
    with pytest.raises(UserError, match="unsupported audio type"):
        load_audio(tmp_path / "song.txt")


def test_silent_audio(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.full(6 * EDGE_SR, 1e-6, np.float32), EDGE_SR, subtype="FLOAT")
    with pytest.raises(UserError, match="silent"):
        load_audio(path)


def test_too_short_and_min_seconds_option(tmp_path):
    path = tmp_path / "short.wav"
    sf.write(path, _sine(440.0, 3.0, EDGE_SR), EDGE_SR, subtype="PCM_16")
    with pytest.raises(UserError, match=r"3\.00 s long, shorter than one 5-s window"):
        load_audio(path)
    assert load_audio(path, min_seconds=2.0).size == 3 * EDGE_SR


def test_nan_samples(tmp_path):
    y = _sine(440.0, 5.0, EDGE_SR)
    y[1000:1003] = np.nan
    y[5000] = np.inf
    path = tmp_path / "nan.wav"
    sf.write(path, y, EDGE_SR, subtype="FLOAT")
    with pytest.raises(UserError, match="4 NaN/inf samples"):
        load_audio(path)


def test_validate_audio_array():
    y = _sine(440.0, 5.0, 8000)
    assert validate_audio(y.astype(np.float64), 8000).dtype == np.float32
    with pytest.raises(UserError, match="malformed"):
        validate_audio(np.zeros((2, 2, 2)), 8000)
    with pytest.raises(UserError, match="silent"):
        validate_audio(np.zeros(6 * 8000), 8000)
