"""One wiring of the RLFT roles: the sampler, reward actor and learner get every setting from one :class:`Config` here.

A Ray run (:func:`actor_roles`, used by cluster/run.py), the same iteration in one process (:func:`serial_loop`: the
benchmark baseline, the Ray-vs-serial test, a debug path) and anything else that builds a role call the
``*_kwargs`` functions below, so the two paths cannot drift apart (DDIM steps, schedule length, clipping, reward
weights, fps and simulator settings all come from the same lines).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import ray

from dance_rl.cluster.learner import Learner, LearnerWorker
from dance_rl.cluster.loop import SerialLoop
from dance_rl.cluster.reward_actor import RewardActor, RewardWorker
from dance_rl.cluster.sampler_actor import SamplerActor, SamplerWorker
from dance_rl.config import Config
from dance_rl.errors import UserError
from dance_rl.rewards.composite import weights_from_config


def reward_weights(cfg: Config) -> dict[str, float]:
    """The rewards a run computes: the positive weights of ``cfg.rewards`` (at least one)."""
    w = {k: v for k, v in weights_from_config(cfg.rewards).items() if v > 0}
    if not w:
        raise UserError("rewards: every weight is 0; give at least one reward (e.g. rewards.imitation.weight) a weight > 0")
    return w


def sampler_kwargs(cfg: Config, base: dict) -> dict:
    """SamplerWorker's arguments. ``base`` = {"spec", "normalizer", ...} (cluster/inputs.load_base_model)."""
    c, d = cfg.cluster, cfg.diffusion
    return dict(spec=base["spec"], normalizer_state=base["normalizer"], steps=cfg.rl.ddim_steps or d.ddim_steps,
                eta=d.eta, guidance_weight=d.guidance_weight, timesteps=d.timesteps, spacing=d.ddim_spacing,
                clip_denoised=d.clip_denoised,
                seed=cfg.rl.seed, use_gpu=c.sampler_gpus > 0, torch_threads=max(1, int(c.sampler_cpus)),
                device=c.device, precision=c.precision)


def reward_kwargs(cfg: Config) -> dict:
    """RewardWorker's arguments: the run's weights, the data fps, and per-reward settings (the simulator runs with
    ``cluster.reward_threads`` threads; the learned reward's checkpoint as an absolute path, since actors may run
    in another working directory; the imitation policy's file likewise, checked here so a bad path is one error in the
    driver, not one per actor)."""
    c, imitation = cfg.cluster, cfg.rewards.imitation
    # every term's settings besides its weight are that reward's keyword arguments (rewards.antifreeze.root, ...)
    params = {f.name: {k: v for k, v in dataclasses.asdict(getattr(cfg.rewards, f.name)).items() if k != "weight"}
              for f in dataclasses.fields(cfg.rewards)}
    policy = ""
    if imitation.controller == "policy" and imitation.weight > 0:
        from dance_rl.rewards.imitation_policy import policy_file
        policy = str(policy_file(imitation.policy_checkpoint).resolve())
    params["imitation"].update(sim=dataclasses.replace(cfg.sim, num_threads=c.reward_threads), policy_checkpoint=policy)
    learned = params["learned"]["checkpoint"]
    params["learned"]["checkpoint"] = str(Path(learned).expanduser().resolve()) if learned else ""
    return dict(weights=reward_weights(cfg), fps=float(cfg.data.fps), reward_params=params,
                num_threads=c.reward_threads)


def absolute_data_paths(data):
    """DataConfig with its cache directory and corpus path absolute, for processes that run elsewhere (Tune trials
    run in their trial directory; actors may run on other nodes, where the paths must then exist too)."""
    source = data.source
    kind, _, path = source.partition(":")
    if path and "://" not in path:
        source = f"{kind}:{Path(path).expanduser().resolve()}"
    return dataclasses.replace(data, source=source, cache_dir=str(Path(data.cache_dir).expanduser().resolve()))


def learner_kwargs(cfg: Config, base: dict) -> dict:
    """LearnerWorker's arguments. ``base`` = {"spec", "state_dict", ...}, the model to fine-tune."""
    c = cfg.cluster
    ptx = (absolute_data_paths(cfg.data), cfg.pretrain) if cfg.rl.ptx_steps else None
    return dict(spec=base["spec"], state_dict=base["state_dict"], rl=cfg.rl, diffusion=cfg.diffusion,
                reward_weights=reward_weights(cfg), ptx=ptx, normalizer_state=base["normalizer"],
                use_gpu=c.learner_gpus > 0,
                torch_threads=max(1, int(c.learner_cpus)), device=c.device, precision=c.precision)


def check_devices(cfg: Config) -> None:
    c = cfg.cluster
    if c.device.startswith("cuda") and (c.sampler_gpus == 0 or c.learner_gpus == 0):
        raise UserError(f"cluster.device={c.device}: give samplers and learner a GPU share "
                        "(cluster.sampler_gpus, cluster.learner_gpus > 0) or use cluster.device=auto")


def actor_roles(cfg: Config, base: dict, placement) -> tuple:
    """(learner, [samplers], [reward actors]) as Ray actors in ``placement``'s bundles [learner, samplers…,
    reward actors…]; samplers and reward actors restart after a crash (``cluster.max_restarts``)."""
    check_devices(cfg)
    c = cfg.cluster
    lk = learner_kwargs(cfg, base)
    lk["state_dict"] = ray.put(lk["state_dict"])  # a top-level ref: Ray resolves it in the actor
    learner = Learner.options(**placement.options(0)).remote(**lk)
    retry = {"max_restarts": c.max_restarts, "max_task_retries": c.max_restarts}
    sk, rk = sampler_kwargs(cfg, base), reward_kwargs(cfg)
    samplers = [SamplerActor.options(**placement.options(1 + i), **retry).remote(**sk) for i in range(c.num_samplers)]
    off = 1 + c.num_samplers
    rewarders = [RewardActor.options(**placement.options(off + i), **retry).remote(**rk)
                 for i in range(c.num_reward_actors)]
    return learner, samplers, rewarders


def serial_roles(cfg: Config, base: dict) -> tuple[SamplerWorker, RewardWorker, LearnerWorker]:
    """The same three roles as plain objects in this process (torch's thread count is per process: the learner's,
    built last, wins)."""
    check_devices(cfg)
    return (SamplerWorker(**sampler_kwargs(cfg, base)), RewardWorker(**reward_kwargs(cfg)),
            LearnerWorker(**learner_kwargs(cfg, base)))


def serial_loop(cfg: Config, base: dict, conditions, keys) -> SerialLoop:
    """One RLFT iteration per call in this process, with the roles and chunking a Ray run of ``cfg`` uses."""
    sampler, rewarder, learner = serial_roles(cfg, base)
    return SerialLoop(sampler, rewarder, learner, conditions, keys, cfg.rl, chunk_size=cfg.cluster.chunk_size)
