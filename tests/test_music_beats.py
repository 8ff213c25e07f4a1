"""Beat utilities: hand-computed F-measure, tempo helpers, AIST++ tempos, kinematic (motion) beats."""
from __future__ import annotations

import numpy as np
import pytest

from dance_rl.errors import UserError
from dance_rl.music.audio import EDGE_SR
from dance_rl.music.beats import (
    aist_music_bpm,
    beat_f_measure,
    beat_frames,
    beat_times,
    beats_from_motion,
    estimate_tempo,
    kinetic_speed,
    onset_envelope,
    tempo_from_beat_times,
)


def test_f_measure_hand_computed():
    ref = [1.0, 2.0, 3.0, 4.0]
    # 1.05 and 3.00 hit; 2.10 is 100 ms off; 5.0 has no partner: P = R = 2/4
    assert beat_f_measure(ref, [1.05, 2.1, 3.0, 5.0]) == pytest.approx(0.5)
    # one reference beat can be matched only once: P = 1/2, R = 1/1 -> F = 2/3
    assert beat_f_measure([1.0], [0.98, 1.02]) == pytest.approx(2 / 3)
    # window edge is inclusive; order of inputs does not matter
    assert beat_f_measure([2.0, 1.0], [1.07, 1.93]) == pytest.approx(1.0)
    assert beat_f_measure([1.0, 2.0], [1.0, 2.0], window=0.0) == 1.0
    assert beat_f_measure([], []) == 1.0 and beat_f_measure([1.0], []) == 0.0 and beat_f_measure([], [1.0]) == 0.0


def test_f_measure_greedy_is_maximal_on_crowded_beats():
    # est 0.06 is in the window of both refs; matching it to ref 0.0 leaves 0.12 for ref 0.1 -> 2 hits
    assert beat_f_measure([0.0, 0.1], [0.06, 0.12]) == pytest.approx(1.0)
    assert beat_f_measure([0.0, 0.1], [-0.05, 0.06]) == pytest.approx(1.0)


def test_tempo_from_beat_times():
    assert tempo_from_beat_times([0.0, 0.5, 1.0, 1.5]) == pytest.approx(120.0)
    # one missed beat does not move the median interval
    assert tempo_from_beat_times([0.0, 0.4, 0.8, 1.6, 2.0]) == pytest.approx(150.0)
    with pytest.raises(ValueError):
        tempo_from_beat_times([1.0])


def test_aist_music_bpm():
    assert aist_music_bpm("gBR_sBM_cAll_d04_mBR0_ch01") == 80.0
    assert aist_music_bpm("mJB5") == 130.0
    assert aist_music_bpm("gHO_sFM_cAll_d20_mHO5_ch13.wav") == 135.0
    assert aist_music_bpm("mHO0") == 110.0
    assert aist_music_bpm("my_song.wav") is None


def _click_track(bpm: float, seconds: float, sr: int, first: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    y = np.zeros(int(seconds * sr), np.float32)
    times = np.arange(first, seconds - 0.2, 60.0 / bpm)
    burst = np.random.default_rng(0).standard_normal(int(0.02 * sr)) * np.exp(-np.arange(int(0.02 * sr)) / (0.004 * sr))
    for t in times:
        i = int(t * sr)
        y[i:i + burst.size] += burst.astype(np.float32)
    return y, times


def test_music_beats_and_tempo_on_a_click_track():
    y, times = _click_track(100.0, 10.0, EDGE_SR)
    env = onset_envelope(y)
    assert env.shape == (len(y) // 512 + 1,)
    assert estimate_tempo(onset_env=env) == pytest.approx(100.0, rel=0.03)
    frames = beat_frames(onset_env=env)
    assert frames.dtype == np.int64
    assert beat_f_measure(times, frames / 30.0) >= 0.9
    np.testing.assert_allclose(beat_times(y), frames / 30.0)
    # the BAS variant (HPSS percussive + median aggregation) finds the same beats on pure percussion
    assert beat_f_measure(times, beat_frames(y, percussive=True) / 30.0) >= 0.9


def _dancer(beat_times_s: np.ndarray, seconds: float, fps: float) -> np.ndarray:
    """(T,24,3) joints whose speed is zero exactly at the given times (bounce between beats), else positive."""
    t = np.arange(int(seconds * fps)) / fps
    # phase advances by pi from one beat to the next: the body rises, stops on a beat, sinks, stops on the next
    phase = np.interp(t, beat_times_s, np.pi * np.arange(len(beat_times_s)))
    height = 0.1 * (1 - np.cos(phase))  # stationary (derivative 0) where phase = k*pi, i.e. on the beats
    rest = np.random.default_rng(0).normal(size=(1, 24, 3))
    joints = np.repeat(rest, len(t), axis=0)
    joints[:, :, 2] += height[:, None] * np.linspace(0.5, 1.5, 24)[None, :]
    return joints


def test_beats_from_motion_finds_speed_minima():
    fps = 30.0
    beats = np.cumsum(np.full(14, 0.6) + np.random.default_rng(1).uniform(-0.05, 0.05, 14))  # 100 BPM, irregular
    joints = _dancer(beats, beats[-1] + 0.3, fps)
    found = beats_from_motion(joints, fps)
    inner = beats[1:-1]  # first/last beat sit at the clip edge where interp clamps the phase
    assert beat_f_measure(inner, found[(found > beats[0] + 0.2) & (found < beats[-1] - 0.2)], window=1.5 / fps) == 1.0
    # the same motion at 60 fps gives the same beat times (sigma is in seconds)
    found60 = beats_from_motion(_dancer(beats, beats[-1] + 0.3, 60.0), 60.0)
    assert beat_f_measure(found[(found > 0.8)], found60[(found60 > 0.8)], window=1.5 / fps) == 1.0


def test_kinetic_speed_hand_computed_and_errors():
    joints = np.zeros((3, 24, 3))
    joints[1, :, 0] = 0.3  # every joint moves 0.3 m, then back
    joints[2, :12, 0] = 0.3  # half the joints stay there, half return
    np.testing.assert_allclose(kinetic_speed(joints), [0.3, 0.15])
    with pytest.raises(UserError, match="expected shape"):
        kinetic_speed(np.zeros((10, 24)))
    bad = np.zeros((5, 24, 3))
    bad[2, 3, 1] = np.nan
    with pytest.raises(UserError, match="NaN"):
        beats_from_motion(bad)
