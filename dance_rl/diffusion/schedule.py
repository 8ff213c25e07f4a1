"""Cosine noise schedule (EDGE: T = 1000, s = 8e-3, betas ≤ 0.999) and the quantities DDPM/DDIM need.

Tables are computed in float64 and indexed per sample, so a timestep tensor of shape (B,) gives coefficients of shape
(B, 1, 1) that broadcast over (B, T, D). Index −1 means "before the first step": ᾱ = 1 (the DDIM end point).
"""
from __future__ import annotations

import math

import torch


def cosine_betas(timesteps: int, s: float = 8e-3, max_beta: float = 0.999) -> torch.Tensor:
    """β_t = 1 − ᾱ_t/ᾱ_{t−1} with ᾱ(u) = cos²((u/T + s)/(1 + s) · π/2), clipped to [0, max_beta]."""
    u = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps + s
    f = torch.cos(u / (1 + s) * math.pi / 2) ** 2
    f = f / f[0]
    return (1 - f[1:] / f[:-1]).clamp(0.0, max_beta)


SPACINGS = ("uniform", "quadratic")


class NoiseSchedule:
    """Holds ᾱ and the posterior variance; all methods take integer timesteps (B,) or python ints.

    ``spacing`` places the DDIM steps (see ``ddim_timesteps``)."""

    def __init__(self, timesteps: int = 1000, s: float = 8e-3, spacing: str = "uniform"):
        if spacing not in SPACINGS:
            raise ValueError(f"DDIM spacing {spacing!r}: use one of {', '.join(SPACINGS)}")
        self.timesteps = int(timesteps)
        self.spacing = spacing
        self.betas = cosine_betas(self.timesteps, s)
        # EDGE builds its tables in float32 (torch.Tensor of the float64 betas); we follow it so ᾱ matches exactly.
        betas32 = self.betas.float()
        self.alphas_cumprod = torch.cumprod(1.0 - betas32, dim=0).double()
        prev = torch.cat([torch.ones(1, dtype=torch.float64), self.alphas_cumprod[:-1]])
        self.posterior_variance = betas32.double() * (1.0 - prev) / (1.0 - self.alphas_cumprod)
        self.posterior_log_variance_clipped = torch.log(self.posterior_variance.clamp(min=1e-20))
        # With index −1 mapped to the appended 1.0: ᾱ_{−1} = 1.
        self._abar_ext = torch.cat([self.alphas_cumprod, torch.ones(1, dtype=torch.float64)])

    def alpha_bar(self, t, like: torch.Tensor) -> torch.Tensor:
        """ᾱ_t as (B, 1, ..., 1) in like's dtype/device; t = −1 → 1."""
        t = _timesteps(t, like)
        idx = torch.where(t < 0, torch.full_like(t, self.timesteps), t).cpu()
        a = self._abar_ext[idx].to(device=like.device, dtype=like.dtype)
        return a.reshape(-1, *([1] * (like.dim() - 1)))

    def q_sample(self, x0: torch.Tensor, t, noise: torch.Tensor) -> torch.Tensor:
        """x_t = √ᾱ_t·x0 + √(1 − ᾱ_t)·ε."""
        a = self.alpha_bar(t, x0)
        return a.sqrt() * x0 + (1.0 - a).sqrt() * noise

    def eps_from_x0(self, x_t: torch.Tensor, t, x0: torch.Tensor) -> torch.Tensor:
        """ε̂ = (x_t/√ᾱ_t − x̂0)/√(1/ᾱ_t − 1) (EDGE's predict_noise_from_start)."""
        a = self.alpha_bar(t, x_t)
        return (x_t * (1.0 / a).sqrt() - x0) / (1.0 / a - 1.0).sqrt()

    def posterior_variance_at(self, t: int) -> float:
        """exp(posterior_log_variance_clipped[t]) (used as the FGD guidance step scale)."""
        return float(torch.exp(self.posterior_log_variance_clipped[int(t)]))

    def ddim_coefficients(self, t, t_next, like: torch.Tensor, eta: float):
        """(√ᾱ_next, c, σ) for x_next = √ᾱ_next·x̂0 + c·ε̂ + σ·z, each (B, 1, 1).

        σ = η·√((1 − ᾱ_t/ᾱ_next)(1 − ᾱ_next)/(1 − ᾱ_t)), c = √(1 − ᾱ_next − σ²). On the last step (t_next = −1,
        ᾱ_next = 1) both σ and c are 0 and x_next = x̂0.
        """
        a, a_next = self.alpha_bar(t, like), self.alpha_bar(t_next, like)
        sigma = eta * ((1 - a / a_next) * (1 - a_next) / (1 - a)).clamp(min=0).sqrt()
        c = (1 - a_next - sigma ** 2).clamp(min=0).sqrt()
        return a_next.sqrt(), c, sigma

    def ddim_timesteps(self, steps: int) -> list[tuple[int, int]]:
        """(t, t_next) pairs from T−1 down to −1 (x̂0 of the last step is the sample).

        "uniform": EDGE's reversed(int(linspace(−1, T−1, steps+1))), e.g. (999, 979) … (19, −1) for 50 steps, but
        (99, −1) for 10: the sample is then the model's x̂0 from a latent with noise std 0.17, which it cannot fully
        clean, and the final step is deterministic, so RL fine-tuning never trains it. "quadratic" (DDIM paper,
        t_i ∝ i²): same start, denser near 0, last step from t = 10 for 10 steps (docs/results.md, "Session 9").
        """
        if self.spacing == "uniform":
            times = torch.linspace(-1, self.timesteps - 1, steps=steps + 1).int().tolist()
        else:
            times = [-1]
            for i in range(1, steps + 1):  # strictly increasing even where i² rounds to the same step
                times.append(max(times[-1] + 1, round((self.timesteps - 1) * (i / steps) ** 2)))
        times = list(reversed(times))
        return list(zip(times[:-1], times[1:]))


def _timesteps(t, like: torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(t, dtype=torch.long)
    return t.expand(like.shape[0]) if t.dim() == 0 else t
