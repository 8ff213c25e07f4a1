"""Physical plausibility metrics on z-up joints: PFC, FGD, foot-skating ratio, motion magnitude.

Pure numpy, one sequence in, numbers out. Set-level values are means over sequences, except FGD, which the
reference divides by the total frame count (``reduce_fgd``).
"""
from __future__ import annotations

import numpy as np

from dance_rl.motion.skeleton import FOOT_JOINTS
from dance_rl.rewards.antifreeze import motion_magnitude, motion_magnitude_lowpass  # noqa: F401  (re-exported)

PFC_SCALE = 10000.0
FGD_FLOAT_MARGIN = 0.05  # m
SKATE_FEET = (10, 11)  # toes only, as GMD
SKATE_HEIGHT = 0.05  # m
SKATE_SPEED = 0.5  # m/s
SKATE_WINDOW = 5  # frames


def pfc(joints: np.ndarray, dt: float = 1.0 / 30.0) -> float:
    """EDGE's Physical Foot Contact score of one sequence (before the ×10⁴ and the mean over sequences).

    root acceleration (vertical part clamped at >= 0) normalised by its max over the sequence, times the product of
    the per-side minimum horizontal foot displacement per frame (displacements *not* divided by dt, as EDGE).
    Deviation: a root with zero acceleration everywhere gives 0 instead of the reference's 0/0 = NaN.
    """
    j = np.asarray(joints, dtype=np.float64)
    if j.shape[0] < 3:
        raise ValueError(f"PFC needs at least 3 frames, got {j.shape[0]}")
    root_v = (j[1:, 0] - j[:-1, 0]) / dt
    root_a = (root_v[1:] - root_v[:-1]) / dt
    root_a[:, 2] = np.maximum(root_a[:, 2], 0.0)
    a = np.linalg.norm(root_a, axis=-1)
    scale = a.max()
    a = a / scale if scale > 0 else np.zeros_like(a)
    feet = j[:, list(FOOT_JOINTS), :2]  # L ankle, R ankle, L toe, R toe
    foot_v = np.linalg.norm(feet[2:] - feet[1:-1], axis=-1)  # (S-2, 4)
    left = np.minimum(foot_v[:, 0], foot_v[:, 2])
    right = np.minimum(foot_v[:, 1], foot_v[:, 3])
    return float(np.mean(left * right * a))


def fgd_sums(joints: np.ndarray, ground: float | None = None) -> dict[str, float]:
    """Skeleton2Stage ``eval_ground.py`` sums for one sequence (metres, summed over frames).

    h_t = lowest joint height. ``ground=None`` is the reference: ground = mean_t h_t (per-clip estimate, so a
    rigid vertical shift of the whole clip does not change the score). A number uses that absolute floor height
    instead (e.g. 0.0 for the world floor). penetration = Σ (ground - h) over h < ground;
    floating = Σ (h - ground) over h > ground + 5 cm (the full height counts, not the excess over 5 cm).
    """
    h = np.asarray(joints, dtype=np.float64)[..., 2].min(axis=-1)
    g = float(h.mean()) if ground is None else float(ground)
    below = h < g
    above = h > g + FGD_FLOAT_MARGIN
    return {"penetration": float((g - h)[below].sum()), "floating": float((h - g)[above].sum()),
            "frames": int(len(h))}


def reduce_fgd(sums: list[dict[str, float]]) -> dict[str, float]:
    """Set-level FGD in mm/frame: totals / total frames × 1000 (the reference divides by 40 × 600 = 24000).

    The paper prints penetration and floating separately and reports one FGD number whose combination is not
    documented; we report their sum as ``fgd``.
    """
    frames = sum(s["frames"] for s in sums)
    if frames == 0:
        return {"fgd": float("nan"), "fgd_penetration": float("nan"), "fgd_floating": float("nan")}
    pen = 1000.0 * sum(s["penetration"] for s in sums) / frames
    flt = 1000.0 * sum(s["floating"] for s in sums) / frames
    return {"fgd": pen + flt, "fgd_penetration": pen, "fgd_floating": flt}


def fgd(joints: np.ndarray, ground: float | None = None) -> dict[str, float]:
    """FGD of a single sequence in mm/frame (see ``fgd_sums``)."""
    return reduce_fgd([fgd_sums(joints, ground)])


def _uniform_filter_constant(x: np.ndarray, size: int) -> np.ndarray:
    from scipy.ndimage import uniform_filter1d

    return uniform_filter1d(x, size=size, axis=-1, mode="constant", origin=0)


def foot_skating_ratio(joints: np.ndarray, fps: float = 30.0) -> float:
    """GMD's skating ratio, z-up: fraction of the T-1 frame pairs where either toe (10, 11) skates.

    A toe skates when it is below 5 cm in both frames of the pair and its horizontal speed (‖Δxy‖·fps) exceeds
    0.5 m/s both instantaneously and averaged over a 5-frame window (zero-padded at the ends, as GMD's
    ``uniform_filter1d(mode='constant')``). Heights are absolute (floor at z = 0).
    """
    j = np.asarray(joints, dtype=np.float64)
    if j.shape[0] < 2:
        return 0.0
    feet = j[:, list(SKATE_FEET)].transpose(1, 0, 2)  # (2, T, 3)
    speed = np.linalg.norm(feet[:, 1:, :2] - feet[:, :-1, :2], axis=-1) * fps  # (2, T-1)
    avg = _uniform_filter_constant(speed, SKATE_WINDOW)
    h = feet[:, :, 2]
    contact = (h[:, :-1] < SKATE_HEIGHT) & (h[:, 1:] < SKATE_HEIGHT)
    skating = contact & (speed > SKATE_SPEED) & (avg > SKATE_SPEED)
    return float(np.mean(skating[0] | skating[1]))


