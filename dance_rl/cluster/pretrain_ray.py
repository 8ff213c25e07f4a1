"""Data-parallel pretraining on Ray Train (TorchTrainer + DDP): many GPUs, many nodes, same model as one worker.

    python -m dance_rl.pretrain --num-workers 4 --use-gpu --out base.pt

Each worker runs the loop below on its slice of every *global* batch (pretrain.batch_size, split evenly): batch
indices and diffusion randomness come from (seed, step) (diffusion/trainer.py), and DDP averages the gradients, so N
workers follow the single-worker run up to float summation order (and dropout masks, which each worker draws for its
own rows; the demo preset has no dropout). Rank 0 alone keeps the EMA, writes TensorBoard and
saves checkpoints (our weights_only format, ``model.pt`` inside a ``ray.train.Checkpoint``); all ranks report at the
same steps. When a worker dies, Ray Train (``FailureConfig``) restarts the group from the latest checkpoint; the
step-seeded batches make the resumed run continue exactly where the checkpoint was taken.

Multi-node: every node must be able to build the dataset (the demo corpus is built per node under data.cache_dir; an
AIST++ path must exist on every node) and pretrain.storage_path must be shared storage (NFS, s3://…).
"""
from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import torch

from dance_rl.config import config_from_dict
from dance_rl.diffusion.checkpoint import load_checkpoint, save_checkpoint
from dance_rl.diffusion.device import grad_scaler, resolve_precision
from dance_rl.diffusion.ema import EMA, ema_decay_at
from dance_rl.diffusion.model import DanceDecoder, ModelSpec
from dance_rl.diffusion.schedule import NoiseSchedule
from dance_rl.diffusion.trainer import (
    _dataset_normalizer,
    _tensorboard,
    check_resume_spec,
    global_batch_indices,
    load_batch,
    log_scalars,
    loss_weights,
    lr_at,
    make_training_dataset,
    step_randomness,
    train_step,
)
from dance_rl.errors import UserError
from dance_rl.fileio import atomic_torch_save

CKPT_FILE = "model.pt"


def pretrain_distributed(cfg, out: str | Path, *, resume: bool = False, log_dir: str | Path | None = None,
                         steps: int | None = None, dataset=None, on_step=None, run_name: str | None = None) -> dict:
    """Run Ray Train with cfg.pretrain.num_workers workers; copy the final checkpoint to ``out``.

    dataset: an in-memory Dataset shipped to every worker (default: each worker builds cfg.data.source).
    on_step(rank, step): called by every worker after each optimiser step (profiling; tests use it to kill a worker).
    Returns {step, history, seconds, resumed_from} (resumed_from: the checkpoint step the final worker group started
    from after a failure, -1 when no worker died).
    """
    import ray
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    from dance_rl.cluster.run import init_ray

    p = cfg.pretrain
    out = Path(out)
    n = p.num_workers
    if p.batch_size % n:
        raise UserError(f"pretrain.batch_size: {p.batch_size} does not split over {n} workers; use a multiple of "
                        f"--num-workers (the global batch is preserved)")
    if p.use_gpu and p.device == "cpu":
        raise UserError("--use-gpu with --device cpu: pick one (Ray Train gives each worker its own GPU)")
    if p.device.startswith("cuda") and not p.use_gpu:
        raise UserError(f"--device {p.device} with --num-workers {n}: add --use-gpu (Ray Train assigns one GPU per "
                        "worker; --device picks the single-process device)")
    initial = None
    if resume and out.is_file():
        initial = load_checkpoint(out)
        check_resume_spec(initial, ModelSpec.from_config(cfg.model), out)
    init_ray(cfg.cluster.address)
    t0 = time.time()
    loop_config = {"cfg": cfg.to_dict(), "steps": int(steps or p.steps),
                   "initial": ray.put(initial) if initial is not None else None,
                   "dataset": ray.put(dataset) if dataset is not None else None,
                   "log_dir": str(Path(log_dir).resolve()) if log_dir else None, "on_step": on_step}
    trainer = TorchTrainer(
        _worker_loop, train_loop_config=loop_config,
        scaling_config=ScalingConfig(num_workers=n, use_gpu=p.use_gpu),
        torch_config=TorchConfig(backend="nccl" if p.use_gpu else "gloo"),
        run_config=RunConfig(name=run_name or f"pretrain_{out.stem}_{int(t0)}",
                             storage_path=str(Path(p.storage_path).resolve()) if "://" not in p.storage_path
                             else p.storage_path,
                             failure_config=FailureConfig(max_failures=p.max_failures),
                             checkpoint_config=CheckpointConfig(num_to_keep=2)))
    result = trainer.fit()
    if result.checkpoint is None:
        raise RuntimeError(f"Ray Train finished without a checkpoint ({result.error})")
    with result.checkpoint.as_directory() as d:
        final = load_checkpoint(Path(d) / CKPT_FILE)
    atomic_torch_save(final, out)
    return {"step": int(final["step"]), "history": final["history"], "seconds": time.time() - t0,
            "resumed_from": int((result.metrics or {}).get("resumed_from", -1))}


