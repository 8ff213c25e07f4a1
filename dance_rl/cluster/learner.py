"""Learner: the trainable diffusion model, its optimiser, EMA and per-music advantage trackers.

``update(rollouts, scores)`` turns scored chunks into per-frame advantages (rl/advantages.py), runs one policy-gradient
update (rl/update.py) and publishes the new weights (numpy arrays, ``ray.put`` once) with a version number.
``rl.algorithm=draft`` replaces the policy gradient by exact gradients of differentiable physics errors through the last
denoising steps (rl/draft.py). Two controls on the policy-gradient update: ``rl.placebo`` replaces the advantages by random draws (what the step alone does to the
model), and ``rl.ptx_steps`` follows each policy update with pretraining-loss steps on the training mocap (they undo the
drift toward stillness that the policy gradient's noise causes; docs/results.md, session 13).
"""
from __future__ import annotations

import copy
import dataclasses
import time

import numpy as np
import ray
import torch

from dance_rl.cluster.common import numpy_to_state, pick_device, state_to_numpy
from dance_rl.config import DiffusionConfig, RLConfig
from dance_rl.data.dataset import dataset_from_config
from dance_rl.diffusion.device import grad_scaler, resolve_precision
from dance_rl.diffusion.ema import EMA
from dance_rl.diffusion.model import DanceDecoder, ModelSpec
from dance_rl.diffusion.schedule import NoiseSchedule
from dance_rl.diffusion.trainer import global_batch_indices, load_batch, loss_weights, step_randomness, train_step
from dance_rl.motion.representation import Normalizer
from dance_rl.rl.advantages import AdvantageComputer
from dance_rl.rl.draft import draft_update
from dance_rl.rl.rollout import Rollout
from dance_rl.rl.update import policy_update


