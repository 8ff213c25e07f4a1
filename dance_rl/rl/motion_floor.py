"""Hold the policy's motion while the rewards push: a PI-controlled Lagrange multiplier on the anti-freezing term.

Why: advantages are normalised per music window (rl/advantages.py), so a reward's level never reaches the gradient,
only how it ranks the samples of one window. When every error falls with motion (a stiller dance skates, penetrates
and floats less), the weighted rankings favour the stiller sample and the whole batch slows down together; anti-freezing
at a fixed weight ranks the samples the same way before and after, and cannot see that the level fell (issue 13: the
long recipe's policy lost 72% of its motion in 12 iterations while its EMA, what was evaluated, moved 7% of the way).

The multiplier sees the level. It compares each batch's mean low-pass motion magnitude (jitter does not count,
rewards/antifreeze.motion_magnitude_lowpass) with the first batch's, which the base model sampled, and adds λ to the
anti-freezing weight while the ratio is below ``floor`` (constrained RL as in RCPO, Tessler et al. 2019; the PI update
of Stooke et al. 2020, which reacts within an iteration instead of waiting for the integral to build up):

    e_t = floor − m_t / m_0        I_t = max(0, I_{t−1} + e_t)        λ_t = gain · max(0, e_t + I_t)
"""
from __future__ import annotations

import numpy as np


class MotionFloor:
    def __init__(self, floor: float, gain: float):
        if not 0 < floor:
            raise ValueError(f"floor {floor} must be > 0")
        if not gain >= 0:
            raise ValueError(f"gain {gain} must be >= 0")
        self.floor, self.gain = float(floor), float(gain)
        self.reference: float | None = None  # m_0: the base model's batch mean
        self.integral = 0.0
        self.lam = 0.0
        self.ratio = 1.0  # the last batch's m_t / m_0 (logged)

    def update(self, motion: np.ndarray) -> float:
        """Take one batch's per-sample low-pass motion magnitudes; return λ for this batch's update."""
        m = float(np.mean(motion))
        if self.reference is None:
            self.reference = m
        self.ratio = m / max(self.reference, 1e-12)
        error = self.floor - self.ratio
        self.integral = max(0.0, self.integral + error)
        self.lam = self.gain * max(0.0, error + self.integral)
        return self.lam

    def state_dict(self) -> dict:
        return {"reference": self.reference, "integral": self.integral, "lam": self.lam}

    def load_state_dict(self, state: dict) -> None:
        self.reference = state["reference"] if state["reference"] is None else float(state["reference"])
        self.integral, self.lam = float(state["integral"]), float(state["lam"])
