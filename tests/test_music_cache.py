"""cached_features: content-keyed hits and misses, atomic .npy entries, recovery from corrupt entries."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from dance_rl.errors import UserError
from dance_rl.music import cache as cache_mod
from dance_rl.music import features as features_mod
from dance_rl.music.cache import cached_features, feature_cache_key, file_sha256
from dance_rl.music.synth import save_wav, synthesize_music


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    return save_wav(tmp_path_factory.mktemp("songs") / "song.wav", synthesize_music(None, 120.0, 5.2, sr=22050), 22050)


@pytest.fixture
def counted(monkeypatch):
    """Count real feature computations (a cache hit must not compute)."""
    calls = []
    real = features_mod.extract_features

    def spy(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(cache_mod, "extract_features", spy)
    return calls


def test_miss_then_hit(song, tmp_path, counted):
    cache = tmp_path / "cache"
    first = cached_features(song, cache)
    second = cached_features(song, cache)
    assert len(counted) == 1
    assert first.shape == (156, 35) and first.dtype == np.float32
    np.testing.assert_array_equal(first, second)
    entries = sorted(p.name for p in cache.iterdir())
    assert entries == [f"{feature_cache_key(song)}.npy"]  # no temp files left
    np.testing.assert_array_equal(np.load(cache / entries[0], allow_pickle=False), first)


def test_key_follows_content_not_name(song, tmp_path, counted):
    cache = tmp_path / "cache"
    cached_features(song, cache)
    copy = tmp_path / "renamed copy.wav"
    shutil.copy(song, copy)
    cached_features(copy, cache)
    assert len(counted) == 1  # same bytes, different path: hit
    edited = tmp_path / "edited.wav"
    edited.write_bytes(song.read_bytes()[:-2] + b"\x01\x00")  # change the last sample
    assert feature_cache_key(edited) != feature_cache_key(song)
    cached_features(edited, cache)
    assert len(counted) == 2 and len(list(cache.glob("*.npy"))) == 2


def test_key_includes_options_and_version(song, monkeypatch):
    base = feature_cache_key(song)
    assert feature_cache_key(song, start_bpm=100) != base
    assert feature_cache_key(song, start_bpm=100.0) == feature_cache_key(song, start_bpm=100)
    monkeypatch.setattr(cache_mod, "FEATURE_VERSION", 999)
    assert feature_cache_key(song) != base


def test_file_sha256_known_value(tmp_path):
    p = tmp_path / "abc.bin"
    p.write_bytes(b"abc")
    assert file_sha256(p) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_corrupt_entry_is_recomputed(song, tmp_path, counted):
    cache = tmp_path / "cache"
    good = cached_features(song, cache)
    entry = cache / f"{feature_cache_key(song)}.npy"
    entry.write_bytes(b"\x93NUMPY garbage")
    np.testing.assert_array_equal(cached_features(song, cache), good)
    np.save(entry, np.zeros((5, 7), np.float32))  # wrong shape: also stale
    np.testing.assert_array_equal(cached_features(song, cache), good)
    assert len(counted) == 3
    np.testing.assert_array_equal(np.load(entry), good)


def test_errors(song, tmp_path):
    with pytest.raises(UserError, match="not found"):
        cached_features(tmp_path / "missing.wav", tmp_path / "cache")
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(UserError, match="cannot create the feature cache folder"):
        cached_features(song, blocker / "cache")
    short = save_wav(tmp_path / "short.wav", synthesize_music(None, 120.0, 3.0, sr=22050), 22050)
    cache = tmp_path / "cache"
    assert cached_features(short, cache, min_seconds=2.0).shape == (90, 35)
    with pytest.raises(UserError, match="shorter than one 5-s window"):  # a cache hit gives the same answer as a miss
        cached_features(short, cache)


def test_folder_windows_cuts_every_song_at_the_stride_and_skips_short_ones(tmp_path):
    from dance_rl.music.cache import folder_windows

    songs = tmp_path / "songs"
    songs.mkdir()
    save_wav(songs / "b_long.wav", synthesize_music(None, 110.0, 12.0, sr=22050, seed=1), 22050)
    save_wav(songs / "a_short.wav", synthesize_music(None, 120.0, 3.0, sr=22050, seed=2), 22050)
    (songs / "notes.txt").write_text("not audio")
    music, keys = folder_windows(songs, tmp_path / "cache", frames=150, stride=75)
    full = cached_features(songs / "b_long.wav", tmp_path / "cache", min_seconds=0.0)   # 360 frames
    assert full.shape[0] == 360
    assert keys == ["b_long@0s", "b_long@2.5s", "b_long@5s"]   # starts 0, 75, 150 (≤ 360 − 150); the 3-s song: none
    assert music.shape == (3, 150, 35) and music.dtype == np.float32
    np.testing.assert_array_equal(music[2], full[150:300])


def test_folder_windows_errors_name_the_input(tmp_path):
    from dance_rl.music.cache import folder_windows

    with pytest.raises(UserError, match=r"^rl.music .*missing: not a folder"):
        folder_windows(tmp_path / "missing", tmp_path / "cache", 150, 75)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no audio files"):
        folder_windows(tmp_path / "empty", tmp_path / "cache", 150, 75)
    (tmp_path / "short").mkdir()
    save_wav(tmp_path / "short" / "s.wav", synthesize_music(None, 120.0, 3.0, sr=22050), 22050)
    with pytest.raises(UserError, match="shorter than one 5-s window"):
        folder_windows(tmp_path / "short", tmp_path / "cache", 150, 75)


def test_rl_music_replaces_the_training_music_of_the_conditions(tmp_path):
    """rl.music set: the RL conditions are its songs' windows at a half-window stride, not data.source's music."""
    from dance_rl.cluster.inputs import load_conditions
    from dance_rl.config import load_config

    songs = tmp_path / "songs"
    songs.mkdir()
    save_wav(songs / "tune.wav", synthesize_music(None, 128.0, 10.0, sr=22050, seed=3), 22050)
    cfg = load_config(None, [f"rl.music={songs}", f"data.cache_dir={tmp_path / 'cache'}"])
    lines: list = []
    music, keys = load_conditions(cfg, log=lines.append)
    assert keys == ["tune@0s", "tune@2.5s", "tune@5s"] and music.shape == (3, 150, 35)
    assert "3 music windows from 1 songs" in lines[0]
    np.testing.assert_array_equal(music[1], cached_features(songs / "tune.wav", tmp_path / "cache" / "features",
                                                            min_seconds=0.0)[75:225])


def test_rl_music_with_corpus_appends_the_corpus_windows(tmp_path, tiny_base):
    """rl.music_with_corpus: the song windows first, then exactly the corpus's own training windows."""
    from dance_rl.cluster.inputs import load_conditions
    from dance_rl.config import load_config
    from tests.conftest import REPO, smoke_overrides

    songs = tmp_path / "songs"
    songs.mkdir()
    save_wav(songs / "tune.wav", synthesize_music(None, 128.0, 10.0, sr=22050, seed=3), 22050)
    smoke = REPO / "tune_configs" / "smoke.yaml"
    corpus, corpus_keys = load_conditions(load_config(smoke, smoke_overrides(tiny_base)), log=lambda *_: None)
    only, only_keys = load_conditions(load_config(smoke, smoke_overrides(tiny_base, f"rl.music={songs}")),
                                      log=lambda *_: None)
    lines: list = []
    both, keys = load_conditions(load_config(smoke, smoke_overrides(tiny_base, f"rl.music={songs}",
                                                                        "rl.music_with_corpus=true")), log=lines.append)
    assert len(corpus_keys) > 0 and only_keys == ["tune@0s", "tune@2.5s", "tune@5s"]
    assert keys == [*only_keys, *corpus_keys] and not set(only_keys) & set(corpus_keys)
    np.testing.assert_array_equal(both, np.concatenate([only, corpus]))
    assert len(lines) == 2 and "from 1 songs" in lines[0] and "(train) from demo" in lines[1]


