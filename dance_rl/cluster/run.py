"""One RLFT run on Ray: build the placement group and actors, iterate, checkpoint, resume.

``python -m dance_rl.train`` drives one run; a Tune trial is the same run inside the trial's placement group
("build actors, call iteration N times, report").
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np
import ray

from dance_rl.cluster.learner import Learner
from dance_rl.cluster.loop import RLFTLoop
from dance_rl.cluster.placement import create_run_placement
from dance_rl.cluster.reward_actor import RewardActor
from dance_rl.cluster.sampler_actor import SamplerActor
from dance_rl.config import Config
from dance_rl.diffusion.checkpoint import RLFT_KIND, RUN_CKPT_NAME, atomic_torch_save
from dance_rl.errors import UserError
from dance_rl.rewards.composite import weights_from_config


def reward_weights(cfg: Config) -> dict[str, float]:
    w = {k: v for k, v in weights_from_config(cfg.rewards).items() if v > 0}
    if not w:
        raise UserError("rewards: every weight is 0; give at least one reward (e.g. rewards.imitation.weight) a weight > 0")
    return w


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
        c, rl, d = cfg.cluster, cfg.rl, cfg.diffusion
        if c.device.startswith("cuda") and (c.sampler_gpus == 0 or c.learner_gpus == 0):
            raise UserError(f"cluster.device={c.device}: give samplers and learner a GPU share "
                            "(cluster.sampler_gpus, cluster.learner_gpus > 0) or use cluster.device=auto")
        self.placement = create_run_placement(c)
        steps = rl.ddim_steps or d.ddim_steps
        rl_d = asdict(rl)
        diff_d = asdict(d)
        base_ref = ray.put(base["state_dict"])
        self.learner = Learner.options(**self.placement.options(0)).remote(
            base["spec"], base_ref, rl_d, diff_d, self.weights, use_gpu=c.learner_gpus > 0,
            torch_threads=max(1, int(c.learner_cpus)), device=c.device, precision=c.precision)
        retry = {"max_restarts": c.max_restarts, "max_task_retries": c.max_restarts}
        self.samplers = [
            SamplerActor.options(**self.placement.options(1 + i), **retry).remote(
                base["spec"], base["normalizer"], steps=steps, eta=d.eta, guidance_weight=d.guidance_weight,
                timesteps=d.timesteps, clip_denoised=d.clip_denoised, seed=rl.seed, use_gpu=c.sampler_gpus > 0,
                torch_threads=max(1, int(c.sampler_cpus)), device=c.device, precision=c.precision)
            for i in range(c.num_samplers)]
        off = 1 + c.num_samplers
        policy = ""
        if cfg.rewards.imitation.controller == "policy" and self.weights.get("imitation"):
            from dance_rl.rewards.imitation_policy import policy_file  # a bad path: one UserError here, not in actors
            policy = str(policy_file(cfg.rewards.imitation.policy_checkpoint).resolve())
        self.rewarders = [
            RewardActor.options(**self.placement.options(off + i), **retry).remote(
                self.weights, float(cfg.data.fps),
                {"imitation": {"sim": dataclasses.replace(cfg.sim, num_threads=c.reward_threads),
                               "controller": cfg.rewards.imitation.controller,
                               "policy_checkpoint": policy},
                 "learned": {"checkpoint": str(Path(cfg.rewards.learned.checkpoint).resolve())}},
                num_threads=c.reward_threads)
            for i in range(c.num_reward_actors)]
        self.loop = RLFTLoop(self.samplers, self.rewarders, self.learner, conditions, keys, rl,
                             ray.get(self.learner.publish.remote()), chunk_size=c.chunk_size)

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
