"""Skeleton2Stage test-time foot-ground (FGD) guidance and contact-based post-processing.

Guidance (at the final DDIM step, on x̂0, 10 times):  x̂0 ← x̂0 − 2000·σ²_post(t)·∇_{x̂0} L, with
L = Σ_{b,t} ([h < floor] + [h > floor]·contact)·(h − floor)², h = lowest FK joint height per frame, floor = mean of h
over frames and batch (detached); contact = the model's own predicted contact channels → max over feet → EMA (0.85)
→ hysteresis (on > 0.8, off < 0.7, ≥ 2 frames). Only the root-height dimension (6) moves.

Post-processing (``render_sample`` long mode): foot lock (cumulatively cancel the mean horizontal displacement of feet
predicted static, contact > 0.95), ground shift, and contact-gated height smoothing (feet height Gaussian-smoothed,
σ = 1.2 frames, during contact; root z shifted by the difference).
Ground shift deviates on purpose from the code as written (which subtracts the mean height of *all* joints and would
sink the body by ~0.8 m): we subtract the FGD ground, the mean over frames of the lowest joint height, so z = 0 is the
floor the feet stand on.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from dance_rl.motion.fk import forward_kinematics
from dance_rl.motion.representation import features_to_joints
from dance_rl.motion.rotations import axis_angle_to_matrix
from dance_rl.motion.skeleton import FOOT_JOINTS

GUIDANCE_SCALE = 2000.0
GUIDANCE_ITERS = 10
ROOT_Z_DIM = 6


def ema_1d(x: torch.Tensor, alpha: float = 0.85) -> torch.Tensor:
    """y_0 = x_0, y_t = α·y_{t−1} + (1 − α)·x_t along the last dim."""
    out = [x[..., 0]]
    for t in range(1, x.shape[-1]):
        out.append(alpha * out[-1] + (1 - alpha) * x[..., t])
    return torch.stack(out, dim=-1)


def hysteresis(prob: torch.Tensor, on: float = 0.8, off: float = 0.7, min_on: int = 2, min_off: int = 2) -> torch.Tensor:
    """(B, T) probabilities → {0, 1}: switch on above `on`, off below `off`, each state held ≥ min frames."""
    b, n = prob.shape
    state = torch.zeros(b, dtype=torch.bool, device=prob.device)
    run = torch.zeros(b, dtype=torch.long, device=prob.device)
    out = torch.empty(b, n, dtype=prob.dtype, device=prob.device)
    for t in range(n):
        p = prob[:, t]
        switch = torch.where(state, (p < off) & (run >= min_on), (p > on) & (run >= min_off))
        state = state ^ switch
        run = torch.where(switch, torch.ones_like(run), run + 1)
        out[:, t] = state.to(prob.dtype)
    return out


def contact_mask(contacts: torch.Tensor) -> torch.Tensor:
    """Unnormalised predicted contacts (B, T, 4) → smoothed binary per-frame contact (B, T)."""
    return hysteresis(ema_1d(contacts.max(dim=-1).values))


def fgd_loss(x: torch.Tensor, normalizer, contact: torch.Tensor) -> torch.Tensor:
    """L for normalised x (B, T, 151); contact (B, T) in {0, 1}."""
    h = features_to_joints(normalizer.unnormalize(x))[..., 2].min(dim=-1).values  # (B, T)
    floor = h.mean().detach()
    sel = ((h < floor).to(h.dtype) + (h > floor).to(h.dtype) * contact).detach()
    return (sel * (h - floor) ** 2).sum()


def fgd_guidance(x0: torch.Tensor, normalizer, posterior_variance: float, scale: float = GUIDANCE_SCALE,
                 iters: int = GUIDANCE_ITERS) -> torch.Tensor:
    """Move the root height of x̂0 (normalised) down the FGD loss; returns a detached tensor."""
    contact = contact_mask(normalizer.unnormalize(x0)[..., :4])
    step = scale * posterior_variance
    x = x0.detach().clone()
    for _ in range(iters):
        with torch.enable_grad():
            xg = x.clone().requires_grad_(True)
            grad, = torch.autograd.grad(fgd_loss(xg, normalizer, contact), xg)
        x[..., ROOT_Z_DIM] -= step * grad[..., ROOT_Z_DIM]
    return x


def make_fgd_hook(schedule, normalizer, apply_at_t: int, scale: float = GUIDANCE_SCALE, iters: int = GUIDANCE_ITERS):
    """x0_hook for ddim_sample: apply FGD guidance when the step's t equals apply_at_t (the last DDIM step)."""
    var = schedule.posterior_variance_at(apply_at_t)

    def hook(x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if int(t[0]) != apply_at_t:
            return x0
        return fgd_guidance(x0, normalizer, var, scale, iters)
    return hook


# ---------------------------------------------------------------------------------------------------------------------
# Post-processing of one stitched sequence (metres, z up)


def gaussian_smooth_1d(x: torch.Tensor, sigma: float = 1.2) -> torch.Tensor:
    """Gaussian filter along the last dim with reflect padding (x: (T,) or (B, T))."""
    radius = int(math.ceil(3 * sigma))
    k = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (k / sigma) ** 2)
    k = k / k.sum()
    xb = x.reshape(-1, 1, x.shape[-1])
    pad = min(radius, x.shape[-1] - 1)
    xb = F.pad(xb, (pad, pad), mode="reflect") if pad > 0 else xb
    if pad < radius:
        xb = F.pad(xb, (radius - pad, radius - pad), mode="replicate")
    return F.conv1d(xb, k.view(1, 1, -1)).reshape(x.shape)