class LearnerWorker:
    def __init__(self, spec: dict, state_dict: dict, rl: RLConfig, diffusion: DiffusionConfig,
                 reward_weights: dict[str, float], ptx: tuple | None = None, normalizer_state: dict | None = None,
                 use_gpu: bool = False, torch_threads: int = 1, device: str = "auto", precision: str = "auto"):
        """Arguments come from cluster/roles.learner_kwargs (one config, every role). ``ptx`` = (DataConfig,
        PretrainConfig) when rl.ptx_steps > 0: the mocap and loss of the pretraining steps. ``normalizer_state``: the
        model's normaliser (needed by ptx and rl.algorithm=draft, which look at motions in metres)."""
        torch.set_num_threads(max(1, torch_threads))
        self.rl, self.diff = rl, diffusion
        self.reward_weights = dict(reward_weights)
        self.device = pick_device(use_gpu, device)
        self.precision = resolve_precision(precision, self.device, "cluster.precision")
        self.scaler = grad_scaler(self.device, self.precision)
        torch.manual_seed(rl.seed)
        self.model = DanceDecoder(ModelSpec(**spec)).to(self.device)
        self.model.load_state_dict(numpy_to_state(state_dict), strict=True)  # copies: Ray hands over read-only arrays
        self.draft = rl.algorithm == "draft"
        self.ref_model = copy.deepcopy(self.model).eval().requires_grad_(False) \
            if rl.kl_weight > 0 or self.draft else None
        self.ema = EMA(self.model, rl.ema_decay)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=rl.lr, weight_decay=rl.weight_decay)
        self.schedule = NoiseSchedule(diffusion.timesteps)
        self.advantages = AdvantageComputer(reward_weights, spec["seq_len"], rl.tracker_buffer, rl.tracker_min_count,
                                            rl.adv_clip, rl.adv_std_floor)
        self.normalizer = Normalizer.from_state_dict(normalizer_state) if normalizer_state is not None else None
        if self.normalizer is None and (rl.ptx_steps > 0 or self.draft):
            raise ValueError("rl.ptx_steps > 0 and rl.algorithm=draft need the model's normaliser (normalizer_state)")
        self.ptx = None
        if rl.ptx_steps > 0:
            if ptx is None:
                raise ValueError("rl.ptx_steps > 0 needs the training data and pretraining config (ptx)")
            data, pretrain = ptx
            self.ptx = (dataset_from_config(data, "train", normalizer=self.normalizer), pretrain)
        self.version = 0

    def settings(self) -> dict:
        """What this learner was built with (tests compare the Ray and the serial path)."""
        return {"rl": dataclasses.asdict(self.rl), "diffusion": dataclasses.asdict(self.diff),
                "reward_weights": self.reward_weights, "device": str(self.device), "precision": self.precision}

    # -- weights ---------------------------------------------------------------------------------------------------
    def get_weights(self) -> dict:
        return state_to_numpy(self.model.state_dict())

    def get_ema_weights(self) -> dict:
        return state_to_numpy(self.ema.model.state_dict())

    def publish(self):
        """(version, [ref]) — the form samplers take (the list keeps Ray from fetching the ref eagerly)."""
        return self.version, [ray.put(self.get_weights())]

    # -- the update ------------------------------------------------------------------------------------------------
    def update(self, rollouts: list, scores: list) -> dict:
        # Chunks arrive by reference inside lists (Ray resolves only top-level arguments). Waiting for them is
        # pipeline time, not learner time, so the clock starts after.
        rollouts = [ray.get(r) if isinstance(r, ray.ObjectRef) else r for r in rollouts]
        scores = [ray.get(s) if isinstance(s, ray.ObjectRef) else s for s in scores]
        t0 = time.perf_counter()
        rollout = Rollout.concat(list(rollouts))
        components = merge_scores(scores, rollout.keys)
        adv, adv_stats = self.advantages(rollout.keys, components)
        if self.rl.placebo:  # same update, no information: what is left is what the step itself does
            draw = np.random.default_rng([self.rl.seed, self.version]).standard_normal((adv.shape[0], 1))
            adv = np.broadcast_to(draw, adv.shape).copy()
        rollout = _to_device(rollout, self.device)
        if self.draft:
            rl = self.rl
            stats = draft_update(
                self.model, self.ref_model, self.schedule, self.optimizer, rollout, self.normalizer,
                steps=rl.draft_steps, weights=rl.draft_errors, target=rl.draft_target, targets=rl.draft_targets,
                motion_weight=rl.draft_motion_weight, anchor_weight=rl.draft_anchor_weight,
                chain_weight=rl.draft_chain_weight, chain_steps=rl.draft_chain_steps, seed=[rl.seed, self.version],
                eta=self.diff.eta, clip_denoised=self.diff.clip_denoised, grad_clip=rl.grad_clip,
                ema=None if self.ptx else self.ema, micro_batch=rl.micro_batch)
        else:
            stats = policy_update(
                self.model, self.schedule, self.optimizer, rollout, torch.as_tensor(adv, device=self.device),
                algorithm=self.rl.algorithm, eta=self.diff.eta, clip_denoised=self.diff.clip_denoised,
                clip_range=self.rl.clip_range, inner_epochs=self.rl.inner_epochs, grad_clip=self.rl.grad_clip,
                kl_weight=self.rl.kl_weight, ref_model=self.ref_model, ema=None if self.ptx else self.ema,
                micro_batch=self.rl.micro_batch, precision=self.precision,
                scaler=self.scaler if self.precision == "fp16" else None)
        if self.ptx:
            stats["ptx_loss"] = self._ptx_steps()
            self.ema.update(self.model)
        self.version += 1
        metrics = {f"train/{k}": v for k, v in stats.items()}
        metrics.update(adv_stats)
        for name, res in components.items():
            metrics[f"reward/{name}"] = float(np.mean(res["per_sample"]))
            for dk, dv in res["diagnostics"].items():
                if np.asarray(dv).dtype.kind in "fiub" and np.asarray(dv).size:
                    metrics[f"diag/{name}_{dk}"] = float(np.mean(dv))
        for key in ("magnitude", "lowpass"):  # logged whatever the reward weights (freezing shows here)
            if all(f"motion_{key}" in s for s in scores):
                metrics[f"motion/{key}"] = float(np.mean(np.concatenate([s[f"motion_{key}"] for s in scores])))
        metrics["time/learner_s"] = time.perf_counter() - t0
        metrics["train/version"] = self.version
        metrics["train/staleness"] = self.version - 1 - rollout.version
        return metrics

    def _ptx_steps(self) -> float:
        """rl.ptx_steps optimiser steps of the pretraining loss on mocap windows (batches and noise drawn from
        (rl.seed, step), so a resumed run repeats them); the policy update's learning rate is restored after."""
        dataset, pretrain = self.ptx
        k, n = self.rl.ptx_steps, self.rl.ptx_batch
        self.model.train()
        losses = []
        for i in range(k):
            step = self.version * k + i
            x, cond = load_batch(dataset, global_batch_indices(len(dataset), n, self.rl.seed, step), self.device)
            t, noise, keep = step_randomness(self.rl.seed, step, n, tuple(x.shape[1:]), self.schedule.timesteps,
                                             self.diff.cond_drop_prob)
            loss, _, _ = train_step(self.model, self.optimizer, self.scaler, self.schedule, x, cond, t, noise, keep,
                                    lr=self.rl.ptx_lr, precision=self.precision,
                                    unnormalize=self.normalizer.unnormalize,
                                    weights=loss_weights(pretrain, self.schedule, t))
            losses.append(float(loss.detach()))
        for group in self.optimizer.param_groups:
            group["lr"] = self.rl.lr
        self.model.eval()
        return float(np.mean(losses))

    def update_and_publish(self, rollouts: list[Rollout], scores: list[dict]):
        metrics = self.update(rollouts, scores)
        return metrics, self.publish()

    # -- checkpoints -----------------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "ema": self.ema.model.state_dict(),
                "optimizer": self.optimizer.state_dict(), "advantages": self.advantages.state_dict(),
                "version": self.version, "scaler": self.scaler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.ema.model.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.advantages.load_state_dict(state["advantages"])
        self.version = int(state["version"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])


