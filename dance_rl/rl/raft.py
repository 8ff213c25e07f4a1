"""Reward-ranked fine-tuning (RAFT, Dong et al. 2023): keep each music window's best samples and train the diffusion
model on them with its pretraining loss (no Ray; the Learner actor calls this when rl.algorithm=raft).

Why not only the policy gradient: with 64 samples per iteration the REINFORCE/PPO gradient over 9 stochastic DDIM
steps × 150 frames × 151 features is mostly noise, and Adam turns noise into full-size steps. Measured (docs/results.md,
"Session 13"): with advantages replaced by random numbers (rl.placebo) one update at the recipes' lr 3e-4 cut the
samples' low-pass motion by 29%, and six at 3e-5 cut it by 25% on held-out music, FID_g +33%. Ranking needs only the
order of the rewards; the denoising loss on the selected samples is the low-variance supervised gradient that
pretraining used, pulling the model toward its own best samples, which stay inside its distribution.

Per iteration (reads top to bottom):

    score_i = mean over frames of the combined advantage (per-window z-scores, weights, rl.motion_floor's λ)
    for each music window: candidates = samples with low-pass motion >= the window's median   # never reward stillness
                           keep the ``keep`` best candidates by score → the replay buffer (x0, music)
    for ``steps`` steps: a batch from the buffer → EDGE loss at random noise levels (Min-SNR weights, music dropped
                         with the pretraining probability so classifier-free guidance keeps its unconditional half)
"""
from __future__ import annotations

from collections import deque

import numpy as np
import torch

from dance_rl.diffusion.losses import edge_loss, min_snr_weights


def select(keys: list, score: np.ndarray, motion: np.ndarray, keep: int) -> list[int]:
    """Indices of the ``keep`` best-scoring samples of each window among those moving at least the window's median."""
    chosen = []
    for key in dict.fromkeys(keys):
        idx = np.array([i for i, k in enumerate(keys) if k == key])
        movers = idx[motion[idx] >= np.median(motion[idx])]
        chosen += movers[np.argsort(-score[movers], kind="stable")[:keep]].tolist()
    return chosen


class ReplayBuffer:
    """The most recent selected samples (normalised x0, music), oldest dropped first."""

    def __init__(self, size: int):
        self.items: deque = deque(maxlen=size)

    def add(self, x0: torch.Tensor, cond: torch.Tensor) -> None:
        self.items.extend(zip(x0.detach().cpu(), cond.detach().cpu()))

    def batch(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(len(self.items), (min(n, len(self.items)),), generator=generator).tolist()
        return (torch.stack([self.items[i][0] for i in idx]), torch.stack([self.items[i][1] for i in idx]))

    def __len__(self) -> int:
        return len(self.items)

    def state_dict(self) -> dict:
        if not self.items:
            return {"size": self.items.maxlen, "x0": None, "cond": None}
        return {"size": self.items.maxlen, "x0": torch.stack([a for a, _ in self.items]),
                "cond": torch.stack([b for _, b in self.items])}

    def load_state_dict(self, state: dict) -> None:
        self.items = deque(maxlen=int(state["size"]))
        if state["x0"] is not None:
            self.add(state["x0"], state["cond"])


def raft_update(model, schedule, optimizer, buffer: ReplayBuffer, *, steps: int, batch: int, generator: torch.Generator,
                unnormalize, cond_drop_prob: float, min_snr_gamma: float = 5.0, grad_clip: float = 1.0,
                device=torch.device("cpu")) -> dict:
    """``steps`` optimiser steps of the pretraining loss on batches drawn from ``buffer``; returns mean statistics."""
    model.train()
    losses, norms = [], []
    for _ in range(steps):
        x0, cond = (v.to(device) for v in buffer.batch(batch, generator))
        t = torch.randint(0, schedule.timesteps, (len(x0),), generator=generator)
        noise = torch.randn(x0.shape, generator=generator).to(device)
        keep = (torch.rand(len(x0), generator=generator) >= cond_drop_prob).to(device)
        x_t = schedule.q_sample(x0, t.to(device), noise)
        pred = model(x_t, cond, t.to(device), keep=keep)
        loss, _ = edge_loss(pred.float(), x0, unnormalize, min_snr_weights(schedule.alphas_cumprod, t, min_snr_gamma))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(),
                                                          grad_clip if grad_clip > 0 else float("inf"))))
        optimizer.step()
        losses.append(float(loss.detach()))
    model.eval()
    return {"loss": float(np.mean(losses)), "grad_norm": float(np.mean(norms)), "buffer": float(len(buffer))}
