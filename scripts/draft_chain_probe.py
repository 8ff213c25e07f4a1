"""Which denoising steps carry a fine-tune's change? Sample with one model's weights for the first steps and another's
for the last K (same music, same noise) and print the differentiable errors and motion terms of each mix.

    python scripts/draft_chain_probe.py --base .cache/dance_rl/base_model/demo_long.pt --model runs/x/checkpoints/iter_00020.pt \
        --music heldout_music

Used in docs/results.md (session 14): the base's first 6 steps followed by a draft fine-tune's last 4 kept the base's
low-pass motion within 12% and most of the fine-tune's error reduction.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from dance_rl.config import load_config
from dance_rl.diffusion.checkpoint import load_model
from dance_rl.diffusion.sampler import step_mean
from dance_rl.diffusion.schedule import NoiseSchedule
from dance_rl.errors import cli_main
from dance_rl.rl.draft import motion_errors


def sample(models, schedule, cond, steps, seed) -> torch.Tensor:
    """One DDIM chain (eta 1, CFG 2) where step i uses models[i]."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(cond.shape[0], models[0].spec.seq_len, models[0].spec.nfeats, generator=g)
    with torch.no_grad():
        for (t, t_next), m in zip(schedule.ddim_timesteps(steps), models):
            mean, sigma, _ = step_mean(m, schedule, x, t, t_next, cond, eta=1.0, guidance_weight=2.0)
            x = mean + sigma * torch.randn(x.shape, generator=g)
    return x


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--music", required=True, help="folder of songs (their half-overlapping 5-s windows)")
    p.add_argument("--windows", type=int, default=48)
    p.add_argument("--steps", type=int, default=10)
    args = p.parse_args(argv)
    cfg = load_config(None, [f"rl.music={args.music}"])
    from dance_rl.cluster.inputs import load_conditions

    music, keys = load_conditions(cfg, log=lambda *_: None)
    idx = np.random.default_rng(9).choice(len(keys), min(args.windows, len(keys)), replace=False)
    cond = torch.as_tensor(music[idx])
    base, norm, _ = load_model(args.base, use_ema=True)
    model, _, _ = load_model(args.model, use_ema=True)
    schedule = NoiseSchedule(1000, spacing="quadratic")
    n = args.steps
    mixes = {"base": [base] * n, "model": [model] * n}
    for k in (1, 2, 4, 6):
        mixes[f"base, model's last {k}"] = [base] * (n - k) + [model] * k
        mixes[f"model, base's last {k}"] = [model] * (n - k) + [base] * k
    for name, models in mixes.items():
        err = motion_errors(sample(models, schedule, cond, n, seed=3), norm)
        print(f"{name:24s}", "  ".join(f"{k} {float(v.mean()):.3f}" for k, v in err.items()))
    return 0


if __name__ == "__main__":
    sys.exit(cli_main(main))
