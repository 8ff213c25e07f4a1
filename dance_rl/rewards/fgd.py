"""Foot-Ground Deviation (FGD) rewards (Skeleton2Stage `compute_fgc`, docs/rewards.md).

Per frame, h_t = height of the lowest FK joint.

* ``fgd`` — as coded: the "ground" is the clip's own mean lowest-joint height g = mean_t h_t, and
  r_t = 1 + exp(-100 (h_t - g)^2) ∈ [1, 2] (the penetration and floating halves of the code each contribute
  exp(-100·0) = 1 on the frames where their indicator is off, hence the constant 1). Because g follows h, the reward
  is **invariant to a constant height shift**: a clip floating 30 cm above the floor scores exactly like the grounded
  one. It only rewards a *steady* lowest-joint height (no bobbing through / above the floor).
* ``fgd_ground`` — the same per-frame form measured against the true ground plane z = ``ground`` (0 in the dance_rl
  world), plus a linear tail: r_t = 1 + exp(-100 d_t^2) - |d_t|, d_t = h_t - ground (metres). This one punishes
  floating and sinking and falls monotonically as either grows. The tail is ours: the Gaussian alone is flat beyond
  ~0.2 m (exp(-4) = 0.02), so a policy that had floated that far got no signal back down (session 12's run on real
  music floated 7 → 37 cm); near the floor the Gaussian's slope (-7.8 per metre at 5 cm) dominates the tail's -1.

per_sample = mean over frames of per_frame.
"""
from __future__ import annotations

import numpy as np

from dance_rl.rewards.batch import MotionBatch

SHARPNESS = 100.0  # 1/m^2, the exp(-100 d^2) of compute_fgc
GROUND_TAIL = 1.0  # reward per metre of |d| (fgd_ground only): keeps a slope where the Gaussian is flat


def _result(h: np.ndarray, ref: np.ndarray, sharpness: float, tail: float = 0.0) -> dict:
    dev = h - ref
    per_frame = 1.0 + np.exp(-sharpness * dev ** 2) - tail * np.abs(dev)
    return {
        "per_sample": per_frame.mean(axis=1),
        "per_frame": per_frame,
        "diagnostics": {
            "mean_lowest_height": h.mean(axis=1),
            "penetration": np.maximum(-dev, 0.0).mean(axis=1),  # metres per frame below the reference
            "floating": np.maximum(dev, 0.0).mean(axis=1),  # metres per frame above the reference
        },
    }


def fgd(batch: MotionBatch, sharpness: float = SHARPNESS) -> dict:
    """As coded by Skeleton2Stage: deviation from the clip's own mean lowest-joint height (shift-invariant)."""
    h = batch.lowest_joint_height
    return _result(h, h.mean(axis=1, keepdims=True), sharpness)


def fgd_ground(batch: MotionBatch, ground: float = 0.0, sharpness: float = SHARPNESS) -> dict:
    """Deviation of the lowest joint from the ground plane z = ``ground``: punishes floating and sinking."""
    h = batch.lowest_joint_height
    return _result(h, np.full_like(h[:, :1], ground), sharpness, tail=GROUND_TAIL)
