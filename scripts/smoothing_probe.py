"""What would removing jitter alone buy, and what do the realism metrics say about it? No learning involved.

Samples a base model on held-out music (fixed clips and noise), smooths every sample by a centred k-frame moving
average of its features (root position and 6D rotations, re-orthonormalised when converted back; ``--part root``
smooths the root position only) and scores raw and smoothed samples with the code `compare` uses: PFC, FGD, Pen.
rate, skating, motion magnitude (plain and low-pass), PhyMotion, and FID_k/FID_g against the training mocap.
docs/results.md ("Removing jitter alone") holds what it measured on the demo base model.

    python scripts/smoothing_probe.py [--checkpoint ckpt.pt] [--music demo-test|FOLDER] [--spacing uniform|quadratic]
                                      [--part all|root] [--frames 1 3 5] [--clips 16] [--seeds 2]
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from dance_rl.errors import UserError, cli_main

KEYS = ("pfc", "fgd", "pen_rate", "skating_ratio", "motion_magnitude", "motion_lowpass", "phymotion")


def smooth_features(x: np.ndarray, frames: int, part: str = "all") -> np.ndarray:
    """(B,T,151) unnormalised features → the same with a centred ``frames``-frame moving average along T (edges
    repeat the end frames) over every feature (``part="all"``) or the root position only (``"root"``)."""
    from scipy.ndimage import uniform_filter1d

    from dance_rl.motion.representation import TRANS_SLICE

    x = np.asarray(x, dtype=np.float64)
    if frames <= 1:
        return x.copy()
    smoothed = uniform_filter1d(x, frames, axis=1, mode="nearest")
    if part == "all":
        return smoothed
    out = x.copy()
    out[..., TRANS_SLICE] = smoothed[..., TRANS_SLICE]
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default=None, help="model source (default: the cached demo base model)")
    p.add_argument("--music", default="demo-test", help="folder of audio files, or demo-test")
    p.add_argument("--spacing", choices=("uniform", "quadratic"), default="uniform", help="DDIM step spacing")
    p.add_argument("--steps", type=int, default=10, help="DDIM steps (default 10, as RL samples)")
    p.add_argument("--part", choices=("all", "root"), default="all", help="what to smooth")
    p.add_argument("--frames", type=int, nargs="+", default=[1, 3, 5], help="moving-average widths (1 = raw)")
    p.add_argument("--clips", type=int, default=16, help="music clips (one window each)")
    p.add_argument("--seeds", type=int, default=2, help="noise seeds per clip")
    args = p.parse_args(argv)
    if min(args.frames) < 1 or args.clips < 2 or args.seeds < 1:
        raise UserError("--frames must be >= 1, --clips >= 2 and --seeds >= 1")

    import torch

    from dance_rl.compare import heldout_clips, reference_features
    from dance_rl.config import load_config
    from dance_rl.diffusion.checkpoint import load_model
    from dance_rl.diffusion.sampler import ddim_sample
    from dance_rl.diffusion.schedule import NoiseSchedule
    from dance_rl.diffusion.trainer import default_demo_checkpoint
    from dance_rl.eval.fid import fid_div
    from dance_rl.eval.paired import sample_row
    from dance_rl.eval.report import EvalOptions, stack_features
    from dance_rl.motion.representation import features_to_motion

    cfg = load_config(None, [])
    model, norm, _ = load_model(args.checkpoint or default_demo_checkpoint(cfg.data.cache_dir), use_ema=True)
    model.eval()
    seconds = model.spec.seq_len / 30
    clips = heldout_clips(args.music, cfg, seconds, args.clips, clips_per_song=1)
    music = torch.as_tensor(np.stack([c.music for c in clips]))
    with torch.inference_mode():
        x = torch.cat([norm.unnormalize(ddim_sample(
            model, NoiseSchedule(cfg.diffusion.timesteps, spacing=args.spacing), music, steps=args.steps, eta=1.0,
            guidance_weight=cfg.diffusion.guidance_weight, return_chain=False,
            generator=torch.Generator().manual_seed(seed)).x0) for seed in range(args.seeds)]).numpy()
    reference = reference_features(cfg, seconds)
    opts = EvalOptions(seconds=seconds, imitation=False)
    raw = None
    print(f"{len(x)} samples ({len(clips)} clips x {args.seeds} seeds, {seconds:g} s), {args.steps} {args.spacing} "
          f"DDIM steps; smoothing: {args.part}")
    for k in args.frames:
        poses, trans, _ = features_to_motion(torch.as_tensor(smooth_features(x, k, args.part), dtype=torch.float32))
        rows = [sample_row(poses[i].numpy(), trans[i].numpy(), None, opts) for i in range(len(x))]
        m = {q: float(np.nanmean([r.get(q, np.nan) for r in rows])) for q in KEYS}
        m.update({q: v for q, v in fid_div(stack_features(rows), reference).items() if q in ("fid_k", "fid_g")})
        raw = raw or m
        print(f"{k:>2} frames: " + "  ".join(f"{q} {v:.3g} ({v / raw[q] - 1:+.0%})" for q, v in m.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(cli_main(main))