def _worker_loop(config: dict) -> None:
    """One Ray Train worker: DDP model, its slice of each global batch, rank-0 EMA / TensorBoard / checkpoints."""
    import ray
    import ray.train
    import ray.train.torch

    cfg = config_from_dict(config["cfg"])
    p, total_steps = cfg.pretrain, config["steps"]
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    device = ray.train.torch.get_device() if p.use_gpu else torch.device("cpu")
    precision = resolve_precision(p.precision, device, "pretrain.precision")
    torch.manual_seed(p.seed)
    dataset = ray.get(config["dataset"]) if config["dataset"] is not None else make_training_dataset(cfg)
    normalizer = _dataset_normalizer(dataset)
    spec = ModelSpec.from_config(cfg.model)
    model = DanceDecoder(spec)
    state = _resume_state(config)
    resumed_from = int(state["step"]) if state is not None and state.get("from_ray") else -1
    if state is not None:
        model.load_state_dict(state["model"])
    model = model.to(device)
    ema = EMA(model, p.ema_decay) if rank == 0 else None  # rank 0 alone keeps (and saves) the average
    if ema is not None and state is not None:
        ema.model.load_state_dict(state["ema"])
    ddp = ray.train.torch.prepare_model(model, move_to_device=False)  # DDP when world > 1
    opt = torch.optim.AdamW(model.parameters(), lr=p.lr, weight_decay=p.weight_decay)
    if state is not None:
        opt.load_state_dict(state["optimizer"])
    step, history = (int(state["step"]), list(state.get("history", []))) if state is not None else (0, [])
    scaler = grad_scaler(device, precision)
    schedule = NoiseSchedule(cfg.diffusion.timesteps)
    global_b, local_b = p.batch_size, p.batch_size // world
    if len(dataset) < global_b:
        raise UserError(f"pretrain.batch_size: {global_b} is more than the {len(dataset)} training windows")
    writer = _tensorboard(config["log_dir"]) if rank == 0 else None
    t_start = time.time()
    ddp.train()
    while step < total_steps:
        idx = global_batch_indices(len(dataset), global_b, p.seed, step)
        t, noise, keep = step_randomness(p.seed, step, global_b, tuple(dataset[0][0].shape), schedule.timesteps,
                                         cfg.diffusion.cond_drop_prob)
        mine = slice(rank * local_b, (rank + 1) * local_b)
        x, cond = load_batch(dataset, idx[mine], device)
        loss, terms, gnorm = train_step(ddp, opt, scaler, schedule, x, cond, t[mine], noise[mine], keep[mine],
                                        lr=lr_at(p, step, total_steps), precision=precision,
                                        unnormalize=normalizer.unnormalize,
                                        weights=loss_weights(p, schedule, t[mine]))
        if ema is not None:
            ema.update(model, ema_decay_at(step, p.ema_decay))
        step += 1
        val = _global_mean(loss.detach(), world)  # the global-batch loss, same on every rank
        if not math.isfinite(val):
            raise RuntimeError(f"pretraining diverged at step {step} (loss {val})")
        if step % 10 == 0 or step == total_steps:
            history.append({"step": step, "loss": val, **{k: float(v.detach()) for k, v in terms.items()},
                            "seconds": time.time() - t_start})
        if rank == 0:
            log_scalars(writer, step, val, terms, gnorm)
        if config["on_step"] is not None:
            config["on_step"](rank, step)
        out_of_time = p.max_minutes > 0 and _any_rank(time.time() - t_start > 60 * p.max_minutes, world, device)
        if step % p.checkpoint_every == 0 or step == total_steps or out_of_time:
            _report(step, val, resumed_from, cfg, model, ema, opt, normalizer, history, rank)
        if out_of_time:
            break
    if writer is not None:
        writer.close()


def _resume_state(config: dict) -> dict | None:
    """Latest Ray Train checkpoint of this run (after a worker died), else the --resume file, else None."""
    import ray
    import ray.train

    ckpt = ray.train.get_checkpoint()
    if ckpt is not None:
        with ckpt.as_directory() as d:
            return {**load_checkpoint(Path(d) / CKPT_FILE), "from_ray": True}
    return ray.get(config["initial"]) if config["initial"] is not None else None


def _report(step, loss, resumed_from, cfg, model, ema, opt, normalizer, history, rank) -> None:
    """Every rank reports at the same steps; rank 0 attaches the checkpoint (model, EMA, optimiser, normaliser)."""
    import ray.train

    metrics = {"step": step, "loss": loss, "resumed_from": resumed_from}
    if rank != 0:
        ray.train.report(metrics)
        return
    with tempfile.TemporaryDirectory() as d:
        save_checkpoint(Path(d) / CKPT_FILE, model=model, ema=ema.model, optimizer=opt, normalizer=normalizer,
                        config=cfg.to_dict(), step=step, history=history)
        ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(d))


def _global_mean(value: torch.Tensor, world: int) -> float:
    if world == 1:
        return float(value)
    t = value.detach().float().reshape(1).clone()  # on the worker's device (NCCL reduces GPU tensors only)
    torch.distributed.all_reduce(t)
    return float(t) / world


def _any_rank(flag: bool, world: int, device) -> bool:
    if world == 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
    return bool(t.item() > 0)
