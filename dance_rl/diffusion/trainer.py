"""Pretraining loop for the base DanceDecoder (EDGE recipe, sized for a laptop by default).

Differences from EDGE, and why:
- Optimiser AdamW instead of Adan (Adan is not a dependency we carry; AdamW with EDGE's lr 4e-4 / wd 0.02 works).
- Gradient-norm clipping at 1.0, a 50-step learning-rate warm-up and an EMA warm-up (decay min(β, (1+n)/(10+n))) so a run of a few hundred steps
  already has a useful EMA model; EDGE trains for days with β = 0.9999.
- FK and foot losses are computed on unnormalised (metric) vectors by default (see losses.py).
- A wall-clock budget (pretrain.max_minutes) stops the run early, with a final checkpoint.
- Every step's batch and randomness (t, ε, condition dropout) are drawn for the *global* batch from (seed, step), so a
  run resumes exactly where it stopped and N data-parallel workers (cluster/pretrain_ray.py) each take a slice of the
  same batch: 1 or N workers train the same model up to float summation order.
- Device and mixed precision (diffusion/device.py): the model forward runs under autocast, the loss in float32; fp16
  uses a gradient scaler.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import torch
from torch.utils.data import Dataset, default_collate

from dance_rl.diffusion.checkpoint import demo_checkpoint_path, load_checkpoint, save_checkpoint
from dance_rl.diffusion.device import autocast, grad_scaler, resolve_device, resolve_precision
from dance_rl.diffusion.ema import EMA, ema_decay_at
from dance_rl.diffusion.losses import edge_loss, min_snr_weights
from dance_rl.diffusion.model import DanceDecoder, ModelSpec
from dance_rl.diffusion.schedule import NoiseSchedule
from dance_rl.errors import UserError

GRAD_CLIP = 1.0
WARMUP_STEPS = 50  # linear learning-rate warm-up, then constant (as EDGE) or cosine (pretrain.lr_schedule)
FINAL_LR_RATIO = 0.1  # the cosine schedule ends at this fraction of pretrain.lr


def global_batch_indices(n: int, batch: int, seed: int, step: int) -> torch.Tensor:
    """Dataset indices of global step `step`: epoch-wise permutations seeded by (seed, epoch), last partial batch
    dropped. A pure function of its arguments, so resume and every worker agree without shared state."""
    per_epoch = n // batch
    epoch, pos = divmod(step, per_epoch)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
    return perm[pos * batch:(pos + 1) * batch]


def step_randomness(seed: int, step: int, batch: int, shape: tuple, timesteps: int, cond_drop_prob: float):
    """(t (B,), ε (B, *shape), keep (B,) bool) of one global step, drawn from (seed, step) on the CPU."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + 7919 * step + 1)
    t = torch.randint(0, timesteps, (batch,), generator=g)
    noise = torch.randn((batch, *shape), generator=g)
    keep = torch.rand(batch, generator=g) >= cond_drop_prob
    return t, noise, keep


def load_batch(dataset, indices: torch.Tensor, device) -> tuple[torch.Tensor, torch.Tensor]:
    x, cond = default_collate([dataset[int(i)] for i in indices])[:2]
    return x.float().to(device), cond.float().to(device)


def train_step(model, optimizer, scaler, schedule, x, cond, t, noise, keep, *, lr: float, precision: str,
               unnormalize=None, weights=None) -> tuple[torch.Tensor, dict, torch.Tensor]:
    """One optimiser step (model may be DDP-wrapped). Forward under autocast, loss in float32. → (loss, terms, gnorm).
    weights (B,): per-window loss weights (loss_weights), None = uniform."""
    device = x.device
    x_t = schedule.q_sample(x, t.to(device), noise.to(device))
    with autocast(device, precision):
        x0_pred = model(x_t, cond, t.to(device), keep=keep.to(device))
    loss, terms = edge_loss(x0_pred.float(), x, unnormalize, weights)
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
    scaler.step(optimizer)
    scaler.update()
    return loss, terms, gnorm


def lr_at(p, step: int, total_steps: int) -> float:
    """Learning rate of `step` for PretrainConfig `p`: linear warm-up, then constant or a cosine decay to
    FINAL_LR_RATIO·lr at total_steps (on its own the decay did not change the demo model's motion; with
    Min-SNR weighting it is part of the measured recipe, docs/results.md "Base model: Min-SNR")."""
    lr = p.lr * min(1.0, (step + 1) / WARMUP_STEPS)
    if p.lr_schedule == "cosine":
        lr *= FINAL_LR_RATIO + (1.0 - FINAL_LR_RATIO) * 0.5 * (1.0 + math.cos(math.pi * min(step / total_steps, 1.0)))
    return lr


