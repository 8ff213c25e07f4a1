"""Pretrain the base music-to-dance diffusion model (EDGE recipe).

    python -m dance_rl.pretrain [--config FILE] [--set KEY=VALUE] --data demo|aistpp:PATH --out ckpt.pt [--resume]

Without --config the config defaults are used (the demo preset and recipe, see PretrainConfig): a small model that
trains on the built-in demo corpus on 2 CPU cores in about 5 minutes (pretrain.max_minutes). Checkpoints hold the model, its EMA, the optimiser, the data normaliser, the
config and the step; --resume continues from --out. TensorBoard scalars go to --logdir (default: next to --out).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dance_rl.config import add_config_args, load_config
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
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    overrides = list(args.overrides)
    if args.data is not None:
        overrides.append(f"data.source={args.data}")
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
    from dance_rl.diffusion.trainer import pretrain

    logdir = Path(args.logdir) if args.logdir else out.with_name(out.stem + "_tb")
    res = pretrain(cfg, out, resume=args.resume, progress=not args.no_progress, log_dir=logdir, steps=args.steps)
    last = res["history"][-1] if res["history"] else {}
    print(f"wrote {out} (step {res['step']}, {res['seconds']:.0f} s, loss {last.get('loss', float('nan')):.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(cli_main(main))
