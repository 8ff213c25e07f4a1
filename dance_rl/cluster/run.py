"""One RLFT run on Ray: build the placement group and actors (cluster/roles.py), iterate, checkpoint, resume.

``python -m dance_rl.train`` drives one run; a Tune trial is the same run inside the trial's placement group
("build actors, call iteration N times, report").
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import ray

from dance_rl.cluster.loop import RLFTLoop
from dance_rl.cluster.placement import create_run_placement
from dance_rl.cluster.roles import actor_roles, check_devices, reward_weights
from dance_rl.config import Config
from dance_rl.diffusion.checkpoint import RLFT_KIND, RUN_CKPT_NAME
from dance_rl.fileio import atomic_torch_save


def init_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    """Join RAY_ADDRESS / ``address`` when given (as ``ray.init()`` does), otherwise start a local cluster."""
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, log_to_driver=True)
    else:
        # Logical CPUs are scheduling bookkeeping; a laptop run may oversubscribe its cores a little.
        # Passive OpenMP waiting: actors share cores, and spinning OpenMP threads cost up to 6× (docs/benchmarks.md).
        # address="local": always a new cluster here, never a stray `ray start` cluster of another user or test.
        ray.init(address="local", num_cpus=num_cpus or max(4, os.cpu_count() or 1), include_dashboard=False,
                 log_to_driver=True,
                 runtime_env={"env_vars": {"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}})


class RLRun:
    def __init__(self, cfg: Config, base: dict, conditions: np.ndarray, keys: list):
        """``base`` = {"spec": dict, "state_dict": {name: array}, "normalizer": state}, the model to fine-tune."""
        self.cfg = cfg
        self.base = base
        self.conditions, self.keys = conditions, keys
        self.weights = reward_weights(cfg)
        check_devices(cfg)  # before the placement group exists
        self.placement = create_run_placement(cfg.cluster)
        self.learner, self.samplers, self.rewarders = actor_roles(cfg, base, self.placement)
        self.loop = RLFTLoop(self.samplers, self.rewarders, self.learner, conditions, keys, cfg.rl,
                             ray.get(self.learner.publish.remote()), chunk_size=cfg.cluster.chunk_size)

    # -- iterate ---------------------------------------------------------------------------------------------------
    def iteration(self, it: int) -> dict:
        return self.loop.iteration(it)

    def sample_fixed(self, music: np.ndarray, keys: list) -> np.ndarray:
        """One unnormalised sample (n, T, 151) per music window with the current weights and a fixed seed (the same
        noise every time, so evaluations and rendered clips are comparable across iterations)."""
        motions_ref, _ = self.samplers[0].sample.remote(10_000, 10_000, music, keys, 1, self.loop.weights)
        return np.array(ray.get(motions_ref)["features"])  # a writable copy of the object-store array

    # -- checkpoints -----------------------------------------------------------------------------------------------
    def save(self, out_dir: Path, iteration: int, heldout: dict | None = None, guardrails: dict | None = None) -> Path:
        """Write ``iter_N.pt`` atomically: learner state + what a model needs (spec, normaliser, config, the base
        model's card) + the latest held-out evaluation and guardrail state (read by export and the sweep report)."""
        out_dir.mkdir(parents=True, exist_ok=True)
        state = ray.get(self.learner.state_dict.remote())
        ckpt = {"kind": RLFT_KIND, "iteration": iteration, "learner": state, "spec": self.base["spec"],
                "normalizer": self.base["normalizer"], "config": self.cfg.to_dict(),
                "model": state["model"], "ema": state["ema"], "base_card": self.base.get("card"),
                "heldout": heldout, "guardrails": guardrails}
        path = out_dir / RUN_CKPT_NAME.format(iteration)
        atomic_torch_save(ckpt, path)
        return path

    def restore(self, ckpt: dict) -> int:
        ray.get(self.learner.load_state_dict.remote(ckpt["learner"]))
        self.loop.weights = ray.get(self.learner.publish.remote())
        return int(ckpt["iteration"])

    def ema_weights(self) -> dict:
        return ray.get(self.learner.get_ema_weights.remote())

    def shutdown(self) -> None:
        for a in self.samplers + self.rewarders + [self.learner]:
            ray.kill(a, no_restart=True)
        self.placement.remove()
