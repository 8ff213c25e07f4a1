"""SamplerActor: a replica of the diffusion policy that samples DDIM chains with per-step log-probabilities.

Weights arrive as ``(version, [ObjectRef])``: the ref is wrapped in a list so Ray does not fetch it for every call; the
replica fetches it only when the version changed (so a restarted replica picks up the latest weights on its next call).
"""
from __future__ import annotations

import time

import numpy as np
import ray
import torch

from dance_rl.cluster.common import chunk_seed, numpy_to_state, pick_device
from dance_rl.diffusion.device import autocast, resolve_precision
from dance_rl.diffusion.model import DanceDecoder, ModelSpec
from dance_rl.diffusion.sampler import ddim_sample
from dance_rl.diffusion.schedule import NoiseSchedule
from dance_rl.motion.representation import Normalizer
from dance_rl.rl.rollout import Rollout


class SamplerWorker:
    def __init__(self, spec: dict, normalizer_state: dict, *, steps: int, eta: float, guidance_weight: float,
                 timesteps: int = 1000, spacing: str = "uniform", clip_denoised: bool = True, seed: int = 0,
                 use_gpu: bool = False, torch_threads: int = 1, device: str = "auto", precision: str = "auto"):
        torch.set_num_threads(max(1, torch_threads))
        self.device = pick_device(use_gpu, device)
        self.precision = resolve_precision(precision, self.device, "cluster.precision")
        self.model = DanceDecoder(ModelSpec(**spec)).to(self.device).eval()
        self.normalizer = Normalizer.from_state_dict(normalizer_state)
        self.schedule = NoiseSchedule(timesteps, spacing=spacing)
        self.steps, self.eta, self.w, self.clip = steps, eta, guidance_weight, clip_denoised
        self.seed = seed
        self.version = -1

    def settings(self) -> dict:
        """What this replica samples with (tests compare the Ray and the serial path)."""
        return {"steps": self.steps, "eta": self.eta, "guidance_weight": self.w, "timesteps": self.schedule.timesteps,
                "spacing": self.schedule.spacing, "clip_denoised": self.clip, "seed": self.seed,
                "device": str(self.device), "precision": self.precision}

    def load_weights(self, arrays: dict, version: int) -> None:
        self.model.load_state_dict(numpy_to_state(arrays, self.device), strict=True)
        self.version = version

    def _ensure_weights(self, weights) -> None:
        version, box = weights
        if version != self.version:
            arrays = ray.get(box[0]) if isinstance(box, list) and isinstance(box[0], ray.ObjectRef) else box
            self.load_weights(arrays, version)

    @ray.method(num_returns=2)
    def sample(self, chunk_id: int, iteration: int, cond: np.ndarray, keys: list, n_per_condition: int, weights):
        """Sample ``n_per_condition`` motions per music window in ``cond`` (n, T, C).

        Returns (motions, rollout): motions = {"features": (n·k, T, 151) unnormalised float32, "keys", "chunk_id"} for
        the reward actors, and the :class:`Rollout` (chains, log-probs) for the learner, as two objects so each consumer
        fetches only what it needs.
        """
        t0 = time.perf_counter()
        self._ensure_weights(weights)
        # np.array copies: Ray hands in read-only arrays, which torch warns about
        cond_t = torch.as_tensor(np.array(cond), dtype=torch.float32).repeat_interleave(n_per_condition, 0)
        sample_keys = [k for k in keys for _ in range(n_per_condition)]
        gen = torch.Generator().manual_seed(chunk_seed(self.seed, iteration, chunk_id))
        with torch.inference_mode(), autocast(self.device, self.precision):
            res = ddim_sample(self.model, self.schedule, cond_t.to(self.device), steps=self.steps, eta=self.eta,
                              guidance_weight=self.w, clip_denoised=self.clip, generator=gen)
            features = self.normalizer.unnormalize(res.x0.float().cpu())
        rollout = Rollout(keys=sample_keys, cond=cond_t, latents=res.latents.cpu(), timesteps=res.timesteps.cpu(),
                          next_timesteps=res.next_timesteps.cpu(), log_probs=res.log_probs.cpu(),
                          guidance_weights=res.guidance_weights.cpu(), version=self.version)
        motions = {"features": features.numpy(), "music": cond_t.numpy(), "keys": sample_keys, "chunk_id": chunk_id,
                   "seconds": time.perf_counter() - t0, "version": self.version}
        return motions, rollout

    def pid(self) -> int:
        import os
        return os.getpid()

    def node_id(self) -> str:
        return ray.get_runtime_context().get_node_id()


SamplerActor = ray.remote(SamplerWorker)
