"""Music: audio loading/validation, EDGE 35-d features at 30 FPS, beats (music and kinematic), synthetic music.

librosa is imported lazily inside the functions, so importing this package stays cheap for Ray workers.
"""
from dance_rl.music.audio import EDGE_SR, load_audio, validate_audio
from dance_rl.music.beats import (
    aist_music_bpm,
    beat_f_measure,
    beat_frames,
    beat_times,
    beats_from_motion,
    estimate_tempo,
    onset_envelope,
    tempo_from_beat_times,
)
from dance_rl.music.cache import cached_features, feature_cache_key
from dance_rl.music.features import FEATURE_DIM, FPS, HOP_LENGTH, extract_features, feature_frames_for_seconds
from dance_rl.music.synth import save_wav, synthesize_music

__all__ = [
    "EDGE_SR", "FEATURE_DIM", "FPS", "HOP_LENGTH", "aist_music_bpm", "beat_f_measure", "beat_frames", "beat_times",
    "beats_from_motion", "cached_features", "estimate_tempo", "extract_features", "feature_cache_key",
    "feature_frames_for_seconds", "load_audio", "onset_envelope", "save_wav", "synthesize_music",
    "tempo_from_beat_times", "validate_audio",
]
