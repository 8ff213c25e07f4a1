"""Where does a base model's frame-to-frame jitter come from? No learning involved.

Median joint accelerations (m/s², central second difference at 30 fps) of the root, the feet and all 24 joints, for:
the test mocap windows; the model's own x̂0 of those windows noised to t (does the denoiser keep clean motion clean at
the low noise where every DDIM chain ends?); and the model's samples on the same windows' music under several sampler
settings (steps, spacing, eta). docs/results.md ("Session 11: where the jitter comes from") holds what it measured.

    python scripts/jitter_probe.py [--checkpoint ckpt.pt] [--windows 24] [--t 1 10 40 99]
                                   [--sampler 10:quadratic:1 10:quadratic:0 50:quadratic:1 10:uniform:1]
                                   [--config cfg.yaml] [--set data.source=...]   # the test split of data.source
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from dance_rl.errors import UserError, cli_main

FPS = 30.0


def median_accelerations(joints: np.ndarray, fps: float = FPS) -> dict:
    """(B, T, 24, 3) joint positions → median acceleration norm (m/s²) of the root, the feet and all joints."""
    from dance_rl.motion.skeleton import FOOT_JOINTS
    from dance_rl.rewards.root_smoothness import root_acceleration

    j = np.asarray(joints, dtype=np.float64)
    if j.shape[1] < 3:
        raise ValueError(f"accelerations need at least 3 frames, got {j.shape[1]}")
    a = root_acceleration(j, fps)  # (B, T-2, 24): the same central second difference, per joint
    return {"root": float(np.median(a[..., 0])), "feet": float(np.median(a[..., list(FOOT_JOINTS)])),
            "all": float(np.median(a))}


def parse_sampler(text: str) -> tuple[int, str, float]:
    """'10:quadratic:1' → (10, 'quadratic', 1.0)."""
    try:
        steps, spacing, eta = text.split(":")
        out = int(steps), spacing, float(eta)
    except ValueError:
        raise UserError(f"--sampler {text}: write STEPS:SPACING:ETA, e.g. 10:quadratic:1") from None
    if out[0] < 2 or spacing not in ("uniform", "quadratic") or not 0.0 <= out[2] <= 1.0:
        raise UserError(f"--sampler {text}: steps >= 2, spacing uniform|quadratic, 0 <= eta <= 1")
    return out


def main(argv=None) -> int:
    from dance_rl.config import add_config_args, load_config

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_config_args(p)
    p.add_argument("--checkpoint", default=None, help="model source (default: rl.base_checkpoint or the cached demo "
                                                      "base model)")
    p.add_argument("--windows", type=int, default=24, help="test mocap windows (and music) to use")
    p.add_argument("--t", type=int, nargs="+", default=[1, 10, 40, 99], help="noise levels for the x̂0 probe")
    p.add_argument("--sampler", nargs="+", default=["10:quadratic:1", "10:quadratic:0", "50:quadratic:1",
                                                    "10:uniform:1"], help="STEPS:SPACING:ETA settings to sample with")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    samplers = [parse_sampler(s) for s in args.sampler]
    cfg = load_config(args.config, args.overrides + ([f"rl.base_checkpoint={args.checkpoint}"] if args.checkpoint
                                                     else []))
    last_t = cfg.diffusion.timesteps - 1
    if args.windows < 1 or min(args.t) < 0 or max(args.t) > last_t:
        raise UserError(f"--windows must be >= 1 and every --t in 0..{last_t} (diffusion.timesteps - 1)")

    import torch

    from dance_rl.cluster.inputs import load_base_model
    from dance_rl.compare import pick_even
    from dance_rl.data.dataset import dataset_from_config
    from dance_rl.diffusion.checkpoint import load_model
    from dance_rl.diffusion.sampler import ddim_sample, predict_x0
    from dance_rl.diffusion.schedule import NoiseSchedule
    from dance_rl.motion.representation import features_to_joints

    model, norm, _ = load_model(load_base_model(cfg)["path"], use_ema=True)
    model.eval()
    ds = dataset_from_config(cfg.data, "test", normalizer=norm)
    idx = pick_even(list(range(len(ds))), args.windows)
    x0 = torch.stack([ds[int(i)][0] for i in idx])
    cond = torch.stack([ds[int(i)][1] for i in idx])
    w = cfg.diffusion.guidance_weight
    gen = torch.Generator().manual_seed(args.seed)

    def row(name, x_norm):
        acc = median_accelerations(features_to_joints(norm.unnormalize(x_norm)).numpy())
        print(f"| {name} | {acc['root']:.1f} | {acc['feet']:.1f} | {acc['all']:.1f} |", flush=True)

    print(f"{len(idx)} test windows, CFG {w:g}; median acceleration, m/s²\n")
    print("| motion | root | feet | all joints |\n|---|---|---|---|")
    with torch.inference_mode():
        row("test mocap", x0)
        schedule = NoiseSchedule(cfg.diffusion.timesteps)
        for t in args.t:
            x_t = schedule.q_sample(x0, t, torch.randn(x0.shape, generator=gen))
            row(f"model's x̂0 of the mocap noised to t = {t}", predict_x0(model, x_t, cond, torch.full((len(x0),), t), w))
        for steps, spacing, eta in samplers:
            s = ddim_sample(model, NoiseSchedule(cfg.diffusion.timesteps, spacing=spacing), cond, steps=steps, eta=eta,
                            guidance_weight=w, return_chain=False, generator=torch.Generator().manual_seed(args.seed))
            row(f"sample, {steps} {spacing} DDIM steps, eta {eta:g}", s.x0)
    return 0


if __name__ == "__main__":
    sys.exit(cli_main(main))
