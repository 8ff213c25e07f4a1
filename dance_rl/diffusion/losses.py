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
import torch.nn.functional as F

from dance_rl.motion.representation import features_to_joints
from dance_rl.motion.skeleton import FOOT_JOINTS

LOSS_WEIGHTS = {"simple": 0.636, "velocity": 2.964, "fk": 0.646, "foot": 10.942}
CONTACT_THRESHOLD = 0.95


def edge_loss_terms(x0_pred: torch.Tensor, x0: torch.Tensor,
                    unnormalize: Callable[[torch.Tensor], torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """Unweighted loss terms (scalars) for predicted and target normalised vectors (B, T, 151)."""
    simple = F.mse_loss(x0_pred, x0)
    velocity = F.mse_loss(x0_pred[:, 1:, 4:] - x0_pred[:, :-1, 4:], x0[:, 1:, 4:] - x0[:, :-1, 4:])
    contact_pred = x0_pred[..., :4]
    fk_in_pred, fk_in_true = (x0_pred, x0) if unnormalize is None else (unnormalize(x0_pred), unnormalize(x0))
    joints_pred = features_to_joints(fk_in_pred)
    joints_true = features_to_joints(fk_in_true)
    fk = F.mse_loss(joints_pred, joints_true)
    feet = joints_pred[..., list(FOOT_JOINTS), :]
    foot_v = torch.zeros_like(feet)
    foot_v[:, :-1] = feet[:, 1:] - feet[:, :-1]
    static = (contact_pred > CONTACT_THRESHOLD).to(foot_v.dtype)[..., None]
    foot = (foot_v * static).pow(2).mean()
    return {"simple": simple, "velocity": velocity, "fk": fk, "foot": foot}


def edge_loss(x0_pred: torch.Tensor, x0: torch.Tensor,
              unnormalize: Callable[[torch.Tensor], torch.Tensor] | None = None) -> tuple[torch.Tensor, dict]:
    """Weighted total and the weighted terms (as EDGE logs them)."""
    terms = edge_loss_terms(x0_pred, x0, unnormalize)
    weighted = {k: LOSS_WEIGHTS[k] * v for k, v in terms.items()}
    return sum(weighted.values()), weighted


def diffusion_loss(model, schedule, x0: torch.Tensor, cond: torch.Tensor, cond_drop_prob: float = 0.25,
                   unnormalize=None, t: torch.Tensor | None = None, generator: torch.Generator | None = None):
    """One training loss: t ~ U{0..T−1}, x_t = q_sample(x0, t, ε), the model predicts x0 with condition dropout."""
    b = x0.shape[0]
    if t is None:
        t = torch.randint(0, schedule.timesteps, (b,), generator=generator).to(x0.device)
    noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype).to(x0.device)
    x_t = schedule.q_sample(x0, t, noise)
    x0_pred = model(x_t, cond, t, cond_drop_prob=cond_drop_prob)
    return edge_loss(x0_pred, x0, unnormalize)
