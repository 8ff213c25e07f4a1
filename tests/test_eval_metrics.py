"""Hand-computable cases for FID/Div, BAS, PFC, FGD, foot skating and motion magnitude."""
import numpy as np
import pytest

from dance_rl.eval import bas
from dance_rl.eval.fid import average_pairwise_distance, fid_div, frechet_distance, normalize
from dance_rl.eval.physical import (
    fgd,
    fgd_sums,
    foot_skating_ratio,
    motion_magnitude,
    motion_magnitude_lowpass,
    pfc,
    reduce_fgd,
)


# ------------------------------------------------------------------------------------------------------- FID / Div
def test_fid_identical_sets_is_zero(rng):
    x = rng.normal(size=(30, 5))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)
    gen = {"kinetic": rng.normal(size=(10, 72)), "manual": rng.uniform(size=(10, 32))}
    out = fid_div(gen, gen)
    assert abs(out["fid_k"]) < 1e-3 and abs(out["fid_g"]) < 1e-3  # singular covariances: sqrtm round-off
    assert out["div_k"] == pytest.approx(out["div_k_gt"])


def test_fid_of_shifted_gaussians_by_hand():
    # Same covariance, means 3 apart on one axis → FID = ‖μ1 − μ2‖² = 9 (trace terms cancel).
    x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert frechet_distance(x + [3.0, 0.0], x) == pytest.approx(9.0, abs=1e-9)
    # 1-D: var 1 vs var 4 (ddof=1), equal means → 1 + 4 − 2·√4 = 1.
    a = np.array([[-1.0], [1.0]]) / np.sqrt(2)
    assert frechet_distance(2 * a, a) == pytest.approx(1.0, abs=1e-9)


def test_fid_singular_covariance_falls_back_to_eps():
    # Fewer samples than dims → singular covariances; Bailando's eps fallback gives a finite real number.
    rng = np.random.default_rng(1)
    v = frechet_distance(rng.normal(size=(3, 10)), rng.normal(size=(3, 10)))
    assert np.isfinite(v)