def test_rl_music_with_corpus_needs_rl_music():
    from dance_rl.config import load_config

    with pytest.raises(UserError, match=r"^config key 'rl.music_with_corpus': .*set rl.music to a folder"):
        load_config(None, ["rl.music_with_corpus=true"])


def test_rl_music_shift_offsets_every_other_song_window_in_timbre_and_key_only(tmp_path):
    """rl.music_shift: windows 1, 3, ... get one constant offset per MFCC/chroma channel (scaled by the spread of the
    windows' means); onsets, beats and the other windows stay bit for bit, and the draw is the seed's."""
    from dance_rl.cluster.inputs import load_conditions
    from dance_rl.config import load_config

    songs = tmp_path / "songs"
    songs.mkdir()
    save_wav(songs / "tune.wav", synthesize_music(None, 128.0, 10.0, sr=22050, seed=3), 22050)
    base = [f"rl.music={songs}", f"data.cache_dir={tmp_path / 'cache'}"]
    plain, _ = load_conditions(load_config(None, base), log=lambda *_: None)
    lines: list = []
    shifted, keys = load_conditions(load_config(None, [*base, "rl.music_shift=3"]), log=lines.append)
    assert keys == ["tune@0s", "tune@2.5s~shift", "tune@5s"] and "1 of them with their MFCC and chroma" in lines[1]
    np.testing.assert_array_equal(shifted[[0, 2]], plain[[0, 2]])
    d = shifted[1] - plain[1]
    np.testing.assert_array_equal(d[:, [0, 33, 34]], 0.0)  # onset envelope, onset peaks, beats
    np.testing.assert_allclose(d[1:, 1:33], np.broadcast_to(d[:1, 1:33], d[1:, 1:33].shape), atol=1e-3)  # constant
    spread = plain[:, :, 1:33].mean(axis=1).std(axis=0)
    assert np.abs(d[0, 1:33]).max() > 0.5 * 3 * spread.max()  # ~3 SD: the shift is not a rounding error
    again, _ = load_conditions(load_config(None, [*base, "rl.music_shift=3"]), log=lambda *_: None)
    np.testing.assert_array_equal(again, shifted)
    with pytest.raises(UserError, match=r"^config key 'rl.music_shift': .*set rl.music=DIR or rl.music_shift=0"):
        load_config(None, ["rl.music_shift=1"])