def postprocess(poses: torch.Tensor, trans: torch.Tensor, contacts: torch.Tensor, *, foot_lock: bool = True,
                ground: bool = True, smooth_height: bool = True, threshold: float = 0.95, sigma: float = 1.2):
    """Contact-based clean-up of one motion: poses (T,24,3) axis-angle, trans (T,3), predicted contacts (T,4).

    Returns (trans (T,3), joints (T,24,3)); poses are unchanged (only the root moves).
    """
    poses = torch.as_tensor(poses, dtype=torch.float32)
    trans = torch.as_tensor(trans, dtype=torch.float32).clone()
    contacts = torch.as_tensor(contacts, dtype=torch.float32)
    rotmats = axis_angle_to_matrix(poses)
    joints = forward_kinematics(rotmats, trans)
    static = contacts[:-1] > threshold  # (T−1, 4): foot j static from t to t+1
    if foot_lock:
        feet = joints[:, list(FOOT_JOINTS)]
        disp = feet[1:] - feet[:-1]  # (T−1, 4, 3)
        cnt = static.sum(-1, keepdim=True).clamp(min=1)
        mean_disp = (disp * static[..., None]).sum(-2) / cnt  # (T−1, 3)
        mean_disp[:, 2] = 0.0
        trans[1:] -= torch.cumsum(mean_disp, dim=0)
        joints = forward_kinematics(rotmats, trans)
    if ground:
        trans[:, 2] -= joints[..., 2].min(dim=-1).values.mean()
        joints = forward_kinematics(rotmats, trans)
    if smooth_height:
        contact01 = static.any(-1).to(trans.dtype)
        contact01 = torch.cat([contact01[:1], contact01])  # (T,)
        foot_h = joints[:, list(FOOT_JOINTS), 2].min(dim=-1).values
        trans[:, 2] += contact01 * (gaussian_smooth_1d(foot_h, sigma) - foot_h)
        joints = forward_kinematics(rotmats, trans)
    return trans, joints


def foot_ground_deviation(joints: torch.Tensor) -> torch.Tensor:
    """Mean |h_t − g| per sequence, h_t = lowest joint height, g = its mean over frames; joints (..., T, 24, 3)."""
    h = joints[..., 2].min(dim=-1).values
    return (h - h.mean(dim=-1, keepdim=True)).abs().mean(dim=-1)
