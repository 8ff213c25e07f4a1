"""Root-smoothness reward: how little the root (pelvis) position accelerates from frame to frame.

Why a separate reward: on the demo base model the root's horizontal acceleration is tens of times the mocap's (median
87 vs 2.3 m/s² at 10 uniform DDIM steps, docs/results.md "Motion magnitude is mostly jitter"), and PFC is built on
it. Smoothing the root alone over 3 frames takes PFC −47% with motion and FID_k held, while smoothing every joint
costs a quarter of the low-pass motion (`scripts/smoothing_probe.py`, docs/results.md "Removing jitter alone"), so
this reward asks for a steady root and leaves the limbs' jitter to PhyMotion.

Per frame t (1..T-2): a_t = ‖p_{t+1} − 2 p_t + p_{t−1}‖ · fps² of the root position p (all three axes);
r_t = 1 / (1 + a_t / scale) with scale 10 m/s² (demo mocap windows score 0.65, the demo base model's RL samples ~0.23);
the first and last frames repeat their neighbours. A heavy tail, not exp(−a/scale): at the base model's accelerations an
exponential is ~0 on almost every frame and ranks samples by their few quiet frames. per_sample = mean_t r_t ∈ (0, 1].
"""
from __future__ import annotations

import numpy as np

from dance_rl.rewards.batch import MotionBatch, vnorm

ACCEL_SCALE = 10.0  # m/s²


def root_acceleration(trans: np.ndarray, fps: float) -> np.ndarray:
    """(B,T,D) root positions (D = 3, or 2 for the horizontal part) → (B,T-2) acceleration norms, m/s² (central
    second difference). Any axes between T and D pass through: (B,T,J,3) joints → (B,T-2,J)."""
    p = np.asarray(trans, dtype=np.float64)
    return vnorm(p[:, 2:] - 2.0 * p[:, 1:-1] + p[:, :-2]) * fps * fps


def root_smoothness(batch: MotionBatch, scale: float = ACCEL_SCALE) -> dict:
    """Reward in (0, 1]: 1 for a root that moves at constant velocity, falling as it jerks."""
    b, t = batch.trans.shape[:2]
    if t < 3:  # no second difference to take
        return {"per_sample": np.ones(b), "per_frame": np.ones((b, t)), "diagnostics": {}}
    acc = root_acceleration(batch.trans, batch.fps)
    r = 1.0 / (1.0 + acc / scale)
    per_frame = np.concatenate([r[:, :1], r, r[:, -1:]], axis=1)
    return {"per_sample": per_frame.mean(axis=1), "per_frame": per_frame,
            "diagnostics": {"root_accel_median": np.median(acc, axis=1)}}
