"""The learned reward's network (E3D2): (joint motion, music) per frame → a scalar reward per frame.

Inputs per frame (from FK joints, so a reward actor reuses the batch's cached FK and needs no 151-d round trip):
joint positions relative to the frame's root xy (z stays absolute, so floating and sinking are visible) and joint
velocities, both turned so the first frame faces +x (the corpus has random headings; the reward should not care),
plus the 35-d music features. A small dilated temporal CNN maps them to r_t; the window's reward is mean_t r_t, so
per-frame rewards come for free and average to the per-sample one.

Checkpoint (``torch.load(weights_only=True)``-readable plain dict):
{format, spec, model (state_dict), normalizer {mean, std} of the inputs, levels, train {…}, metrics {…}}.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dance_rl.errors import UserError

FORMAT = "dance_rl.reward_model.v1"
MOTION_DIM = 24 * 3 * 2   # positions + velocities
MUSIC_DIM = 35
L_HIP, R_HIP = 1, 2


@dataclass
class RewardNetSpec:
    """Sizes of :class:`RewardNet` (stored in the checkpoint so the loader rebuilds the same net)."""
    hidden: int = 64
    dilations: tuple = (1, 2, 4, 8)   # receptive field 1 + 2·Σd = 31 frames (~1 s) with kernel 3
    music_dim: int = MUSIC_DIM
    use_music: bool = True

    @property
    def in_dim(self) -> int:
        return MOTION_DIM + (self.music_dim if self.use_music else 0)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["dilations"] = list(self.dilations)
        return d


def motion_inputs(joints, fps: float) -> torch.Tensor:
    """(B,T,24,3) world joints (z up) → (B,T,144) heading-canonical positions (root-xy relative) and velocities."""
    j = torch.as_tensor(np.asarray(joints), dtype=torch.float32)
    hip = j[:, 0, L_HIP, :2] - j[:, 0, R_HIP, :2]              # points to the body's left
    yaw = torch.atan2(hip[:, 1], hip[:, 0]) - torch.pi / 2      # facing direction = left rotated by −90°
    c, s = torch.cos(-yaw)[:, None, None], torch.sin(-yaw)[:, None, None]

    def turn(xy):  # rotate (B,T,24,2) by −yaw
        return torch.stack([c * xy[..., 0] - s * xy[..., 1], s * xy[..., 0] + c * xy[..., 1]], dim=-1)

    rel = j.clone()
    rel[..., :2] = turn(j[..., :2] - j[:, :, :1, :2])
    vel = torch.zeros_like(j)
    vel[:, :-1] = (j[:, 1:] - j[:, :-1]) * fps
    vel[:, -1] = vel[:, -2]
    vel[..., :2] = turn(vel[..., :2])
    b, t = j.shape[:2]
    return torch.cat([rel.reshape(b, t, -1), vel.reshape(b, t, -1)], dim=-1)


def build_inputs(joints, music, fps: float, spec: RewardNetSpec) -> torch.Tensor:
    """Raw (unnormalised) network inputs (B,T,in_dim) from joints (B,T,24,3) and music (B,T,35) or None."""
    x = motion_inputs(joints, fps)
    if not spec.use_music:
        return x
    if music is None:
        raise UserError("reward 'learned': this batch carries no music features (MotionBatch.music); pass the "
                        "music windows the motions were generated for, or use a reward model trained without music")
    m = torch.as_tensor(np.asarray(music), dtype=torch.float32)
    if m.shape[:2] != x.shape[:2] or m.shape[-1] != spec.music_dim:
        raise UserError(f"reward 'learned': music features have shape {tuple(m.shape)}; expected "
                        f"{tuple(x.shape[:2]) + (spec.music_dim,)} (one {spec.music_dim}-d vector per motion frame)")
    return torch.cat([x, m], dim=-1)


class RewardNet(nn.Module):
    """Dilated temporal CNN: normalised inputs (B,T,F) → per-frame reward (B,T)."""

    def __init__(self, spec: RewardNetSpec):
        super().__init__()
        self.spec = spec
        h = spec.hidden
        self.inp = nn.Conv1d(spec.in_dim, h, 3, padding=1)
        self.blocks = nn.ModuleList(nn.Conv1d(h, h, 3, padding=d, dilation=d, padding_mode="replicate")
                                    for d in spec.dilations)
        self.out = nn.Conv1d(h, 1, 1)
        self.register_buffer("in_mean", torch.zeros(spec.in_dim))
        self.register_buffer("in_std", torch.ones(spec.in_dim))

    def set_normalizer(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.in_mean.copy_(mean)
        self.in_std.copy_(std.clamp(min=1e-4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = ((x - self.in_mean) / self.in_std).transpose(1, 2)
        h = torch.nn.functional.gelu(self.inp(x))
        for conv in self.blocks:
            h = h + torch.nn.functional.gelu(conv(h))
        return self.out(h)[:, 0]


@dataclass
class LoadedRewardModel:
    net: RewardNet
    levels: list = field(default_factory=list)
    meta: dict = field(default_factory=dict)


def save_reward_model(path, net: RewardNet, *, levels: list, train: dict, metrics: dict) -> None:
    from dance_rl.fileio import atomic_torch_save

    state = {k: v for k, v in net.state_dict().items() if k not in ("in_mean", "in_std")}
    atomic_torch_save({"format": FORMAT, "spec": net.spec.to_dict(), "model": state,
                       "normalizer": {"mean": net.in_mean.clone(), "std": net.in_std.clone()},
                       "levels": list(levels), "train": train, "metrics": metrics}, path)


def load_reward_model(path, device: str | torch.device = "cpu") -> LoadedRewardModel:
    """Read a reward-model checkpoint with the safe (weights_only) loader; eval mode on ``device``."""
    from dance_rl.diffusion.edge_checkpoint import safe_torch_load

    p = Path(path)
    if not p.is_file():
        raise UserError(f"reward model '{p}' not found; train one with `python -m dance_rl.reward_model train "
                        f"--out {p}` and set rewards.learned.checkpoint to it")
    ckpt = safe_torch_load(p)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise UserError(f"reward model '{p}': not a dance_rl reward-model checkpoint ({FORMAT}); "
                        "train one with `python -m dance_rl.reward_model train`")
    spec = ckpt["spec"]
    net = RewardNet(RewardNetSpec(**{**spec, "dilations": tuple(spec["dilations"])}))
    missing, unexpected = net.load_state_dict(ckpt["model"], strict=False)
    if unexpected or set(missing) - {"in_mean", "in_std"}:  # the normaliser is stored on its own
        raise UserError(f"reward model '{p}': weights do not match its spec (missing {sorted(missing)}, "
                        f"unexpected {sorted(unexpected)}); retrain it with `python -m dance_rl.reward_model train`")
    net.set_normalizer(ckpt["normalizer"]["mean"], ckpt["normalizer"]["std"])
    return LoadedRewardModel(net.to(device).eval(), list(ckpt.get("levels", [])),
                             {"train": ckpt.get("train", {}), "metrics": ckpt.get("metrics", {})})
