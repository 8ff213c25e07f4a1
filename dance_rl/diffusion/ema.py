"""Exponential moving average of a model's parameters: the weights evaluation, sampling and checkpoints' ``ema`` use.

One class for both trainers: pretraining (diffusion/trainer.py, cluster/pretrain_ray.py) warms the decay up with
:func:`ema_decay_at`, so a run of a few hundred steps already has a useful average (EDGE trains for days with
β = 0.9999); RL fine-tuning (rl/update.py) starts from a trained model and uses a constant decay (rl.ema_decay).
"""
from __future__ import annotations

import copy

import torch


class EMA:
    """A frozen copy of ``model`` (``.model``) that follows it: e ← e + (1 − decay)·(p − e) per update."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module, decay: float | None = None) -> None:
        """One step towards ``model``'s parameters, with ``decay`` for this step (default: the constructor's)."""
        d = self.decay if decay is None else decay
        for e, p in zip(self.model.parameters(), model.parameters()):
            e.lerp_(p.detach(), 1.0 - d)


def ema_decay_at(step: int, decay: float) -> float:
    """Warm-up decay min(β, (1+n)/(10+n)): early steps average over few updates, so the EMA is not stuck at init."""
    return min(decay, (1.0 + step) / (10.0 + step))
