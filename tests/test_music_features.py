"""extract_features: 35-d at exactly 30 FPS, EDGE channel order, array/path agreement."""
from __future__ import annotations

import librosa
import numpy as np
import pytest

from dance_rl.errors import UserError
from dance_rl.music.audio import EDGE_SR, load_audio
from dance_rl.music.beats import beat_f_measure
from dance_rl.music.features import BEAT, CHROMA, MFCC, PEAK, extract_features, feature_frames_for_seconds
from dance_rl.music.synth import save_wav, synthesize_music

BEATS_120 = np.arange(0.25, 7.0, 0.5)  # 120 BPM, beats half-way between 30-fps frames 7.5, 22.5, ...


@pytest.fixture(scope="module")
def music_120(tmp_path_factory):
    y = synthesize_music(BEATS_120, 120.0, 7.0, sr=EDGE_SR)
    path = save_wav(tmp_path_factory.mktemp("music") / "beat120.wav", y, EDGE_SR)
    return y, path, extract_features(y)


def test_feature_frames_for_seconds():
    assert feature_frames_for_seconds(5.0) == 150
    assert feature_frames_for_seconds(7.3) == 219
    assert feature_frames_for_seconds(0.0) == 0
    assert feature_frames_for_seconds(1.0, fps=60) == 60


def test_shape_dtype_and_frame_count(music_120):
    y, _, feats = music_120
    assert feats.shape == (210, 35) == (feature_frames_for_seconds(7.0), 35)
    assert feats.dtype == np.float32 and np.all(np.isfinite(feats))
    assert feats.shape[0] == len(y) // 512


def test_exactly_150_frames_for_a_5s_window():
    y = synthesize_music(None, 100.0, 5.0, sr=EDGE_SR)
    assert extract_features(y).shape == (150, 35)
    # one sample short of 5 s loses the last frame (floor), as EDGE's truncation would on a 4.99-s clip
    assert extract_features(np.concatenate([y, y])[: 5 * EDGE_SR - 1], min_seconds=4.0).shape == (149, 35)


def test_channel_order_matches_librosa(music_120):
    y, _, feats = music_120
    n = feats.shape[0]
    env = librosa.onset.onset_strength(y=y, sr=EDGE_SR, hop_length=512)
    np.testing.assert_allclose(feats[:, 0], env[:n], rtol=1e-5, atol=1e-5)
    mfcc = librosa.feature.mfcc(y=y, sr=EDGE_SR, n_mfcc=20, hop_length=512).T[:n]
    np.testing.assert_allclose(feats[:, MFCC], mfcc, rtol=1e-4, atol=1e-3)
    chroma = feats[:, CHROMA]
    assert chroma.shape[1] == 12 and chroma.min() >= 0.0 and chroma.max() <= 1.0
    # chroma_cens frames are L2-normalised (all frames here have harmony)
    np.testing.assert_allclose(np.linalg.norm(chroma[10:-10], axis=1), 1.0, atol=1e-4)
    peaks = librosa.onset.onset_detect(onset_envelope=env, sr=EDGE_SR, hop_length=512)
    np.testing.assert_array_equal(np.nonzero(feats[:, PEAK])[0], peaks[peaks < n])


def test_beat_channel_ones_at_the_beats(music_120):
    _, _, feats = music_120
    beat_col = feats[:, BEAT]
    assert set(np.unique(beat_col)) <= {0.0, 1.0}
    beat_rows = np.nonzero(beat_col)[0]
    # every second the tracker marks two beats, one per 15 frames, on the synthesized beats (±70 ms)
    assert np.all(np.diff(beat_rows) == 15)
    assert beat_f_measure(BEATS_120, beat_rows / 30.0) >= 0.9
    # onset peaks include every beat frame (the kick is the strongest onset)
    peak_rows = set(np.nonzero(feats[:, PEAK])[0])
    assert all(r in peak_rows or r - 1 in peak_rows or r + 1 in peak_rows for r in beat_rows)


def test_path_and_array_agree(music_120):
    y, path, feats = music_120
    from_path = extract_features(path)
    np.testing.assert_allclose(from_path, extract_features(load_audio(path)), atol=1e-5)
    # the 16-bit wav differs from the float array only by quantisation: same beats, near-same envelope
    np.testing.assert_allclose(load_audio(path), y, atol=1.0 / 32767 + 1e-7)
    assert np.array_equal(from_path[:, BEAT], feats[:, BEAT])
    np.testing.assert_allclose(from_path[:, 0], feats[:, 0], rtol=0.02, atol=0.05)


def test_other_sample_rates_are_resampled_to_30fps():
    y = synthesize_music(BEATS_120, 120.0, 7.0, sr=22050)
    feats = extract_features(y, sr=22050)
    assert feats.shape == (210, 35)
    assert beat_f_measure(BEATS_120, np.nonzero(feats[:, BEAT])[0] / 30.0) >= 0.9
    stereo = np.stack([y, y])
    np.testing.assert_allclose(extract_features(stereo, sr=22050), feats, atol=1e-5)


def test_bad_inputs():
    y = synthesize_music(None, 120.0, 5.0, sr=EDGE_SR)
    with pytest.raises(UserError, match="start_bpm"):
        extract_features(y, start_bpm=-5)
    with pytest.raises(UserError, match="shorter than one 5-s window"):
        extract_features(y[: 3 * EDGE_SR])
    with pytest.raises(UserError, match="silent"):
        extract_features(np.zeros(6 * EDGE_SR, np.float32))
