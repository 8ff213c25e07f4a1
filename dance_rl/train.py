"""One RLFT run without Tune.

    python -m dance_rl.train [--config tune_configs/smoke.yaml] [--set rl.iterations=5 ...] [--out DIR] [--resume]

Accepts the files in tune_configs/: their base config is used and a search space, if any, contributes its first point.
Joins a running Ray cluster when RAY_ADDRESS (or cluster.address) is set, otherwise starts a local one.
Writes TensorBoard scalars (every reward component, advantage statistics, loss, grad norm, KL, throughput),
``checkpoints/iter_N.pt`` every rl.checkpoint_every iterations and at the end, ``config.yaml``, and with
rl.render_every > 0 a rendered fixed-seed clip ``clips/iter_N.mp4`` (and a frame strip in TensorBoard).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from dance_rl.config import Config, add_config_args, apply_dotted, dump_config, load_config, parse_override
from dance_rl.errors import UserError, cli_main
from dance_rl.sweep import first_point


def load_run_config(path, overrides) -> Config:
    """The file's base config with its first search-space point applied; a key given with --set always wins."""
    cfg = load_config(path, overrides)
    point = first_point(cfg.tune.search_space)
    if cfg.tune.points:
        point.update(cfg.tune.points[0])
    explicit = [parse_override(o)[0] for o in overrides]
    point = {k: v for k, v in point.items() if not any(k == e or k.startswith(e + ".") for e in explicit)}
    return apply_dotted(cfg, point) if point else cfg


def render_clip(run, music, keys, out: Path, iteration: int, writer) -> Path:
    """Render the fixed-seed sample of the first evaluation window with the current weights: an MP4 (GIF without
    ffmpeg) under ``out/clips`` and a strip of four frames in TensorBoard ("clip/frames")."""
    import numpy as np
    import torch

    from dance_rl.motion.fk import joints_np
    from dance_rl.motion.representation import features_to_motion
    from dance_rl.render import render_frames, render_motion

    poses, trans, contacts = (x[0].numpy() for x in features_to_motion(torch.as_tensor(run.sample_fixed(music, keys))))
    path = render_motion(poses, trans, out / "clips" / f"iter_{iteration}.mp4", contacts)
    idx = np.linspace(0, len(poses) - 1, 4).round().astype(int)
    strip = np.concatenate(list(render_frames(joints_np(poses[idx], trans[idx]), contacts[idx], 240, 180)), axis=1)
    writer.add_image("clip/frames", strip, iteration, dataformats="HWC")
    return path


def run_training(cfg: Config, out: Path, resume: bool = False, log=print) -> dict:
    """Run cfg.rl.iterations iterations (continuing from the last checkpoint with ``resume``); returns final metrics.

    Every rl.eval_every iterations (and at the end) the EMA weights are evaluated on held-out music against the base
    model (eval.*); checkpoints carry the latest held-out record, which ``export`` puts on the model card."""
    from torch.utils.tensorboard import SummaryWriter

    from dance_rl.cluster.inputs import load_base_model, load_conditions
    from dance_rl.cluster.placement import decide_config
    from dance_rl.cluster.run import RLRun, init_ray
    from dance_rl.diffusion.checkpoint import BEST_CKPT_NAME, latest_run_checkpoint, load_run_checkpoint
    from dance_rl.heldout import build_heldout
    from dance_rl.rlft import iterate, make_guard

    ckpt_dir = out / "checkpoints"
    last = latest_run_checkpoint(ckpt_dir)
    if last is not None and not resume:
        raise UserError(f"--out {out} already holds checkpoints; pass --resume to continue or choose another --out")
    if resume and last is None:
        log(f"no checkpoint in {ckpt_dir}; starting from iteration 0")
    ckpt = load_run_checkpoint(last) if (resume and last is not None) else None
    base = load_base_model(cfg, log=log)
    conditions, keys = load_conditions(cfg, log=log)
    held = build_heldout(cfg, base, log=log)
    init_ray(cfg.cluster.address)
    cfg = decide_config(cfg, log=log)  # resource shapes decided once, before any actor exists
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(dump_config(cfg))
    run = RLRun(cfg, base, conditions, keys)
    start = run.restore(ckpt) if ckpt is not None else 0
    record = ckpt.get("heldout") if ckpt is not None else None
    if ckpt is not None:
        log(f"resumed from {last} at iteration {start}")
    guard = make_guard(cfg, ckpt.get("guardrails") if ckpt is not None else None)
    writer = SummaryWriter(str(out / "tb"), purge_step=start if start else None)
    clip = held.clips[0]
    metrics: dict = {}
    try:
        t0 = time.perf_counter()
        for step in iterate(run, cfg, start, cfg.rl.iterations, held, guard):
            metrics, it = step.metrics, step.iteration
            for k, v in metrics.items():
                writer.add_scalar(k, v, it)
            rewards = " ".join(f"{k.split('/')[1]}={v:.4f}" for k, v in sorted(metrics.items()) if k.startswith("reward/"))
            log(f"iter {it}/{cfg.rl.iterations}  {rewards}  loss={metrics['train/loss']:.4g} "
                f"grad={metrics['train/grad_norm']:.3g}  {metrics['time/iteration_s']:.1f}s "
                f"({metrics['time/samples_per_s']:.2f} samples/s, overlap {metrics['time/overlap_efficiency']:.2f})")
            if step.heldout is not None:
                record = step.heldout
                log("  held-out vs base: " + heldout_line(record))
                for note in step.notes:
                    log(f"  guardrail: {note}")
            if step.checkpoint or step.new_best or step.stop:
                path = run.save(ckpt_dir, it, heldout=record, guardrails=guard and guard.state_dict())
                if step.new_best:  # the best evaluation within the guardrails: what the run directory resolves to
                    shutil.copyfile(path, ckpt_dir / BEST_CKPT_NAME)
            if step.stop:
                log(f"guardrails stopped the run at iteration {it}; best within the guardrails: "
                    f"{guard.best_iteration if guard.best_iteration is not None else 'none (keep the base model)'}")
            if cfg.rl.render_every and (it % cfg.rl.render_every == 0 or step.final):
                log(f"rendered {render_clip(run, clip.music[None], [clip.key], out, it, writer)}")
        writer.flush()
        metrics["time/total_s"] = time.perf_counter() - t0
    finally:
        writer.close()
        run.shutdown()
    return metrics


def heldout_line(record: dict) -> str:
    """One log line: relative change vs the base model per headline metric, * where the difference is significant
    (95% CI excludes 0 and signed-rank p < 0.05)."""
    from dance_rl.eval.paired import HEADLINE
    from dance_rl.eval.stats import significant

    parts = []
    for k in HEADLINE:
        m = record["metrics"].get(k)
        if m is None or m["rel"] is None:
            continue
        star = "*" if significant(m) else ""
        parts.append(f"{k} {m['rel']:+.0%}{star}")
    return "  ".join(parts)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m dance_rl.train", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_args(p)
    p.add_argument("--out", default=None, help="run directory (default: runs/train/<timestamp>)")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --out")
    args = p.parse_args(argv)
    cfg = load_run_config(args.config, args.overrides)
    if args.resume and not args.out:
        raise UserError("--resume needs --out DIR (the run directory to continue)")
    out = Path(args.out or f"runs/train/{time.strftime('%Y%m%d-%H%M%S')}")
    run_training(cfg, out, resume=args.resume)
    print(f"run directory: {out}  (tensorboard --logdir {out / 'tb'})")
    return 0


if __name__ == "__main__":
    sys.exit(cli_main(main))
