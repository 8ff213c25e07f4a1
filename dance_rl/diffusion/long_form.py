"""Long-form generation for any song length (EDGE ``long_ddim_sample`` + ``render_sample(mode="long")``).

The song is cut into 5-s windows with a 2.5-s stride; all B windows are denoised jointly and, after every step but
the last, the first half of window i+1 is overwritten with the second half of window i, so neighbours agree. The CFG
weight ramps as clip(linspace(0, 2w, S), max=w). Windows are then stitched: the root position is cross-faded linearly
over each overlap and joint rotations are slerped (weight 0 → 1). Output length: 150 + 75·(B − 1) frames.
Not in EDGE: before stitching, the jump inside each window where its constrained first half meets its own second half
is spread over the first half (heal_midpoints); EDGE leaves it (several cm of root motion in one frame).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from dance_rl.diffusion.guidance import make_fgd_hook
from dance_rl.diffusion.sampler import ddim_sample
from dance_rl.motion.representation import features_to_rotmats
from dance_rl.motion.rotations import matrix_to_quat, quat_slerp, quat_to_axis_angle


def num_windows(frames: int, window: int = 150, stride: int = 75) -> int:
    """Windows needed to cover `frames` frames: 150 + 75·(B − 1) ≥ frames."""
    return max(1, math.ceil(max(frames - window, 0) / stride) + 1)


def split_windows(features: torch.Tensor, window: int = 150, stride: int = 75) -> torch.Tensor:
    """Music features (N, C) → (B, window, C), the last window padded by repeating the final frame."""
    n = features.shape[0]
    b = num_windows(n, window, stride)
    total = window + stride * (b - 1)
    if total > n:
        features = torch.cat([features, features[-1:].expand(total - n, -1)], dim=0)
    return torch.stack([features[i * stride: i * stride + window] for i in range(b)])


def guidance_ramp(guidance_weight: float, steps: int) -> list[float]:
    return np.clip(np.linspace(0, 2 * guidance_weight, steps), None, guidance_weight).tolist()


def overlap_constraint(x: torch.Tensor, t: int | None = None) -> torch.Tensor:
    """x[1:, :half] = x[:-1, half:]: each window starts where the previous one is halfway (post_step hook)."""
    half = x.shape[1] // 2
    x = x.clone()
    x[1:, :half] = x[:-1, half:]
    return x


@torch.no_grad()
def long_sample(model, schedule, cond_windows: torch.Tensor, *, steps: int = 50, eta: float = 1.0,
                guidance_weight: float = 2.0, clip_denoised: bool = True, generator: torch.Generator | None = None,
                fgd_guidance: bool = False, normalizer=None) -> torch.Tensor:
    """Jointly denoise B overlapping windows (B, 150, C) → normalised motion windows (B, 150, 151)."""
    b = cond_windows.shape[0]
    hook = None
    if fgd_guidance:
        if normalizer is None:
            raise ValueError("fgd_guidance needs the normaliser")
        hook = make_fgd_hook(schedule, normalizer, apply_at_t=schedule.ddim_timesteps(steps)[-1][0])
    if b == 1:  # nothing to stitch: EDGE falls back to plain DDIM with a constant weight
        return ddim_sample(model, schedule, cond_windows, steps=steps, eta=eta, guidance_weight=guidance_weight,
                           clip_denoised=clip_denoised, generator=generator, return_chain=False, x0_hook=hook).x0
    return ddim_sample(model, schedule, cond_windows, steps=steps, eta=eta,
                       guidance_weight=guidance_ramp(guidance_weight, steps), clip_denoised=clip_denoised,
                       generator=generator, return_chain=False, x0_hook=hook, post_step=overlap_constraint).x0


def heal_midpoints(x: torch.Tensor) -> torch.Tensor:
    """Remove the jump in the middle of windows 1..B−1, where their constrained first half meets their own second half.

    The overlap constraint is not applied to the final x̂0, and for root positions in particular (a wide normalised
    range, so little precision at the last, least noisy steps) the two halves of a window can disagree by several
    centimetres. The jump minus the mean neighbouring velocity is spread over the first half with a 0 → 1 ramp: the
    window still starts where it did and the cross-fade stays continuous. x (B, n, D) features → healed copy.
    """
    x = x.clone()
    half = x.shape[1] // 2
    mid = x[1:, half - 2: half + 2]  # frames half−2 … half+1
    v = mid[:, 1:] - mid[:, :-1]  # three steps, the middle one crosses the seam
    jump = v[:, 1] - 0.5 * (v[:, 0] + v[:, 2])  # (B−1, D)
    ramp = torch.linspace(0, 1, half, dtype=x.dtype)[None, :, None]
    x[1:, :half] += jump[:, None, :] * ramp
    return x


def stitch(windows: torch.Tensor, heal: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Unnormalised windows (B, n, 151) → (poses (N,24,3) axis-angle, trans (N,3), contacts (N,4)), N = n + n/2·(B−1).

    heal: first remove jumps where a window's constrained first half meets its own second half (:func:`heal_midpoints`,
    root position and 6-D rotations; not in EDGE).
    """
    b, n, _ = windows.shape
    half = n // 2
    if heal and b > 1:
        windows = torch.cat([windows[..., :4], heal_midpoints(windows[..., 4:])], dim=-1)
    quats = matrix_to_quat(features_to_rotmats(windows))  # (B, n, 24, 4)
    pos, con = windows[..., 4:7], windows[..., :4]
    if b == 1:
        return quat_to_axis_angle(quats[0]), pos[0].clone(), con[0].clone()
    total = n + half * (b - 1)
    fade_out = torch.ones(n, 1, dtype=windows.dtype)
    fade_in = torch.ones(n, 1, dtype=windows.dtype)
    fade_out[half:, 0] = torch.linspace(1, 0, n - half, dtype=windows.dtype)
    fade_in[:half, 0] = torch.linspace(0, 1, half, dtype=windows.dtype)
    trans = torch.zeros(total, 3, dtype=windows.dtype)
    contacts = torch.zeros(total, 4, dtype=windows.dtype)
    for i in range(b):
        w = (fade_out if i < b - 1 else torch.ones_like(fade_out)) * (fade_in if i > 0 else torch.ones_like(fade_in))
        trans[i * half: i * half + n] += pos[i] * w
        contacts[i * half: i * half + n] += con[i] * w
    weight = torch.linspace(0, 1, half, dtype=windows.dtype).reshape(1, half, 1)  # broadcasts as (1, half, 1, 1)
    merged = quat_slerp(quats[:-1, half:], quats[1:, :half], weight)  # (B−1, half, 24, 4)
    full_q = torch.cat([quats[0, :half], merged.reshape(-1, *quats.shape[2:]), quats[-1, half:]], dim=0)
    return quat_to_axis_angle(full_q), trans, contacts
