"""EDGE's training objective: x0 reconstruction + velocity + FK + foot-skate terms.

total = 0.636·simple + 2.964·velocity + 0.646·fk + 10.942·foot (EDGE ``p_losses``, l2, no p2 weighting):
- simple: MSE(x̂0, x0) over all 151 dims;
- velocity: MSE of frame differences over the 147 non-contact dims;
- fk: MSE between FK joint positions of x̂0 and x0;
- foot: MSE(v_foot·[ĉ > 0.95], 0), v_foot[t] = FK_feet[t+1] − FK_feet[t] (0 on the last frame), ĉ = the model's own
  predicted (normalised) contact channel.

EDGE feeds *normalised* vectors to FK (its unnormalise call is commented out). ``unnormalize=None`` reproduces that;
passing a normaliser's ``unnormalize`` computes the FK and foot terms in metres, which is what a small model trained for
minutes needs for its feet to stay planted (our pretraining default).
"""
from __future__ import annotations

from typing import Callable

import torch

from dance_rl.motion.representation import features_to_joints
from dance_rl.motion.skeleton import FOOT_JOINTS

LOSS_WEIGHTS = {"simple": 0.636, "velocity": 2.964, "fk": 0.646, "foot": 10.942}
CONTACT_THRESHOLD = 0.95


def edge_loss_terms(x0_pred: torch.Tensor, x0: torch.Tensor,
                    unnormalize: Callable[[torch.Tensor], torch.Tensor] | None = None,
                    weights: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Loss terms (scalars, before LOSS_WEIGHTS) for predicted and target normalised vectors (B, T, 151).

    weights (B,): one factor per window (e.g. :func:`min_snr_weights` of its noise level); None = plain mean."""
    simple = (x0_pred - x0).pow(2).mean((1, 2))
    velocity = ((x0_pred[:, 1:, 4:] - x0_pred[:, :-1, 4:]) - (x0[:, 1:, 4:] - x0[:, :-1, 4:])).pow(2).mean((1, 2))
    contact_pred = x0_pred[..., :4]
    fk_in_pred, fk_in_true = (x0_pred, x0) if unnormalize is None else (unnormalize(x0_pred), unnormalize(x0))
    joints_pred = features_to_joints(fk_in_pred)
    joints_true = features_to_joints(fk_in_true)
    fk = (joints_pred - joints_true).pow(2).mean((1, 2, 3))
    feet = joints_pred[..., list(FOOT_JOINTS), :]
    foot_v = torch.zeros_like(feet)
    foot_v[:, :-1] = feet[:, 1:] - feet[:, :-1]
    static = (contact_pred > CONTACT_THRESHOLD).to(foot_v.dtype)[..., None]
    foot = (foot_v * static).pow(2).mean((1, 2, 3))
    per_window = {"simple": simple, "velocity": velocity, "fk": fk, "foot": foot}
    if weights is None:
        return {k: v.mean() for k, v in per_window.items()}
    return {k: (weights.to(v) * v).mean() for k, v in per_window.items()}


def min_snr_weights(alphas_cumprod: torch.Tensor, t: torch.Tensor, gamma: float) -> torch.Tensor:
    """Min-SNR-γ loss weights (Hang et al., ICCV 2023) in their x0-loss form, w(t) = min(SNR(t), γ) with
    SNR = ᾱ/(1 − ᾱ), divided by the mean of w over all T levels so the loss keeps its scale whatever the batch.

    Why: with a uniform x0 loss the high-noise levels (large, unavoidable errors) dominate the gradient, and the
    5-minute demo model never learns to keep its input's motion at low noise, where every DDIM chain ends: at t = 1 it
    kept 3% of the real windows' frame-to-frame velocity energy (docs/results.md, "Base model: Min-SNR")."""
    w = alphas_cumprod / (1.0 - alphas_cumprod)
    w = w.clamp(max=gamma)
    return (w[t.cpu()] / w.mean()).float()


def edge_loss(x0_pred: torch.Tensor, x0: torch.Tensor,
              unnormalize: Callable[[torch.Tensor], torch.Tensor] | None = None,
              weights: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
    """Weighted total and the weighted terms (as EDGE logs them); weights (B,) as in :func:`edge_loss_terms`."""
    terms = edge_loss_terms(x0_pred, x0, unnormalize, weights)
    weighted = {k: LOSS_WEIGHTS[k] * v for k, v in terms.items()}
    return sum(weighted.values()), weighted
