"""Train or evaluate the learned reward model (E3D2) on automatically ranked demonstrations.

    python -m dance_rl.reward_model train --out rm.pt [--config FILE] [--set KEY=VALUE] [--base CKPT] [--steps N]
    python -m dance_rl.reward_model eval --out rm.pt [--json]

train: (1) ranked demonstrations: for music windows of the train split (and, for validation, the held-out test split,
whose music the model never sees) take the real mocap window (rank 0) and sample the base model at each noise level
ε ∈ (0.02, 0.25, 0.5, 0.75, 1.0) (ranks 1-5, `rewards.ranked_demos`); cached next to the corpus, keyed by the base
model and the sampling settings. (2) Bradley-Terry (T-REX) training: for a batch of windows, every pair of ranks
(a better than b) of the same window adds −log σ(R_a − R_b), R = mean_t r_t. Writes the checkpoint (net, input
normaliser, spec, training settings, metrics), TensorBoard scalars in <out stem>_tb and a progress bar.
eval: the held-out ranking accuracy per pair of levels, the physical metrics per level and the validity of the reward
on corrupted real mocap (`dance_rl.eval.learned_reward`); prints tables (``--json``: one object) and writes
<out stem>.eval.json.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from dance_rl.config import add_config_args, load_config
from dance_rl.errors import UserError, cli_main
from dance_rl.fileio import atomic_write
from dance_rl.rewards.ranked_demos import (
    NOISE_LEVELS,
    demo_inputs,
    pair_accuracy,
    sample_levels,
    score_inputs,
    window_scores,
)
from dance_rl.rewards.reward_net import RewardNet, RewardNetSpec, load_reward_model, save_reward_model

RANK_NAMES = ["real"] + [f"eps={e:g}" for e in NOISE_LEVELS]


# ------------------------------------------------------------------------------------------ ranked demonstrations
def _pick(n: int, k: int) -> np.ndarray:
    """k evenly spaced indices of range(n) (all of them when k is 0 or ≥ n)."""
    return np.arange(n) if k <= 0 or k >= n else np.unique(np.linspace(0, n - 1, k).round().astype(int))


def _file_tag(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"


def build_demos(cfg, base: Path, split: str, windows: int, *, steps: int, seed: int, progress: bool = True,
                cache_dir: str | Path | None = None, slow_frames: float = 15.0) -> dict:
    """{"features" (R, N, T, 151) unnormalised, rank 0 = real; "music" (N, T, 35); "keys" [N]} for ``split``."""
    from dance_rl.data.dataset import dataset_from_config
    from dance_rl.diffusion.checkpoint import load_model
    from dance_rl.diffusion.schedule import NoiseSchedule

    d = cfg.diffusion
    key = json.dumps([_file_tag(base), cfg.data.source, split, windows, steps, seed, d.eta, d.guidance_weight,
                      d.timesteps, list(NOISE_LEVELS), slow_frames, 2])
    cache_dir = Path(cache_dir) if cache_dir else Path(cfg.data.cache_dir) / "reward_model"
    path = cache_dir / f"demos_{split}_{hashlib.sha1(key.encode()).hexdigest()[:12]}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            return {"features": z["features"], "music": z["music"], "keys": list(z["keys"])}
    ds = dataset_from_config(cfg.data, split)
    idx = _pick(len(ds), windows)
    items = [ds.raw_item(int(i)) for i in idx]
    real = np.stack([m.numpy() for m, _ in items]).astype(np.float32)
    music = np.stack([a.numpy() for _, a in items]).astype(np.float32)
    keys = [f"{c}@{s}" for c, s in (ds.window_info(int(i)) for i in idx)]
    model, normalizer, _ = load_model(base)
    bar = _bar(progress, len(NOISE_LEVELS) * len(music), f"sample {split}", "clip")
    schedule = NoiseSchedule(d.timesteps, spacing=d.ddim_spacing)
    gen = sample_levels(model, normalizer, schedule, music, NOISE_LEVELS, steps=steps, eta=d.eta,
                        guidance_weight=d.guidance_weight, seed=seed, slow_frames=slow_frames,
                        progress=bar.update if bar else None)
    if bar:
        bar.close()
    out = {"features": np.concatenate([real[None], gen]), "music": music, "keys": keys}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: np.savez(f, features=out["features"], music=music, keys=np.array(keys)))
    return out


# ------------------------------------------------------------------------------------------------------ training
def ranking_loss(scores: torch.Tensor) -> torch.Tensor:
    """Bradley-Terry over every ordered pair of ranks of each window: scores (R, B), rank 0 best."""
    r = scores.shape[0]
    a, b = torch.triu_indices(r, r, offset=1)
    return torch.nn.functional.softplus(-(scores[a] - scores[b])).mean()


def train_reward_net(x_train: torch.Tensor, x_val: torch.Tensor | None, spec: RewardNetSpec, *, steps: int,
                     batch: int = 16, crop: int = 0, lr: float = 1e-3, weight_decay: float = 1e-4,
                     score_penalty: float = 0.0, seed: int = 0,
                     writer=None, bar=None, eval_every: int = 100) -> tuple[RewardNet, list[dict]]:
    """Fit a RewardNet on (R, N, T, F) ranked inputs; returns it (eval mode) and its history.

    ``crop`` > 0 trains on random spans of that many frames (the net is convolutional and the window reward a mean
    over frames, so spans rank like whole windows, at a fraction of the cost); evaluation uses whole windows.
    ``score_penalty`` adds λ·mean(R²): Bradley-Terry only fixes differences, so without it the net may grow its scale
    (and its extrapolation to motions unlike the demonstrations) to push the pair losses to 0."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = RewardNet(spec)
    flat = x_train.reshape(-1, x_train.shape[-1])
    net.set_normalizer(flat.mean(0), flat.std(0))
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    history, n = [], x_train.shape[1]
    for step in range(1, steps + 1):
        net.train()
        idx = torch.as_tensor(rng.choice(n, size=min(batch, n), replace=False))
        xb = x_train[:, idx]
        if 0 < crop < xb.shape[2]:  # the same random span for every rank of the batch: still a paired comparison
            start = int(rng.integers(0, xb.shape[2] - crop + 1))
            xb = xb[:, :, start:start + crop]
        scores = window_scores(net, xb)
        loss = ranking_loss(scores) + score_penalty * (scores ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
        if not np.isfinite(float(loss.detach())):
            raise RuntimeError(f"reward-model training diverged at step {step}")
        row = {"step": step, "loss": float(loss.detach())}
        if step % eval_every == 0 or step == steps:
            row["train_acc"] = _mean_acc(net, x_train)
            if x_val is not None:
                row["val_acc"] = _mean_acc(net, x_val)
            history.append(row)
        if writer is not None:
            for k, v in row.items():
                if k != "step":
                    writer.add_scalar(f"reward_model/{k}", v, step)
        if bar is not None:
            bar.update(1)
            bar.set_postfix({k: f"{v:.3f}" for k, v in row.items() if k != "step"})
    return net.eval(), history


def _mean_acc(net: RewardNet, x: torch.Tensor) -> float:
    acc = pair_accuracy(score_inputs(net, x))
    return float(np.nanmean(acc))


def _bar(enabled: bool, total: int, desc: str, unit: str):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True)


