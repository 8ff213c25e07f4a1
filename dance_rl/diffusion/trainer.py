"""Pretraining loop for the base DanceDecoder (EDGE recipe, sized for a laptop by default).

Differences from EDGE, and why:
- Optimiser AdamW instead of Adan (Adan is not a dependency we carry; AdamW with EDGE's lr 4e-4 / wd 0.02 works).
- Gradient-norm clipping at 1.0, a 50-step learning-rate warm-up and an EMA warm-up (decay min(β, (1+n)/(10+n))) so a run of a few hundred steps
  already has a useful EMA model; EDGE trains for days with β = 0.9999.
- FK and foot losses are computed on unnormalised (metric) vectors by default (see losses.py).
- A wall-clock budget (pretrain.max_minutes) stops the run early, with a final checkpoint.
"""
from __future__ import annotations

import copy
import math
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from dance_rl.diffusion.checkpoint import load_checkpoint, save_checkpoint
from dance_rl.diffusion.losses import diffusion_loss
from dance_rl.diffusion.model import DanceDecoder, ModelSpec
from dance_rl.diffusion.schedule import NoiseSchedule
from dance_rl.errors import UserError

GRAD_CLIP = 1.0
WARMUP_STEPS = 50  # linear learning-rate warm-up, then constant (as EDGE)


@torch.no_grad()
def ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    for pe, pm in zip(ema.parameters(), model.parameters()):
        pe.lerp_(pm, 1.0 - decay)


def ema_decay_at(step: int, decay: float) -> float:
    return min(decay, (1.0 + step) / (10.0 + step))


def _infinite(loader):
    while True:
        yield from loader


def _dataset_normalizer(dataset):
    norm = getattr(dataset, "normalizer", None)
    if norm is None:
        raise UserError("dataset: it carries no fitted normaliser; build it with dance_rl.data.dataset.make_dataset")
    return norm


def make_training_dataset(cfg):
    """cfg.data.source ('demo' | 'aistpp:PATH') → training Dataset with a fitted normaliser."""
    from dance_rl.data.dataset import dataset_from_config
    return dataset_from_config(cfg.data, "train")


def pretrain(cfg, out: str | Path, *, dataset: Dataset | None = None, resume: bool = False, progress: bool = True,
             log_dir: str | Path | None = None, steps: int | None = None) -> dict:
    """Train (or resume) a base model; writes checkpoints to `out`. Returns {step, history, seconds}.

    dataset items are (motion (T,151) normalised, music (T,C), key); it must expose `.normalizer`.
    """
    out = Path(out)
    p = cfg.pretrain
    total_steps = int(steps or p.steps)
    torch.manual_seed(p.seed)
    dataset = dataset if dataset is not None else make_training_dataset(cfg)
    normalizer = _dataset_normalizer(dataset)
    if len(dataset) == 0:
        raise UserError(f"data source '{cfg.data.source}': no training windows; check the data folder")
    spec = ModelSpec.from_config(cfg.model)
    model = DanceDecoder(spec)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=p.lr, weight_decay=p.weight_decay)
    step, history = 0, []
    if resume and out.is_file():
        ckpt = load_checkpoint(out)
        if ckpt["model_spec"] != spec.to_dict():
            raise UserError(f"--resume: checkpoint '{out}' has model {ckpt['model_spec']}, config asks for "
                            f"{spec.to_dict()}; use the same config or a new --out")
        model.load_state_dict(ckpt["model"])
        ema.load_state_dict(ckpt["ema"])
        opt.load_state_dict(ckpt["optimizer"])
        step, history = int(ckpt["step"]), list(ckpt.get("history", []))
    schedule = NoiseSchedule(cfg.diffusion.timesteps)
    loader = DataLoader(dataset, batch_size=min(p.batch_size, len(dataset)), shuffle=True, drop_last=True,
                        num_workers=0, generator=torch.Generator().manual_seed(p.seed + step))
    batches = _infinite(loader)
    writer = _tensorboard(log_dir)
    bar = _progress(progress, step, total_steps)
    config_dict = cfg.to_dict()
    t_start, running = time.time(), None
    model.train()
    while step < total_steps:
        x, cond = next(batches)[:2]
        loss, terms = diffusion_loss(model, schedule, x.float(), cond.float(), cfg.diffusion.cond_drop_prob,
                                     unnormalize=normalizer.unnormalize)
        for group in opt.param_groups:
            group["lr"] = p.lr * min(1.0, (step + 1) / WARMUP_STEPS)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
        opt.step()
        ema_update(ema, model, ema_decay_at(step, p.ema_decay))
        step += 1
        val = float(loss.detach())
        if not math.isfinite(val):
            raise RuntimeError(f"pretraining diverged at step {step} (loss {val})")
        running = val if running is None else 0.98 * running + 0.02 * val
        if step % 10 == 0 or step == total_steps:
            history.append({"step": step, "loss": val, **{k: float(v.detach()) for k, v in terms.items()},
                            "seconds": time.time() - t_start})
        if writer is not None:
            writer.add_scalar("loss/total", val, step)
            for k, v in terms.items():
                writer.add_scalar(f"loss/{k}", float(v.detach()), step)
            writer.add_scalar("grad_norm", float(gnorm), step)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{running:.4f}")
        out_of_time = p.max_minutes > 0 and time.time() - t_start > 60 * p.max_minutes
        if step % p.checkpoint_every == 0 or step == total_steps or out_of_time:
            save_checkpoint(out, model=model, ema=ema, optimizer=opt, normalizer=normalizer, config=config_dict,
                            step=step, history=history)
        if out_of_time:
            break
    if bar is not None:
        bar.close()
    if writer is not None:
        writer.close()
    return {"step": step, "history": history, "seconds": time.time() - t_start}


def _tensorboard(log_dir):
    if log_dir is None:
        return None
    from torch.utils.tensorboard import SummaryWriter
    return SummaryWriter(str(log_dir))


def _progress(enabled: bool, initial: int, total: int):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc="pretrain", unit="step", dynamic_ncols=True)
