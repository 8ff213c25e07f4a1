"""Reward ``learned``: the E3D2-style reward model scores each motion of a batch against its music.

The network (`reward_net`) was trained by `python -m dance_rl.reward_model train` to rank real mocap above base-model
samples and those above samples with more noise injected (`ranked_demos`). per_frame = the net's r_t, per_sample =
mean_t r_t. Runs batched on CPU, or on the GPU when the process has one; a process loads each checkpoint once
(cache keyed by path and modification time), so a reward actor pays the load on its first batch only.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import torch

from dance_rl.errors import UserError
from dance_rl.rewards.batch import MotionBatch
from dance_rl.rewards.reward_net import LoadedRewardModel, build_inputs, load_reward_model

_MODELS: dict[tuple, LoadedRewardModel] = {}
_LOCK = threading.Lock()


def _device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def get_model(checkpoint: str, device: str = "auto") -> LoadedRewardModel:
    """The reward model at ``checkpoint`` (loaded once per process, reloaded if the file changes)."""
    if not checkpoint:
        raise UserError("reward 'learned': no checkpoint; train one with `python -m dance_rl.reward_model train "
                        "--out rm.pt` and set rewards.learned.checkpoint=rm.pt")
    path = Path(checkpoint).expanduser().resolve()
    dev = _device(device)
    key = (str(path), os.stat(path).st_mtime_ns if path.is_file() else None, str(dev))
    with _LOCK:
        if key not in _MODELS:
            _MODELS.clear()  # one reward model per process is the use case; do not pile up old versions
            _MODELS[key] = load_reward_model(path, dev)
        return _MODELS[key]


def learned(batch: MotionBatch, checkpoint: str = "", device: str = "auto") -> dict:
    """Learned reward of every motion in ``batch`` (needs ``batch.music`` unless the model ignores music)."""
    return score_net(get_model(checkpoint, device).net, batch)


def score_net(net, batch: MotionBatch, chunk: int = 256) -> dict:
    """{"per_sample" (B,), "per_frame" (B,T)} of a RewardNet on a batch, in chunks of ``chunk`` motions."""
    dev = next(net.parameters()).device
    per_frame = np.empty((batch.batch_size, batch.num_frames), dtype=np.float64)
    joints = batch.joints
    with torch.inference_mode():
        for i in range(0, batch.batch_size, chunk):
            sl = slice(i, i + chunk)
            music = None if batch.music is None else batch.music[sl]
            x = build_inputs(joints[sl], music, batch.fps, net.spec).to(dev)
            per_frame[sl] = net(x).double().cpu().numpy()
    return {"per_sample": per_frame.mean(axis=1), "per_frame": per_frame, "diagnostics": {}}