# --------------------------------------------------------------------------------------------------- entry point
def _base_path(cfg, base: str | None) -> Path:
    from dance_rl.diffusion.trainer import default_demo_checkpoint

    chosen = base or cfg.rl.base_checkpoint
    path = Path(chosen) if chosen else default_demo_checkpoint(cfg.data.cache_dir)
    if not path.is_file():
        raise UserError(f"--base: {path} not found; pass a base-model checkpoint (python -m dance_rl.pretrain)")
    return path


def cmd_train(args, cfg) -> int:
    out = Path(args.out)
    if out.suffix != ".pt":
        raise UserError(f"--out: {out} should end in .pt")
    if out.exists():
        raise UserError(f"--out: {out} already exists; choose another path or delete it")
    for name in ("steps", "batch", "windows", "val_windows", "ddim_steps", "hidden", "crop"):
        if getattr(args, name) < (0 if name in ("windows", "val_windows", "ddim_steps", "crop") else 1):
            raise UserError(f"--{name.replace('_', '-')}: {getattr(args, name)} is too small")
    base = _base_path(cfg, args.base)
    steps = args.ddim_steps or cfg.diffusion.ddim_steps
    t0 = time.time()
    torch.set_num_threads(max(1, args.threads))
    if args.slow_frames < 0:
        raise UserError(f"--slow-frames: {args.slow_frames} must be >= 0")
    train = build_demos(cfg, base, "train", args.windows, steps=steps, seed=args.seed, progress=not args.no_progress,
                        cache_dir=args.demos_dir, slow_frames=args.slow_frames)
    val = build_demos(cfg, base, "test", args.val_windows, steps=steps, seed=args.seed + 1,
                      progress=not args.no_progress, cache_dir=args.demos_dir, slow_frames=args.slow_frames)
    spec = RewardNetSpec(hidden=args.hidden, use_music=not args.no_music)
    x_train, x_val = demo_inputs(train, spec, cfg.data.fps), demo_inputs(val, spec, cfg.data.fps)
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(Path(args.logdir) if args.logdir else out.with_name(out.stem + "_tb")))
    bar = _bar(not args.no_progress, args.steps, "train reward model", "step")
    net, history = train_reward_net(x_train, x_val, spec, steps=args.steps, batch=args.batch, crop=args.crop,
                                    lr=args.lr, score_penalty=args.score_penalty, seed=args.seed, writer=writer,
                                    bar=bar)
    if bar:
        bar.close()
    writer.close()
    acc = pair_accuracy(score_inputs(net, x_val))
    settings = {"base": str(base), "data": dataclasses.asdict(cfg.data), "ddim_steps": steps, "eta": cfg.diffusion.eta,
                "guidance_weight": cfg.diffusion.guidance_weight, "windows": args.windows,
                "val_windows": args.val_windows, "train_count": int(x_train.shape[1]),
                "val_count": int(x_val.shape[1]), "steps": args.steps, "batch": args.batch, "crop": args.crop,
                "lr": args.lr, "seed": args.seed, "noise_levels": list(NOISE_LEVELS),
                "slow_frames": args.slow_frames, "seconds": time.time() - t0}
    save_reward_model(out, net, levels=RANK_NAMES, train=settings,
                      metrics={"val_pair_accuracy": acc.tolist(), "history": history})
    print(f"wrote {out} ({time.time() - t0:.0f} s; held-out mean pair accuracy {np.nanmean(acc):.3f}, "
          f"non-adjacent min {_nonadjacent_min(acc):.3f})")
    return 0


