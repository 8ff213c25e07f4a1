"""Reward gradients through the last DDIM steps (DRaFT-K, Clark et al. 2023) with differentiable physics errors.

Why: a policy gradient estimates the reward's direction from the spread of a few dozen samples; with 64 samples per
update its noise alone moved the model toward stillness (docs/results.md, session 13: a placebo run froze as fast as
the recipe). Here the gradient is exact: the last K denoising steps are replayed with autograd from the stored chain,
the final motion goes through forward kinematics, and the kinematic errors (rewards/differentiable.py) are
differentiated with respect to the weights. Reads top to bottom:

    x = stored latent K steps before the end (no gradient)
    for each of the last K steps:                       # reparameterised at the stored sample
        μ_θ(x) ;  x_next = stored x_next + μ_θ(x) − stop_grad(μ_θ(x))    (value unchanged, gradient through μ_θ)
    the same replay with the frozen base model gives the reference motion x_ref (no gradient)
    loss = Σ_i w_i · relu(E_i(x) − target_i·E_i(x_ref)) / mean E_i(x_ref)  # per sample, relative to what the base
                                                        # makes from here; no push once below target × the base's
         + w_motion · Σ_m relu(1 − m(x)/m(x_ref))         # per sample, m = motion magnitude (plain, low-pass) and
                                                        # kinetic energy: no freezing
         + w_anchor · mean (x − x_ref)²                   # stay near the base (normalised features)
    for chain_steps of the earlier steps (no reward gradient reaches them, but they share the weights):
         + w_chain · mean (x̂0_θ − x̂0_base)²                # the start of the chain stays the base's
    backward; clip; optimiser step; EMA

With unchanged weights the replay reproduces the stored chain exactly, so the loss is evaluated on the very samples
the reward actors scored.
"""
from __future__ import annotations

import numpy as np
import torch

from dance_rl.config import DRAFT_ERRORS
from dance_rl.diffusion.ema import EMA
from dance_rl.diffusion.sampler import step_mean
from dance_rl.motion.representation import ROT_SLICE, features_to_joints
from dance_rl.rewards import differentiable as dr
from dance_rl.rl.rollout import Rollout

ERRORS = DRAFT_ERRORS
MOTION = ("motion", "motion_lowpass", "kinetic")  # held at the base's level by the hinge


def replay(model, schedule, rollout: Rollout, sl: slice, k: int, *, eta: float, clip_denoised: bool) -> torch.Tensor:
    """The final sample (normalised) of rollout[sl] recomputed through the last ``k`` steps, differentiably."""
    n = len(rollout.timesteps)
    x = rollout.latents[sl, n - k]
    cond = rollout.cond[sl]
    for j in range(n - k, n):
        t, t_next, w = int(rollout.timesteps[j]), int(rollout.next_timesteps[j]), float(rollout.guidance_weights[j])
        mean, _, _ = step_mean(model, schedule, x, t, t_next, cond, eta=eta, guidance_weight=w,
                               clip_denoised=clip_denoised)
        x = rollout.latents[sl, j + 1] + mean - mean.detach() if t_next >= 0 else mean
    return x


def chain_anchor(model, ref_model, schedule, rollout: Rollout, sl: slice, steps: list[int], *, eta: float,
                 clip_denoised: bool) -> torch.Tensor:
    """Mean over the stored ``steps`` of mean (x̂0_θ − x̂0_base)² (normalised features).

    Why x̂0 and not DPOK's ε̂: ε̂ − ε̂_base = (x̂0_base − x̂0)·√(ᾱ/(1 − ᾱ)), which vanishes at the high-noise steps where
    the dance's large-scale motion is decided; there the ε form let the motion drift while its KL stayed ~1e-4."""
    total = torch.zeros(())
    cond = rollout.cond[sl]
    for j in steps:
        t, t_next, w = int(rollout.timesteps[j]), int(rollout.next_timesteps[j]), float(rollout.guidance_weights[j])
        x_t = rollout.latents[sl, j]
        _, _, x0 = step_mean(model, schedule, x_t, t, t_next, cond, eta=eta, guidance_weight=w,
                             clip_denoised=clip_denoised)
        with torch.no_grad():
            _, _, x0_ref = step_mean(ref_model, schedule, x_t, t, t_next, cond, eta=eta, guidance_weight=w,
                                     clip_denoised=clip_denoised)
        total = total + ((x0 - x0_ref) ** 2).mean()
    return total / max(1, len(steps))


