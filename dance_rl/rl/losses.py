"""Policy-gradient losses for one denoising step of a stored DDIM chain.

The learner calls these once per step (gradients accumulate across steps), so memory does not grow with the number
of denoising steps. All take per-frame log-probabilities (B,T) and per-frame advantages (B,T).

- ``reinforce``: Skeleton2Stage as coded: mean(−A·log p) / S, one optimiser step per iteration.
- ``ppo_clip``: DDPO: ratio = exp(log p − log p_old); mean(max(−A·ratio, −A·clip(ratio, 1±ε))) / S.
- ``kl_penalty``: DPOK's regulariser, mean squared difference between the current and the frozen model's ε prediction.
"""
from __future__ import annotations

import torch


def reinforce_loss(logp: torch.Tensor, adv: torch.Tensor, num_steps: int) -> tuple[torch.Tensor, dict]:
    loss = (-adv * logp).mean() / num_steps
    return loss, {}


def ppo_clip_loss(logp: torch.Tensor, logp_old: torch.Tensor, adv: torch.Tensor, clip_range: float,
                  num_steps: int) -> tuple[torch.Tensor, dict]:
    log_ratio = logp - logp_old
    ratio = torch.exp(log_ratio)
    unclipped = -adv * ratio
    clipped = -adv * torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range)
    loss = torch.maximum(unclipped, clipped).mean() / num_steps
    with torch.no_grad():
        stats = {"approx_kl": float(0.5 * (log_ratio ** 2).mean()),
                 "clipfrac": float(((ratio - 1.0).abs() > clip_range).float().mean())}
    return loss, stats


def kl_penalty(eps_pred: torch.Tensor, eps_ref: torch.Tensor, weight: float, num_steps: int) -> torch.Tensor:
    return weight * ((eps_pred - eps_ref.detach()) ** 2).mean() / num_steps


def policy_loss(algorithm: str, logp: torch.Tensor, logp_old: torch.Tensor, adv: torch.Tensor, *, clip_range: float,
                num_steps: int) -> tuple[torch.Tensor, dict]:
    if algorithm == "reinforce":
        return reinforce_loss(logp, adv, num_steps)
    if algorithm == "ppo_clip":
        return ppo_clip_loss(logp, logp_old, adv, clip_range, num_steps)
    raise ValueError(f"unknown algorithm {algorithm!r}")