def loss_weights(p, schedule, t: torch.Tensor) -> torch.Tensor | None:
    """Per-window loss weights of PretrainConfig `p` for noise levels t (None = uniform, EDGE's)."""
    if p.loss_weighting == "min_snr":
        return min_snr_weights(schedule.alphas_cumprod, t, p.min_snr_gamma)
    return None


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
    device = resolve_device(p.device, "pretrain.device / --device")
    precision = resolve_precision(p.precision, device, "pretrain.precision / --precision")
    torch.manual_seed(p.seed)
    dataset = dataset if dataset is not None else make_training_dataset(cfg)
    normalizer = _dataset_normalizer(dataset)
    if len(dataset) == 0:
        raise UserError(f"data source '{cfg.data.source}': no training windows; check the data folder")
    spec = ModelSpec.from_config(cfg.model)
    model = DanceDecoder(spec).to(device)
    ema = EMA(model, p.ema_decay)
    opt = torch.optim.AdamW(model.parameters(), lr=p.lr, weight_decay=p.weight_decay)
    scaler = grad_scaler(device, precision)
    step, history = 0, []
    if resume and out.is_file():
        ckpt = load_checkpoint(out)
        check_resume_spec(ckpt, spec, out)
        model.load_state_dict(ckpt["model"])
        ema.model.load_state_dict(ckpt["ema"])
        opt.load_state_dict(ckpt["optimizer"])
        step, history = int(ckpt["step"]), list(ckpt.get("history", []))
    schedule = NoiseSchedule(cfg.diffusion.timesteps)
    batch = min(p.batch_size, len(dataset))
    writer = _tensorboard(log_dir)
    bar = _progress(progress, step, total_steps)
    config_dict = cfg.to_dict()
    t_start, running = time.time(), None
    model.train()
    while step < total_steps:
        x, cond = load_batch(dataset, global_batch_indices(len(dataset), batch, p.seed, step), device)
        t, noise, keep = step_randomness(p.seed, step, batch, x.shape[1:], schedule.timesteps,
                                         cfg.diffusion.cond_drop_prob)
        loss, terms, gnorm = train_step(model, opt, scaler, schedule, x, cond, t, noise, keep,
                                        lr=lr_at(p, step, total_steps), precision=precision,
                                        unnormalize=normalizer.unnormalize, weights=loss_weights(p, schedule, t))
        ema.update(model, ema_decay_at(step, p.ema_decay))
        step += 1
        val = float(loss.detach())
        if not math.isfinite(val):
            raise RuntimeError(f"pretraining diverged at step {step} (loss {val})")
        running = val if running is None else 0.98 * running + 0.02 * val
        if step % 10 == 0 or step == total_steps:
            history.append({"step": step, "loss": val, **{k: float(v.detach()) for k, v in terms.items()},
                            "seconds": time.time() - t_start})
        log_scalars(writer, step, val, terms, gnorm)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{running:.4f}")
        out_of_time = p.max_minutes > 0 and time.time() - t_start > 60 * p.max_minutes
        if step % p.checkpoint_every == 0 or step == total_steps or out_of_time:
            save_checkpoint(out, model=model, ema=ema.model, optimizer=opt, normalizer=normalizer, config=config_dict,
                            step=step, history=history)
        if out_of_time:
            break
    if bar is not None:
        bar.close()
    if writer is not None:
        writer.close()
    return {"step": step, "history": history, "seconds": time.time() - t_start}


def check_resume_spec(ckpt: dict, spec: ModelSpec, out) -> None:
    if ckpt["model_spec"] != spec.to_dict():
        raise UserError(f"--resume: checkpoint '{out}' has model {ckpt['model_spec']}, config asks for "
                        f"{spec.to_dict()}; use the same config or a new --out")


def log_scalars(writer, step: int, loss: float, terms: dict, gnorm) -> None:
    if writer is None:
        return
    writer.add_scalar("loss/total", loss, step)
    for k, v in terms.items():
        writer.add_scalar(f"loss/{k}", float(v.detach()), step)
    writer.add_scalar("grad_norm", float(gnorm), step)


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


# ------------------------------------------------------------------------------------------------------ demo model
def default_demo_checkpoint(cache_dir: str | Path = ".cache/dance_rl", *, progress: bool = True,
                            overrides: tuple[str, ...] = ()) -> Path:
    """Path of the cached demo base model (checkpoint.demo_checkpoint_path); trains it on the demo corpus first if
    it is missing (≈5 min on 2 cores)."""
    path = demo_checkpoint_path(cache_dir)
    if path.is_file():
        return path
    from dance_rl.config import load_config

    cfg = load_config(None, list(overrides) + [f"data.cache_dir={cache_dir}", "data.source=demo"])
    pretrain(cfg, out=path, progress=progress, log_dir=path.parent / "tb")
    return path