def merge_scores(scores: list[dict], keys: list) -> dict:
    """Concatenate per-chunk reward components in rollout order; each chunk's keys must match its rollout's.

    Every chunk must carry the same components and diagnostics with compatible shapes: a mismatch means the reward
    actors disagree (different code or settings), which raises instead of silently dropping a term.
    """
    names = list(scores[0]["components"])
    merged = {}
    for i, s in enumerate(scores):
        if list(s["components"]) != names:
            raise RuntimeError(f"reward chunk {i} has components {list(s['components'])}, chunk 0 has {names}")
    for name in names:
        comps = [s["components"][name] for s in scores]
        per_sample = np.concatenate([c["per_sample"] for c in comps])
        frames = [c["per_frame"] for c in comps]
        if any(f is None for f in frames) and not all(f is None for f in frames):
            raise RuntimeError(f"reward {name!r}: per_frame is missing in some chunks only")
        per_frame = None if frames[0] is None else np.concatenate(frames)
        diags = {}
        for dk in comps[0]["diagnostics"]:
            if any(dk not in c["diagnostics"] for c in comps) or any(len(c["diagnostics"]) != len(comps[0]["diagnostics"])
                                                                    for c in comps):
                raise RuntimeError(f"reward {name!r}: chunks report different diagnostics "
                                   f"({[sorted(c['diagnostics']) for c in comps]})")
            try:
                diags[dk] = np.concatenate([np.atleast_1d(c["diagnostics"][dk]) for c in comps])
            except ValueError as e:
                raise RuntimeError(f"reward {name!r}: diagnostic {dk!r} cannot be merged across chunks ({e})") from None
        merged[name] = {"per_sample": per_sample, "per_frame": per_frame, "diagnostics": diags}
    score_keys = [k for s in scores for k in s["keys"]]
    if score_keys != list(keys):
        raise RuntimeError("reward results are out of order with the rollouts (keys differ)")
    return merged


def _to_device(r: Rollout, device) -> Rollout:
    if device.type == "cpu":
        return r
    return Rollout(keys=r.keys, cond=r.cond.to(device), latents=r.latents.to(device), timesteps=r.timesteps,
                   next_timesteps=r.next_timesteps, log_probs=r.log_probs.to(device),
                   guidance_weights=r.guidance_weights, version=r.version)


Learner = ray.remote(LearnerWorker)
