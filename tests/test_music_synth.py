"""synthesize_music: librosa recovers the beats we put in (tempo within 3 %, F >= 0.9 at ±70 ms); save_wav."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from dance_rl.errors import UserError
from dance_rl.music.beats import beat_f_measure, beats_from_motion, estimate_tempo, tempo_from_beat_times
from dance_rl.music.features import BEAT, extract_features
from dance_rl.music.synth import save_wav, synthesize_music


def _irregular_beats(bpm: float, seconds: float, jitter_s: float, seed: int) -> np.ndarray:
    """Beat times like those read off a dancer: a steady pulse with ±jitter_s of timing noise."""
    beats = np.arange(0.3, seconds - 0.2, 60.0 / bpm)
    return beats + np.random.default_rng(seed).uniform(-jitter_s, jitter_s, beats.size)


def test_deterministic_shape_and_level():
    beats = _irregular_beats(120, 6.0, 0.02, 0)
    a = synthesize_music(beats, 120.0, 6.0, sr=22050, seed=3)
    b = synthesize_music(beats, 120.0, 6.0, sr=22050, seed=3)
    c = synthesize_music(beats, 120.0, 6.0, sr=22050, seed=4)
    assert a.shape == (6 * 22050,) and a.dtype == np.float32
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.max(np.abs(a)) == pytest.approx(0.9, abs=1e-6)
    # nothing before the first beat: the music starts on the beat
    assert np.max(np.abs(a[: int(beats[0] * 22050) - 1])) == 0.0


@pytest.mark.parametrize("bpm", [90.0, 120.0, 140.0])
@pytest.mark.parametrize("jitter", [0.0, 0.02])
def test_librosa_recovers_tempo_and_beats(bpm, jitter):
    beats = _irregular_beats(bpm, 10.0, jitter, seed=int(bpm))
    y = synthesize_music(beats, bpm, 10.0, sr=22050, seed=0)
    tempo = estimate_tempo(y, sr=22050)
    assert tempo == pytest.approx(bpm, rel=0.03)
    # the beats the model is conditioned on: the beat channel of the 30-FPS features
    feats = extract_features(y, sr=22050)
    found = np.nonzero(feats[:, BEAT])[0] / 30.0
    assert beat_f_measure(beats, found, window=0.07) >= 0.9


def test_regular_grid_when_no_beats_given():
    y = synthesize_music(None, 100.0, 8.0, sr=22050)
    assert estimate_tempo(y, sr=22050) == pytest.approx(100.0, rel=0.03)


def test_music_paired_to_a_motion_follows_its_beats():
    """Demo-corpus pairing: kinematic beats of a dance -> synthetic music whose librosa beats match them."""
    fps, beats = 30.0, np.cumsum(np.full(18, 0.55) + np.random.default_rng(2).uniform(-0.02, 0.02, 18))
    t = np.arange(int((beats[-1] + 0.5) * fps)) / fps
    phase = np.interp(t, beats, np.pi * np.arange(beats.size))
    joints = np.zeros((t.size, 24, 3))
    joints[:, :, 2] = 0.1 * (1 - np.cos(phase))[:, None]  # bounce, still on every beat
    motion_beats = beats_from_motion(joints, fps)
    motion_beats = motion_beats[(motion_beats > beats[0] + 0.2) & (motion_beats < beats[-1] - 0.2)]
    tempo = tempo_from_beat_times(motion_beats)
    assert tempo == pytest.approx(60 / 0.55, rel=0.03)
    y = synthesize_music(motion_beats, tempo, t.size / fps, sr=22050)
    found = np.nonzero(extract_features(y, sr=22050)[:, BEAT])[0] / fps
    assert beat_f_measure(motion_beats, found) >= 0.9


@pytest.mark.parametrize(
    "beats,tempo,duration,match",
    [
        ([1.0, 0.5, 2.0], 120.0, 5.0, "strictly increasing"),
        ([0.5, np.nan], 120.0, 5.0, "NaN"),
        ([0.5, 1.0], 0.0, 5.0, "tempo_bpm"),
        ([0.5, 1.0], 120.0, -1.0, "duration_s"),
        ([6.0, 7.0], 120.0, 5.0, "no beat inside"),
    ],
)
def test_bad_inputs(beats, tempo, duration, match):
    with pytest.raises(UserError, match=match):
        synthesize_music(beats, tempo, duration)


def test_save_wav_round_trip_and_atomic(tmp_path):
    y = synthesize_music(None, 120.0, 2.0, sr=22050)
    path = save_wav(tmp_path / "song.wav", y, 22050)
    back, sr = sf.read(path, dtype="float32")
    assert sr == 22050 and back.shape == y.shape
    np.testing.assert_allclose(back, y, atol=1.0 / 32767 + 1e-7)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.wav"]  # no temp file left behind
    stereo = save_wav(tmp_path / "stereo.wav", np.stack([y, -y]), 22050)
    assert sf.read(stereo)[0].shape == (y.size, 2)
    with pytest.raises(UserError, match="does not exist"):
        save_wav(tmp_path / "missing" / "x.wav", y, 22050)
    with pytest.raises(UserError, match="finite"):
        save_wav(tmp_path / "nan.wav", np.full(10, np.nan), 22050)
    assert not (tmp_path / "nan.wav").exists()
