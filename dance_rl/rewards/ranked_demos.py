"""Automatically ranked demonstrations (E3D2 after D-REX): base-model dances at increasing noise levels ε.

D-REX ranks rollouts of a behaviour-cloned policy by how much noise was mixed into its actions (ε-greedy, ε ∈ {0.02,
0.25, 0.5, 0.75, 1.0}); nobody has to label anything, the order is known by construction. Our policy's "actions" are
the DDIM steps, so the diffusion analogue injects extra Gaussian noise into the latents:

    x_next ← x_next + ε·√(1 − ᾱ_next)·z′,   on every step except the last (t_next = −1)

√(1 − ᾱ_next) is the noise the latent at t_next is meant to carry under the forward process, so ε is the ratio of
extra to expected noise, the same at every step: ε = 0.02 adds 0.04 % variance (practically the base policy), ε = 1
doubles it, so the denoiser keeps seeing latents twice as noisy as their timestep says and its mistakes compound.
z′ has unit variance per element and is half white, half slow: z′ = (z_w + z_s)/√2 with z_s white noise smoothed
over time (Gaussian, σ = ``slow_frames``) and rescaled to unit variance. A random *action* of a motion policy errs at
every time scale; white latent noise alone is mostly removed by the next denoising steps or shows up as jitter only,
while slow deviations look like signal to the denoiser and survive as drifting roots (feet sliding), a body too high
or too low, and poses off for a while: the defects a physical reward must also see.
The last step has no extra noise, so outputs stay in the model's clipped range and differ only in how well the chain
was steered. It uses the sampler's ``post_step`` hook, so sampling code is untouched. Every level starts from the same
x_T and the same sampler noise per window: levels differ only by the injected noise (paired demonstrations).
Real mocap windows of the same music rank above every level (rank 0).
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from dance_rl.diffusion.sampler import ddim_sample
from dance_rl.diffusion.schedule import NoiseSchedule
from dance_rl.rewards.reward_net import RewardNet, RewardNetSpec, build_inputs

NOISE_LEVELS = (0.02, 0.25, 0.5, 0.75, 1.0)  # D-REX / E3D2


def slow_noise(shape, generator: torch.Generator, frames: float) -> torch.Tensor:
    """(B, T, D) white noise smoothed over T with a Gaussian of σ = ``frames``, rescaled to unit variance."""
    b, t, d = shape
    radius = int(3 * frames)
    k = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, dtype=torch.float32) / frames) ** 2)
    k = k / k.norm()  # unit energy: smoothed white noise keeps unit variance away from the ends
    z = torch.randn((b * d, 1, t + 2 * radius), generator=generator, device=generator.device)
    return torch.nn.functional.conv1d(z, k.view(1, 1, -1)).view(b, d, t).transpose(1, 2)


def latent_noise_hook(schedule: NoiseSchedule, steps: int, eps: float, generator: torch.Generator,
                      slow_frames: float = 15.0) -> Callable[[torch.Tensor, int], torch.Tensor]:
    """``post_step(x_next, t)`` adding ε·√(1 − ᾱ_{t_next})·z′ (the sampler calls it only when t_next ≥ 0);
    z′ = (white + slow)/√2 (module doc), or white only with ``slow_frames`` = 0."""
    next_of = dict(schedule.ddim_timesteps(steps))

    def post_step(x_next: torch.Tensor, t) -> torch.Tensor:
        t_next = next_of[int(t)]
        scale = eps * math.sqrt(1.0 - float(schedule.alphas_cumprod[t_next]))
        z = torch.randn(x_next.shape, generator=generator, dtype=torch.float32, device=generator.device)
        if slow_frames > 0:
            z = (z + slow_noise(x_next.shape, generator, slow_frames)) / math.sqrt(2.0)
        return x_next + scale * z.to(x_next.device, x_next.dtype)

    return post_step


@torch.no_grad()
def sample_levels(model, normalizer, schedule: NoiseSchedule, music: np.ndarray, levels=NOISE_LEVELS, *,
                  steps: int = 50, eta: float = 1.0, guidance_weight: float = 2.0, seed: int = 0,
                  batch_size: int = 64, device: str = "cpu", slow_frames: float = 15.0,
                  progress=None) -> np.ndarray:
    """(L, N, T, 151) unnormalised motion features: one sample per music window (N, T, 35) and noise level.

    Window i uses seed ``seed + i // batch_size`` chunk-wise for its x_T and sampler noise at every level; the
    injected noise has its own generator per (level, chunk). ``progress(n)`` is called after each chunk.
    """
    out = np.empty((len(levels), len(music), model.spec.seq_len, model.spec.nfeats), dtype=np.float32)
    for li, eps in enumerate(levels):
        for ci, start in enumerate(range(0, len(music), batch_size)):
            cond = torch.as_tensor(music[start:start + batch_size], dtype=torch.float32, device=device)
            gen = torch.Generator().manual_seed(seed * 1_000_003 + ci)
            inject = torch.Generator().manual_seed(seed * 1_000_003 + 7919 * (li + 1) + ci)
            hook = latent_noise_hook(schedule, steps, float(eps), inject, slow_frames) if eps > 0 else None
            res = ddim_sample(model, schedule, cond, steps=steps, eta=eta, guidance_weight=guidance_weight,
                              generator=gen, return_chain=False, post_step=hook)
            out[li, start:start + len(cond)] = normalizer.unnormalize(res.x0.float().cpu()).numpy()
            if progress is not None:
                progress(len(cond))
    return out


def pair_accuracy(scores: np.ndarray) -> np.ndarray:
    """scores (R, N): reward of rank r (0 = best) on window n → (R, R) matrix; [a, b] for a < b is the fraction of
    windows where rank a scores above rank b (the paired, same-music comparison); NaN on and below the diagonal."""
    r = scores.shape[0]
    acc = np.full((r, r), np.nan)
    for a in range(r):
        for b in range(a + 1, r):
            acc[a, b] = float(np.mean(scores[a] > scores[b]))
    return acc


def demo_joints(features: np.ndarray, fps: float = 30.0) -> np.ndarray:
    """(R, N, T, 151) → (R, N, T, 24, 3) FK joints (the inputs the reward sees in a MotionBatch)."""
    from dance_rl.rewards.batch import MotionBatch

    r, n = features.shape[:2]
    j = MotionBatch.from_features(features.reshape((r * n,) + features.shape[2:]), fps=fps).joints
    return j.reshape((r, n) + j.shape[1:]).astype(np.float32)


def demo_inputs(demos: dict, spec: RewardNetSpec, fps: float = 30.0) -> torch.Tensor:
    """(R, N, T, F) raw network inputs of the demonstrations (music repeated over ranks)."""
    joints = demo_joints(demos["features"], fps)
    r, n, t = joints.shape[:3]
    music = np.broadcast_to(demos["music"][None], (r,) + demos["music"].shape).reshape(r * n, t, -1)
    return build_inputs(joints.reshape(r * n, t, 24, 3), music, fps, spec).reshape(r, n, t, -1)


def window_scores(net: RewardNet, x: torch.Tensor) -> torch.Tensor:
    """x (R, B, T, F) → (R, B) window rewards (mean over frames of the per-frame reward)."""
    r, b = x.shape[:2]
    return net(x.reshape((r * b,) + x.shape[2:])).mean(dim=1).reshape(r, b)


@torch.no_grad()
def score_inputs(net: RewardNet, x: torch.Tensor, chunk: int = 64) -> np.ndarray:
    """(R, N, T, F) → (R, N) window rewards (eval mode, in chunks of windows)."""
    net.eval()
    return torch.cat([window_scores(net, x[:, i:i + chunk]) for i in range(0, x.shape[1], chunk)], dim=1).numpy()
