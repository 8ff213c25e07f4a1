"""Base-model checkpoints: our own format (weights_only-loadable) and EDGE's, behind one loader.

Our checkpoint is a plain dict of tensors and python values, so ``torch.load(weights_only=True)`` reads it:
{format, model_spec, model, ema, optimizer, normalizer {data_min, data_max}, config, step, history}.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from dance_rl.diffusion.edge_checkpoint import load_edge_checkpoint, safe_torch_load
from dance_rl.diffusion.model import DanceDecoder, ModelSpec
from dance_rl.errors import UserError
from dance_rl.fileio import atomic_path
from dance_rl.motion.representation import Normalizer

FORMAT = "dance_rl.diffusion.v1"
DEMO_CHECKPOINT_VERSION = 1  # bump when the demo recipe changes: part of the cached file name


def atomic_torch_save(obj, path: str | Path) -> None:
    """Write to a temp file in the same folder, then rename: readers never see a half-written checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def save_checkpoint(path, *, model: DanceDecoder, ema: DanceDecoder | None, optimizer, normalizer: Normalizer,
                    config: dict | None, step: int, history: list | None = None) -> None:
    atomic_torch_save({
        "format": FORMAT,
        "model_spec": model.spec.to_dict(),
        "model": model.state_dict(),
        "ema": (ema or model).state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "normalizer": normalizer.state_dict(),
        "config": config or {},
        "step": int(step),
        "history": history or [],
    }, path)


def load_checkpoint(path) -> dict:
    """Read one of our checkpoints (safe loader); raises UserError with a fix if it is something else."""
    ckpt = safe_torch_load(path)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise UserError(f"checkpoint '{path}': not a dance_rl base-model checkpoint (format {FORMAT}); "
                        "train one with `python -m dance_rl.pretrain` or pass an EDGE checkpoint")
    return ckpt


def is_edge_checkpoint(ckpt) -> bool:
    return isinstance(ckpt, dict) and "ema_state_dict" in ckpt and "normalizer" in ckpt


def load_model(path, use_ema: bool = True) -> tuple[DanceDecoder, Normalizer, dict]:
    """Any supported checkpoint → (model in eval mode, normaliser, metadata {config, step, source})."""
    ckpt = safe_torch_load(path)
    if is_edge_checkpoint(ckpt):
        model, normalizer = load_edge_checkpoint(path, use_ema=use_ema)
        return model, normalizer, {"config": {}, "step": None, "source": "edge"}
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise UserError(f"checkpoint '{path}': neither a dance_rl nor an EDGE checkpoint; "
                        "train one with `python -m dance_rl.pretrain`")
    model = DanceDecoder(ModelSpec(**ckpt["model_spec"]))
    model.load_state_dict(ckpt["ema" if use_ema else "model"])
    meta = {"config": ckpt.get("config", {}), "step": ckpt.get("step"), "source": "dance_rl",
            "history": ckpt.get("history", [])}
    return model.eval(), Normalizer.from_state_dict(ckpt["normalizer"]), meta


def demo_checkpoint_path(cache_dir: str | Path) -> Path:
    return Path(cache_dir) / "base_model" / f"demo_v{DEMO_CHECKPOINT_VERSION}.pt"


def default_demo_checkpoint(cache_dir: str | Path = ".cache/dance_rl", *, progress: bool = True,
                            overrides: tuple[str, ...] = ()) -> Path:
    """Path of the cached demo base model; trains it on the demo corpus first if it is missing (≈5 min on 2 cores)."""
    path = demo_checkpoint_path(cache_dir)
    if path.is_file():
        return path
    from dance_rl.config import load_config
    from dance_rl.diffusion.trainer import pretrain

    cfg = load_config(None, list(overrides) + [f"data.cache_dir={cache_dir}", "data.source=demo"])
    pretrain(cfg, out=path, progress=progress, log_dir=path.parent / "tb")
    return path
