"""What a sampler hands the learner for one chunk: the DDIM chains, their per-step log-probs and the music.

Written by the sampler (cluster/sampler_actor.py), read by the policy update (rl/update.py); the chains are
replayed one denoising step at a time, so every intermediate latent is kept.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Rollout:
    """What samplers return for one chunk of samples (CPU tensors, normalised space)."""
    keys: list                 # music key per sample
    cond: torch.Tensor         # (B, T, C) music features
    latents: torch.Tensor      # (B, S+1, T, D) x_T … x_0
    timesteps: torch.Tensor    # (S,)
    next_timesteps: torch.Tensor  # (S,), −1 on the last step
    log_probs: torch.Tensor    # (B, S, T) sampling-time log-probs
    guidance_weights: torch.Tensor  # (S,)
    version: int               # weights version that sampled it

    @staticmethod
    def concat(parts: list["Rollout"]) -> "Rollout":
        p0 = parts[0]
        return Rollout(
            keys=[k for p in parts for k in p.keys],
            cond=torch.cat([p.cond for p in parts]), latents=torch.cat([p.latents for p in parts]),
            timesteps=p0.timesteps, next_timesteps=p0.next_timesteps,
            log_probs=torch.cat([p.log_probs for p in parts]), guidance_weights=p0.guidance_weights,
            version=min(p.version for p in parts),
        )
