"""Pretrain the base music-to-dance diffusion model (EDGE recipe).

    python -m dance_rl.pretrain [--config FILE] [--set KEY=VALUE] --data demo|aistpp:PATH --out ckpt.pt [--resume]
                                [--device auto|cpu|cuda[:N]] [--precision auto|off|bf16|fp16]
                                [--num-workers N [--use-gpu]]

Without --config the config defaults are used (the demo preset and recipe, see PretrainConfig): a small model that
trains on the built-in demo corpus on 2 CPU cores in about 5 minutes (pretrain.max_minutes). Checkpoints hold the model, its EMA, the optimiser, the data normaliser, the
config and the step; --resume continues from --out. TensorBoard scalars go to --logdir (default: next to --out).
--num-workers N > 1 trains data-parallel on Ray Train (DDP, one GPU each with --use-gpu; the global batch
pretrain.batch_size is split across workers), resumes from its last checkpoint when a worker dies, and copies the final
checkpoint to --out; with one worker the embedded loop runs (no Ray).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dance_rl.config import add_config_args, load_config
from dance_rl.diffusion.device import add_device_args
from dance_rl.errors import UserError, cli_main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m dance_rl.pretrain", description=__doc__.split("\n\n")[0])
    add_config_args(p)
    p.add_argument("--data", default=None, help="'demo' or 'aistpp:/path/to/aist_plusplus' (default: data.source)")
    p.add_argument("--out", required=True, help="checkpoint file to write (.pt)")
    p.add_argument("--resume", action="store_true", help="continue training from --out")
    p.add_argument("--steps", type=int, default=None, help="total optimiser steps (default: pretrain.steps)")
    p.add_argument("--logdir", default=None, help="TensorBoard folder (default: <out without .pt>_tb)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_device_args(p, default_device=None, default_precision=None)
    p.add_argument("--num-workers", type=int, default=None,
                   help="data-parallel workers on Ray Train (default: pretrain.num_workers = 1, no Ray)")
    p.add_argument("--use-gpu", action="store_true", help="Ray Train: one GPU per worker")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    overrides = list(args.overrides)
    if args.data is not None:
        overrides.append(f"data.source={args.data}")
    for key, value in (("device", args.device), ("precision", args.precision), ("num_workers", args.num_workers)):
        if value is not None:
            overrides.append(f"pretrain.{key}={value}")
    if args.use_gpu:
        overrides.append("pretrain.use_gpu=true")
    cfg = load_config(args.config, overrides)
    out = Path(args.out)
    if out.suffix != ".pt":
        raise UserError(f"--out: {out} should end in .pt")
    if out.exists() and not out.is_file():
        raise UserError(f"--out: {out} is not a file")
    if out.exists() and not args.resume:
        raise UserError(f"--out: {out} already exists; pass --resume to continue it or choose another path")
    if args.steps is not None and args.steps < 1:
        raise UserError(f"--steps: {args.steps} must be at least 1")
    if args.resume and out.is_file():
        from dance_rl.diffusion.checkpoint import load_checkpoint
        load_checkpoint(out)  # validate before doing any work
    logdir = Path(args.logdir) if args.logdir else out.with_name(out.stem + "_tb")
    if cfg.pretrain.num_workers > 1:
        from dance_rl.cluster.pretrain_ray import pretrain_distributed
        res = pretrain_distributed(cfg, out, resume=args.resume, log_dir=logdir, steps=args.steps)
    else:
        from dance_rl.diffusion.device import resolve_device, resolve_precision
        from dance_rl.diffusion.trainer import pretrain
        resolve_precision(cfg.pretrain.precision, resolve_device(cfg.pretrain.device))  # fail before loading data
        res = pretrain(cfg, out, resume=args.resume, progress=not args.no_progress, log_dir=logdir, steps=args.steps)
    last = res["history"][-1] if res["history"] else {}
    print(f"wrote {out} (step {res['step']}, {res['seconds']:.0f} s, loss {last.get('loss', float('nan')):.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(cli_main(main))