def _nonadjacent_min(acc: np.ndarray) -> float:
    r = acc.shape[0]
    return float(min(acc[a, b] for a in range(r) for b in range(a + 2, r)))


def cmd_eval(args, cfg) -> int:
    from dance_rl.eval.learned_reward import evaluate_reward_model, format_report

    model = load_reward_model(args.out)
    t = model.meta["train"]
    base = Path(args.base) if args.base else Path(t.get("base", ""))
    if not base.is_file():
        raise UserError(f"reward model '{args.out}': its base model {str(base)!r} is not there; pass --base with the "
                        "checkpoint it was trained from")
    val = build_demos(cfg, base, "test", int(t.get("val_windows", 0)), steps=int(t.get("ddim_steps", 50)),
                      seed=int(t.get("seed", 0)) + 1, progress=not args.no_progress, cache_dir=args.demos_dir,
                      slow_frames=float(t.get("slow_frames", 15.0)))
    report = evaluate_reward_model(model.net, val, fps=cfg.data.fps, rank_names=RANK_NAMES,
                                   data_cfg=cfg.data)
    text = json.dumps(report, indent=2)
    atomic_write(Path(args.out).with_name(Path(args.out).stem + ".eval.json"), lambda f: f.write(text), mode="w")
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m dance_rl.reward_model", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("train", "eval"):
        s = sub.add_parser(name)
        add_config_args(s)
        s.add_argument("--out", required=True, help="reward-model checkpoint (.pt) to write (train) or read (eval)")
        s.add_argument("--base", default=None, help="base diffusion checkpoint (default: rl.base_checkpoint or the "
                                                     "cached demo base model)")
        s.add_argument("--no-progress", action="store_true", help="no progress bars")
        s.add_argument("--demos-dir", default=None, help="cache of ranked demonstrations (default: "
                                                          "<data.cache_dir>/reward_model)")
        if name == "train":
            s.add_argument("--windows", type=int, default=160, help="train-split music windows (0 = all)")
            s.add_argument("--val-windows", type=int, default=0, help="held-out test-split windows (0 = all)")
            s.add_argument("--ddim-steps", type=int, default=0, help="sampling steps (0 = diffusion.ddim_steps)")
            s.add_argument("--steps", type=int, default=1500, help="optimiser steps")
            s.add_argument("--batch", type=int, default=16, help="windows per step (each with every rank)")
            s.add_argument("--slow-frames", type=float, default=15.0, help="time scale (frames) of the slow half "
                           "of the injected noise (0 = white noise only)")
            s.add_argument("--crop", type=int, default=64, help="train on random spans of this many frames (0 = whole)")
            s.add_argument("--lr", type=float, default=1e-3)
            s.add_argument("--score-penalty", type=float, default=0.0, help="λ of the λ·mean(R²) scale penalty")
            s.add_argument("--hidden", type=int, default=64, help="channels of the temporal CNN")
            s.add_argument("--no-music", action="store_true", help="motion-only reward model")
            s.add_argument("--seed", type=int, default=0)
            s.add_argument("--threads", type=int, default=2, help="torch CPU threads")
            s.add_argument("--logdir", default=None, help="TensorBoard folder (default: <out stem>_tb)")
        else:
            s.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    cfg = load_config(args.config, args.overrides)
    return cmd_train(args, cfg) if args.command == "train" else cmd_eval(args, cfg)


if __name__ == "__main__":
    sys.exit(cli_main(main))
