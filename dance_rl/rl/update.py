"""One policy-gradient update of the diffusion model over stored DDIM chains (no Ray; the Learner actor calls this).

Reads top to bottom like Skeleton2Stage's ``train_rl`` update:

    for each inner epoch:
        for each stochastic denoising step j:              # one step at a time → memory flat in the number of steps
            log p_θ(x_{j+1} | x_j, music)  recomputed with current parameters           (B, T) per frame
            loss_j = policy loss (REINFORCE or PPO-clip) with per-frame advantages       (+ optional KL to base model)
            loss_j.backward()                             # gradients accumulate across steps
        clip grad norm; optimizer step; EMA update

The final DDIM step is deterministic (σ = 0, x_0 = x̂0): its log-density is a constant at the stored sample, so it
carries no policy gradient and is skipped (Skeleton2Stage evaluates it with σ floored at 1e-6, where any numerical
mismatch between sampling and recomputation would be amplified by 1/σ² = 1e12).
Since all steps are accumulated before one optimiser step, the order of steps does not change the update.
Mixed precision: the recomputation runs under the same autocast as sampling (``precision``, diffusion/device.py), so
the recomputed log-probs match the stored ones; fp16 scales each step's loss with ``scaler`` (a torch GradScaler).
"""
from __future__ import annotations

import torch

from dance_rl.diffusion.device import autocast
from dance_rl.diffusion.ema import EMA
from dance_rl.diffusion.sampler import gaussian_logprob, step_logprob, step_mean
from dance_rl.rl.losses import kl_penalty, policy_loss
from dance_rl.rl.rollout import Rollout


def stochastic_steps(rollout: Rollout) -> list[int]:
    return [j for j in range(len(rollout.timesteps)) if int(rollout.next_timesteps[j]) >= 0]


def policy_update(model, schedule, optimizer, rollout: Rollout, advantages: torch.Tensor, *, algorithm: str = "reinforce",
                  eta: float = 1.0, clip_denoised: bool = True, clip_range: float = 0.2, inner_epochs: int = 1,
                  grad_clip: float = 1.0, kl_weight: float = 0.0, ref_model=None, ema: EMA | None = None,
                  micro_batch: int = 0, precision: str = "off", scaler=None) -> dict:
    """Update ``model`` in place from one batch of chains; returns scalar statistics.

    ``micro_batch`` > 0 splits the samples into micro-batches per step (memory bounded by one step of one
    micro-batch); the accumulated gradient is identical. ``precision`` ('off' | 'bf16' | 'fp16', resolved) must be
    the one the samplers used; ``scaler`` (needed for fp16) scales the per-step losses.
    """
    if kl_weight > 0 and ref_model is None:
        raise ValueError("kl_weight > 0 needs the frozen reference model")
    model.eval()  # no dropout: the recomputed log-probs must match the sampling-time ones
    def amp():
        return autocast(rollout.latents.device, precision)

    if precision == "fp16" and scaler is None:
        raise ValueError("fp16 needs a GradScaler (diffusion.device.grad_scaler)")
    adv = advantages.to(rollout.latents.dtype)
    steps = stochastic_steps(rollout)
    n = len(rollout.keys)
    mb = micro_batch if micro_batch > 0 else n
    stats = {"loss": 0.0, "kl": 0.0, "approx_kl": 0.0, "clipfrac": 0.0, "logp_drift": 0.0}
    grad_norm = 0.0
    for _ in range(inner_epochs):
        optimizer.zero_grad(set_to_none=True)
        for j in steps:
            t, t_next, w = int(rollout.timesteps[j]), int(rollout.next_timesteps[j]), float(rollout.guidance_weights[j])
            for lo in range(0, n, mb):
                sl = slice(lo, min(n, lo + mb))
                frac = (sl.stop - sl.start) / n
                x_t, x_next = rollout.latents[sl, j], rollout.latents[sl, j + 1]
                cond, a, old = rollout.cond[sl], adv[sl], rollout.log_probs[sl, j]
                if kl_weight > 0:
                    with amp():
                        mean, sigma, x0 = step_mean(model, schedule, x_t, t, t_next, cond, eta=eta, guidance_weight=w,
                                                    clip_denoised=clip_denoised)
                    logp = gaussian_logprob(x_next, mean, sigma)
                    with torch.no_grad(), amp():
                        _, _, x0_ref = step_mean(ref_model, schedule, x_t, t, t_next, cond, eta=eta,
                                                 guidance_weight=w, clip_denoised=clip_denoised)
                    eps, eps_ref = schedule.eps_from_x0(x_t, t, x0), schedule.eps_from_x0(x_t, t, x0_ref)
                    kl = kl_penalty(eps, eps_ref, kl_weight, len(steps)) * frac
                else:
                    with amp():
                        logp = step_logprob(model, schedule, x_t, x_next, t, t_next, cond, eta=eta,
                                            guidance_weight=w, clip_denoised=clip_denoised).float()
                    kl = torch.zeros(())
                loss, s = policy_loss(algorithm, logp, old, a, clip_range=clip_range, num_steps=len(steps))
                total = loss * frac + kl
                (scaler.scale(total) if scaler is not None else total).backward()
                stats["loss"] += float(loss.detach()) * frac
                stats["kl"] += float(kl.detach())
                stats["logp_drift"] += float((logp.detach() - old).abs().mean()) * frac / len(steps)
                for k in ("approx_kl", "clipfrac"):
                    stats[k] += s.get(k, 0.0) * frac / len(steps)
        if scaler is not None:
            scaler.unscale_(optimizer)
        params = [p for p in model.parameters() if p.grad is not None]
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, grad_clip if grad_clip > 0 else float("inf")))
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        if ema is not None:
            ema.update(model)
    stats = {k: v / inner_epochs for k, v in stats.items()}
    stats["grad_norm"] = grad_norm
    stats["steps_trained"] = float(len(steps))
    return stats