def test_normalize_uses_gt_statistics_only():
    gt = np.array([[0.0, 1.0], [2.0, 1.0]])  # mean (1, 1), std (1, 0)
    pred = np.array([[3.0, 1.0]])
    gt_n, pred_n = normalize(gt, pred)
    np.testing.assert_allclose(gt_n, [[-1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(pred_n, [[2.0, 0.0]])  # (1 − 1)/(0 + 1e-10) = 0 in the constant column


def test_diversity_of_known_points():
    assert average_pairwise_distance(np.array([[0.0, 0.0], [3.0, 4.0]])) == pytest.approx(5.0)
    # Triangle 3-4-5: (3 + 4 + 5) / 3 pairs.
    assert average_pairwise_distance(np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])) == pytest.approx(4.0)
    assert np.isnan(average_pairwise_distance(np.zeros((1, 3))))


# ------------------------------------------------------------------------------------------------------------ BAS
def test_bas_exact_hits_and_offsets():
    music = np.array([10, 40, 70])
    assert bas.beat_align_score(music, music) == pytest.approx(1.0)
    s1 = bas.beat_align_score(music, music + 1)
    s3 = bas.beat_align_score(music, music + 3)
    assert s1 == pytest.approx(np.exp(-1 / 18)) and s3 == pytest.approx(np.exp(-9 / 18))
    assert 1.0 > s1 > s3 > bas.beat_align_score(music, music + 6) > 0
    # Averaged over music beats: the nearest motion beat counts, extra motion beats do not.
    assert bas.beat_align_score(np.array([10, 40]), np.array([10, 25, 41])) == pytest.approx((1 + np.exp(-1 / 18)) / 2)
    assert bas.beat_align_score(music, np.array([], dtype=int)) == 0.0
    assert np.isnan(bas.beat_align_score(np.array([]), music))


def _bouncing_joints(beat_frames_30: np.ndarray, T: int) -> np.ndarray:
    """All joints move with speed |sin| that drops to 0 exactly at the given 30-fps frames (period 20 frames)."""
    t = np.arange(T, dtype=np.float64)
    phase = np.pi * (t - beat_frames_30[0]) / 20.0
    x = np.cumsum(np.abs(np.sin(phase)))  # position; speed minima at the beats
    j = np.zeros((T, 24, 3))
    j[:, :, 0] = x[:, None]
    return j


def test_motion_bas_peaks_when_velocity_minima_sit_on_music_beats():
    T = 300  # 10 s at 30 fps
    beats30 = np.arange(10, T, 20)
    joints = _bouncing_joints(beats30, T)
    mb, length = bas.motion_beats(bas.upsample_repeat(joints))
    assert length == 2 * T - 1
    # Velocity minima (60-fps frames) lie within a frame of 2·beat: the duplicated-frame quirk shifts them by < 1.
    assert np.all(np.abs(mb[:, None] - 2 * beats30[None]).min(axis=1) <= 1)
    music60 = 2 * beats30
    aligned = bas.motion_bas(joints, music60)
    assert aligned > 0.9
    shifted = [bas.motion_bas(joints, music60 + d) for d in (3, 6, 10)]
    assert aligned > shifted[0] > shifted[1] > shifted[2]


def test_motion_bas_truncates_music_beats_to_motion_length():
    joints = _bouncing_joints(np.array([10]), 100)
    inside = bas.motion_bas(joints, np.array([20, 60]))
    assert bas.motion_bas(joints, np.array([20, 60, 5000])) == pytest.approx(inside)


@pytest.mark.slow  # librosa HPSS + beat tracking (numba JIT on first call): ~10 s on 2 cores
def test_music_beats_from_click_track():
    sr = bas.SR
    y = np.zeros(sr * 6, dtype=np.float32)
    period = 0.5  # 120 BPM
    click = np.hanning(256).astype(np.float32) * np.sin(np.arange(256) * 0.9).astype(np.float32)
    for k in range(12):
        s = int(k * period * sr)
        y[s:s + 256] += click
    beats = bas.music_beats(y + 1e-3 * np.random.default_rng(0).normal(size=len(y)).astype(np.float32))
    assert len(beats) >= 8
    assert np.median(np.diff(beats)) == pytest.approx(30, abs=1)  # 0.5 s at 60 frames/s


# ------------------------------------------------------------------------------------------------------------ PFC
def _feet_static_joints(T=60):
    j = np.zeros((T, 24, 3))
    t = np.arange(T) / 30.0
    j[:, 0] = np.stack([np.sin(t), 0.3 * t ** 2, 0.9 + 0.05 * np.sin(3 * t)], -1)  # accelerating root
    j[:, [7, 10]] = [0.1, 0.0, 0.05]
    j[:, [8, 11]] = [-0.1, 0.0, 0.05]
    return j


def test_pfc_static_feet_is_zero():
    assert pfc(_feet_static_joints()) == 0.0


def test_pfc_hand_case():
    # Root accelerates only once (a spike) → a/max(a) is 1 on that frame, 0 elsewhere; feet slide 0.02 and 0.03 m per
    # frame horizontally → PFC_seq = 0.02·0.03·1 / (S−2).
    S = 10
    j = np.zeros((S, 24, 3))
    j[5:, 0, 0] = np.arange(S - 5) * 0.1  # velocity changes only between frames 4→5→6
    j[:, [7, 10], 0] = (0.02 * np.arange(S))[:, None]
    j[:, [8, 11], 1] = (0.03 * np.arange(S))[:, None]
    assert pfc(j) == pytest.approx(0.02 * 0.03 / (S - 2))


def test_pfc_ignores_downward_root_acceleration():
    # Only vertical acceleration, downward → clamped to 0 → zero-acceleration sequence scores 0 (not NaN).
    j = np.zeros((10, 24, 3))
    j[:, 0, 2] = -0.5 * np.arange(10) ** 2 * 0.001
    j[:, [7, 8, 10, 11], 0] = (0.01 * np.arange(10))[:, None]
    assert pfc(j) == 0.0


# ------------------------------------------------------------------------------------------------------------ FGD
def test_fgd_lowered_10cm_is_100mm_per_frame_against_floor():
    T = 50
    j = np.zeros((T, 24, 3))
    j[..., 2] = np.linspace(0.0, 1.6, 24)  # lowest joint exactly on the floor every frame
    assert fgd(j, ground=0.0)["fgd"] == pytest.approx(0.0)
    low = fgd(j - [0, 0, 0.10], ground=0.0)
    assert low["fgd_penetration"] == pytest.approx(100.0) and low["fgd_floating"] == 0.0
    assert low["fgd"] == pytest.approx(100.0)
    # Skeleton2Stage's own ground (clip mean of the lowest joint) moves with the clip: a rigid shift scores 0.
    assert fgd(j - [0, 0, 0.10])["fgd"] == pytest.approx(0.0)


def test_fgd_reference_ground_by_hand():
    # h = [0, 0, 0, 0.2] → ground 0.05; penetration 3·0.05 = 0.15; floating h − g = 0.15 > 0.05 → 0.15. Per frame ×1000.
    j = np.zeros((4, 24, 3)) + 1.0
    j[:, 3, 2] = [0.0, 0.0, 0.0, 0.2]
    s = fgd_sums(j)
    assert s["penetration"] == pytest.approx(0.15) and s["floating"] == pytest.approx(0.15)
    out = reduce_fgd([s, {"penetration": 0.0, "floating": 0.0, "frames": 6}])  # divided by all 10 frames
    assert out["fgd_penetration"] == pytest.approx(15.0) and out["fgd"] == pytest.approx(30.0)


def test_fgd_small_float_below_margin_is_ignored():
    j = np.zeros((4, 24, 3)) + 1.0
    j[:, 3, 2] = [0.0, 0.0, 0.0, 0.04]  # g = 0.01; h − g = 0.03 < 5 cm → no floating
    assert fgd_sums(j)["floating"] == 0.0


# ------------------------------------------------------------------------------------------------ skating, magnitude
def test_skating_ratio_by_hand():
    T = 11
    j = np.zeros((T, 24, 3))
    j[:, 10, 2] = 0.02  # left toe on the ground
    j[:, 11, 2] = 0.30  # right toe in the air
    assert foot_skating_ratio(j) == 0.0
    j[:, 10, 0] = 0.03 * np.arange(T)  # 0.9 m/s on the ground → every pair skates (window avg ≥ 0.54 even at ends)
    assert foot_skating_ratio(j) == pytest.approx(1.0)
    j[:, 10, 0] = 0.01 * np.arange(T)  # 0.3 m/s < 0.5 m/s → no skating
    assert foot_skating_ratio(j) == 0.0
    j[:, 11, 0] = 0.05 * np.arange(T)  # fast, but in the air → no skating
    assert foot_skating_ratio(j) == 0.0


def test_low_pass_motion_magnitude_ignores_jitter_but_not_slowing_down(rng):
    t = np.arange(150) / 30.0
    dance = np.zeros((150, 24, 6))
    dance[:] = 0.1 * np.sin(2 * np.pi * 1.0 * t)[:, None, None]  # every joint swings at 1 Hz
    jitter = dance + rng.normal(scale=0.03, size=dance.shape)
    slow = dance * 0.5
    assert motion_magnitude(jitter) > 2.5 * motion_magnitude(dance)  # the Skeleton2Stage metric counts the jitter
    assert motion_magnitude_lowpass(jitter) == pytest.approx(motion_magnitude_lowpass(dance), rel=0.2)
    assert motion_magnitude_lowpass(dance) == pytest.approx(motion_magnitude(dance), rel=0.1)  # 1 Hz passes
    assert motion_magnitude_lowpass(slow) == pytest.approx(0.5 * motion_magnitude_lowpass(dance), rel=1e-9)
    r = np.zeros((20, 24, 6))
    r[:, :, 0] = 0.01 * np.arange(20)[:, None]  # a linear ramp passes the filter unchanged
    assert motion_magnitude_lowpass(r) == pytest.approx(motion_magnitude(r))
    assert motion_magnitude_lowpass(np.zeros((3, 24, 6))) == 0.0  # shorter than the filter: the plain metric


def test_motion_magnitude_frozen_is_zero_and_linear_case():
    r = np.zeros((20, 24, 6))
    assert motion_magnitude(r) == 0.0
    r[:, :, 0] = 0.01 * np.arange(20)[:, None]  # one of 6 channels changes by 0.01 per frame
    assert motion_magnitude(r, fps=30.0) == pytest.approx(0.01 / 6 * 30)
