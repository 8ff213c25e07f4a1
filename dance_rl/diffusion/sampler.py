"""DDIM sampling with per-step Gaussian log-probabilities, and their recomputation for policy gradients.

One denoising step (EDGE ``ddim_sample``, Skeleton2Stage ``return_logprob``):

    x̂0 = clip(guided model(x_t, music, t), −1, 1);  ε̂ = (x_t/√ᾱ_t − x̂0)/√(1/ᾱ_t − 1)
    μ = √ᾱ_next·x̂0 + c·ε̂;  x_next = μ + σ·z;  log p = mean_features log N(x_next; μ, max(σ, 1e-6)²)  → (B, T)

The RL learner calls :func:`step_logprob` on stored transitions (x_t, x_next, t, t_next), one step at a time, so its
memory does not grow with the number of denoising steps. Sampling and recomputation share :func:`step_mean`, so with
unchanged parameters, the same batch and the model in eval mode the recomputed log-prob equals the stored one.

Note on the last step (t_next = −1): σ = 0 and x_next = x̂0, so its log-density is evaluated with σ = 1e-6 (as
Skeleton2Stage does). It is a constant while parameters are unchanged; learners may prefer to skip it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from dance_rl.diffusion.schedule import NoiseSchedule

SIGMA_FLOOR = 1e-6
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


@dataclass
class SampleResult:
    """Output of :func:`ddim_sample` (normalised space).

    x0:          (B, T, D) final sample.
    latents:     (B, S+1, T, D) x_T … x_0 (latents[:, j] → latents[:, j+1] is step j), or None.
    timesteps:   (S,) t of each step;  next_timesteps: (S,) t_next (−1 on the last step).
    log_probs:   (B, S, T) per-step, per-frame log-probabilities, or None.
    x0_preds:    (B, S, T, D) x̂0 at each step, or None.
    guidance_weights: (S,) CFG weight used at each step.
    """
    x0: torch.Tensor
    latents: torch.Tensor | None
    timesteps: torch.Tensor
    next_timesteps: torch.Tensor
    log_probs: torch.Tensor | None
    x0_preds: torch.Tensor | None
    guidance_weights: torch.Tensor


def gaussian_logprob(x: torch.Tensor, mean: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """log N(x; mean, σ²) per element, σ floored at 1e-6, averaged over the last (feature) dim → (..., T)."""
    sigma = sigma.clamp(min=SIGMA_FLOOR)
    lp = -((x.detach() - mean) ** 2) / (2 * sigma ** 2) - torch.log(sigma) - _LOG_SQRT_2PI
    return lp.mean(dim=-1)


def predict_x0(model, x_t, cond, t, guidance_weight, clip_denoised: bool = True) -> torch.Tensor:
    """Guided x̂0 (w = 1 → the conditional prediction alone, one forward pass)."""
    if not torch.is_tensor(guidance_weight) and float(guidance_weight) == 1.0:
        x0 = model(x_t, cond, t)
    else:
        x0 = model.guided_forward(x_t, cond, t, guidance_weight)
    return x0.clamp(-1.0, 1.0) if clip_denoised else x0


def step_mean(model, schedule: NoiseSchedule, x_t: torch.Tensor, t, t_next, cond: torch.Tensor, *, eta: float,
              guidance_weight, clip_denoised: bool = True,
              x0_hook: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None):
    """(μ, σ, x̂0) of p(x_next | x_t); t and t_next are ints or (B,) long tensors (t_next = −1 on the last step)."""
    t = _vec(t, x_t)
    t_next = _vec(t_next, x_t)
    x0 = predict_x0(model, x_t, cond, t, guidance_weight, clip_denoised)
    if x0_hook is not None:
        x0 = x0_hook(x0, t)
    eps = schedule.eps_from_x0(x_t, t, x0)
    a_next_sqrt, c, sigma = schedule.ddim_coefficients(t, t_next, x_t, eta)
    return a_next_sqrt * x0 + c * eps, sigma, x0


def step_logprob(model, schedule: NoiseSchedule, x_t: torch.Tensor, x_next: torch.Tensor, t, t_next,
                 cond: torch.Tensor, *, eta: float = 1.0, guidance_weight=2.0, clip_denoised: bool = True) -> torch.Tensor:
    """Log-prob (B, T) of a stored transition x_t → x_next under the current parameters; differentiable.

    Call it inside a loop over steps and backpropagate each step's loss before the next, so the autograd graph holds
    one denoising step at a time. Use the same eta / guidance_weight / clip_denoised as at sampling time.
    """
    mean, sigma, _ = step_mean(model, schedule, x_t, t, t_next, cond, eta=eta, guidance_weight=guidance_weight,
                               clip_denoised=clip_denoised)
    return gaussian_logprob(x_next, mean, sigma)


@torch.no_grad()
def ddim_sample(model, schedule: NoiseSchedule, cond: torch.Tensor, *, steps: int = 50, eta: float = 1.0,
                guidance_weight: float | Sequence[float] = 2.0, clip_denoised: bool = True,
                noise: torch.Tensor | None = None, generator: torch.Generator | None = None,
                return_chain: bool = True,
                x0_hook: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                post_step: Callable[[torch.Tensor, int], torch.Tensor] | None = None) -> SampleResult:
    """Sample (B, seq_len, nfeats) motions for music cond (B, seq_len, C).

    guidance_weight: one float, or one per step (long-form ramps it). x0_hook(x̂0, t) may edit x̂0 (FGD guidance);
    post_step(x_next, t) may edit the new latent (long-form overlap constraint). Either makes the stored log-probs
    describe the unedited Gaussian step, so RL sampling uses neither.
    """
    spec = model.spec
    b = cond.shape[0]
    device = cond.device
    dtype = cond.dtype if cond.dtype.is_floating_point else torch.float32
    pairs = schedule.ddim_timesteps(steps)
    weights = [float(guidance_weight)] * len(pairs) if not isinstance(guidance_weight, (list, tuple)) \
        else [float(w) for w in guidance_weight]
    if len(weights) != len(pairs):
        raise ValueError(f"guidance_weight has {len(weights)} entries for {len(pairs)} steps")
    shape = (b, spec.seq_len, spec.nfeats)
    x = noise.to(device=device, dtype=dtype) if noise is not None else _randn(shape, generator, dtype, device)
    latents, log_probs, x0_preds = ([x], [], []) if return_chain else (None, None, None)
    for (t, t_next), w in zip(pairs, weights):
        mean, sigma, x0 = step_mean(model, schedule, x, t, t_next, cond, eta=eta, guidance_weight=w,
                                    clip_denoised=clip_denoised, x0_hook=x0_hook)
        z = _randn(x.shape, generator, dtype, device)
        x_next = mean + sigma * z
        if return_chain:
            log_probs.append(gaussian_logprob(x_next, mean, sigma))
            x0_preds.append(x0)
        if post_step is not None and t_next >= 0:
            x_next = post_step(x_next, t)
        x = x_next
        if return_chain:
            latents.append(x)
    ts = torch.tensor([p[0] for p in pairs], dtype=torch.long)
    ts_next = torch.tensor([p[1] for p in pairs], dtype=torch.long)
    return SampleResult(
        x0=x,
        latents=torch.stack(latents, dim=1) if return_chain else None,
        timesteps=ts, next_timesteps=ts_next,
        log_probs=torch.stack(log_probs, dim=1) if return_chain else None,
        x0_preds=torch.stack(x0_preds, dim=1) if return_chain else None,
        guidance_weights=torch.tensor(weights),
    )


def _randn(shape, generator: torch.Generator | None, dtype, device) -> torch.Tensor:
    """Draw on the generator's device (reproducible across devices when a CPU generator is given)."""
    if generator is None:
        return torch.randn(shape, dtype=dtype, device=device)
    return torch.randn(shape, generator=generator, dtype=dtype, device=generator.device).to(device)


def _vec(t, like: torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(t, dtype=torch.long, device=like.device)
    return t.expand(like.shape[0]) if t.dim() == 0 else t