def motion_errors(x: torch.Tensor, normalizer, fps: float = 30.0) -> dict[str, torch.Tensor]:
    """Per-sample (B,) errors and motion terms of normalised features x (B, T, 151)."""
    feats = normalizer.unnormalize(x)
    joints = features_to_joints(feats)
    rot6d = feats[..., ROT_SLICE]
    return {"pfc": dr.pfc(joints, fps), "fgd": dr.fgd(joints), "floor": dr.floor(joints), "skate": dr.skate(joints, fps),
            "pen": dr.penetration(joints), "lift": dr.lift(joints),
            "motion": dr.motion(rot6d, fps), "motion_lowpass": dr.motion_lowpass(rot6d, fps),
            "kinetic": dr.kinetic(joints, fps)}


def draft_update(model, ref_model, schedule, optimizer, rollout: Rollout, normalizer, *, steps: int = 1,
                 weights: dict[str, float], target: float = 0.0, targets: dict[str, float] | None = None,
                 motion_weight: float = 1.0, anchor_weight: float = 0.0,
                 chain_weight: float = 0.0, chain_steps: int = 2, seed=0,
                 eta: float = 1.0, clip_denoised: bool = True, grad_clip: float = 1.0, ema: EMA | None = None,
                 micro_batch: int = 0, fps: float = 30.0) -> dict:
    """One optimiser step on the batch's chains; returns scalar statistics (errors relative to the base replay)."""
    k = min(max(1, steps), len(rollout.timesteps))
    model.eval()  # no dropout: the replay must reproduce the stored chain
    n = len(rollout.keys)
    mb = micro_batch if micro_batch > 0 else n
    with torch.no_grad():  # the base model's motion from the same latents: reference and per-term scale
        x_ref = replay(ref_model, schedule, rollout, slice(0, n), k, eta=eta, clip_denoised=clip_denoised)
        ref = motion_errors(x_ref, normalizer, fps)
    scale = {name: ref[name].mean().clamp(min=1e-9) for name in ERRORS}
    goal = {name: (targets or {}).get(name, target) for name in ERRORS}
    earlier = len(rollout.timesteps) - k  # the chain anchor looks at chain_steps of them, drawn from ``seed``
    chain_at = sorted(np.random.default_rng(seed).permutation(earlier)[:chain_steps].tolist()) if earlier else []
    optimizer.zero_grad(set_to_none=True)
    stats = {f"rel_{name}": 0.0 for name in (*ERRORS, *MOTION)}
    stats.update(loss=0.0, anchor=0.0, motion_hinge=0.0, chain_anchor=0.0)
    for lo in range(0, n, mb):
        sl = slice(lo, min(n, lo + mb))
        frac = (sl.stop - sl.start) / n
        x = replay(model, schedule, rollout, sl, k, eta=eta, clip_denoised=clip_denoised)
        err = motion_errors(x, normalizer, fps)
        loss = sum(weights.get(name, 0.0) * torch.relu(err[name] - goal[name] * ref[name][sl]).mean() / scale[name]
                   for name in ERRORS)
        hinge = sum(torch.relu(1 - err[m] / ref[m][sl].clamp(min=1e-9)).mean() for m in MOTION)
        loss = loss + motion_weight * hinge
        anchor = ((x - x_ref[sl]) ** 2).mean()
        loss = loss + anchor_weight * anchor
        if chain_weight > 0:
            drift = chain_anchor(model, ref_model, schedule, rollout, sl, chain_at, eta=eta, clip_denoised=clip_denoised)
            loss = loss + chain_weight * drift
            stats["chain_anchor"] += float(drift.detach()) * frac
        (loss * frac).backward()
        stats["loss"] += float(loss.detach()) * frac
        stats["anchor"] += float(anchor.detach()) * frac
        stats["motion_hinge"] += float(hinge.detach()) * frac
        for name in (*ERRORS, *MOTION):
            stats[f"rel_{name}"] += float(err[name].detach().mean() / ref[name].mean().clamp(min=1e-9)) * frac
    params = [p for p in model.parameters() if p.grad is not None]
    stats["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(params, grad_clip if grad_clip > 0 else float("inf")))
    optimizer.step()
    if ema is not None:
        ema.update(model)
    stats["steps_trained"] = float(k)
    return stats
