"""Imitation reward with a learned tracking policy (Skeleton2Stage's controller), trained by ``dance_rl.imitation_policy``.

Selected by ``rewards.imitation.controller=policy`` (the registry's ``imitation`` adapter dispatches). Same outputs as
``dance_rl.rewards.imitation.imitation_reward`` (the PD tracker): the per-frame Skeleton2Stage tracking
reward from the same ``tracking_errors`` / ``tracking_reward``, 0 from termination on and for diverged clips, mean over
frames; the same diagnostics. Only the controller differs: the trained RLModule (rebuilt from ``policy.pt`` with
``torch.load(weights_only=True)``, inference only, deterministic = its action distribution's mean) acts once per frame
for every clip of the batch in one torch forward, in the world of ``dance_rl.sim.tracking_env``. The simulator
settings are the ones the policy was trained with (a policy is only valid in its own physics); ``sim`` only
contributes ``num_threads``.
"""
from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import numpy as np
import torch

from dance_rl.errors import UserError
from dance_rl.rewards.imitation import on_floor, tracking_errors, tracking_reward

POLICY_FILE = "policy.pt"  # inside each RLlib checkpoint folder of `python -m dance_rl.imitation_policy train`
_KEY = "rewards.imitation.policy_checkpoint"
_cache: dict[str, tuple] = {}
_lock = threading.Lock()


def frame_reward(qpos_ref, qvel_ref, qpos_sim, qvel_sim) -> np.ndarray:
    """The imitation reward's per-frame term (B,T) for the tracking environment."""
    return tracking_reward(tracking_errors(qpos_ref, qvel_ref, qpos_sim, qvel_sim))


def policy_file(path: str | Path) -> Path:
    """A ``policy.pt``, an RLlib checkpoint folder holding one, or a run folder (its newest checkpoint's)."""
    if not str(path):
        raise UserError(f"{_KEY}: required with rewards.imitation.controller=policy; train one with "
                        "`python -m dance_rl.imitation_policy train --out DIR` and pass DIR")
    p = Path(path).expanduser()
    if p.is_dir():
        found = [p / POLICY_FILE] if (p / POLICY_FILE).is_file() else sorted(
            p.rglob(f"checkpoint_*/{POLICY_FILE}"), key=lambda f: (f.stat().st_mtime, f.parent.name))
        if not found:
            raise UserError(f"{_KEY}: {p} holds no {POLICY_FILE}; pass the --out folder of "
                            "`python -m dance_rl.imitation_policy train` or one of its checkpoint_* folders")
        p = found[-1]
    if not p.is_file():
        raise UserError(f"{_KEY}: {p} not found; pass the --out folder of `python -m dance_rl.imitation_policy train`")
    return p


def load_policy(path: str | Path):
    """(RLModule, metadata) from ``policy.pt`` (cached per file); inference only, CPU."""
    from dance_rl.diffusion.edge_checkpoint import safe_torch_load

    p = policy_file(path)
    key = f"{p.resolve()}:{p.stat().st_mtime_ns}"
    with _lock:
        if key in _cache:
            return _cache[key]
    blob = safe_torch_load(p)
    if not isinstance(blob, dict) or blob.get("format") != "dance_rl.imitation_policy/1":
        raise UserError(f"{_KEY}: {p} is not a policy.pt of `python -m dance_rl.imitation_policy train`")
    import gymnasium as gym
    from ray.rllib.algorithms.ppo.ppo_catalog import PPOCatalog
    from ray.rllib.algorithms.ppo.torch.default_ppo_torch_rl_module import DefaultPPOTorchRLModule
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

    from dance_rl.sim.tracking_env import NUM_ACTIONS, obs_size

    module = DefaultPPOTorchRLModule(
        observation_space=gym.spaces.Box(-10.0, 10.0, (obs_size(blob["env"]["horizon"]),), np.float32),
        action_space=gym.spaces.Box(-1.0, 1.0, (NUM_ACTIONS,), np.float32), inference_only=True,
        model_config=dataclasses.asdict(DefaultModelConfig(**blob["model"])),  # a dict: the dataclass
        catalog_class=PPOCatalog)  # breaks inference_only construction in this RLlib (.get on the config)
    try:
        module.set_state(blob["state_dict"])
    except (RuntimeError, ValueError) as e:
        raise UserError(f"{_KEY}: {p} does not match the policy network ({str(e).splitlines()[0]})") from None
    module.eval()
    with _lock:
        _cache[key] = (module, blob)
    return module, blob


def act(module, obs: np.ndarray) -> np.ndarray:
    """Deterministic actions (B,75) of the RLModule for observations (B,obs)."""
    with torch.no_grad():
        out = module.forward_inference({"obs": torch.from_numpy(obs)})
        dist = module.get_inference_action_dist_cls().from_logits(out["action_dist_inputs"]).to_deterministic()
        return dist.sample().numpy().astype(np.float64)


def policy_imitation_reward(poses, trans, fps: float = 30.0, sim=None, policy_checkpoint: str = "",
                            residual_weight: float = 0.0, residual_scale: float = 30.0) -> dict:
    """Imitation reward of a batch of motions (B,T,24,3)/(B,T,3) performed by the trained policy; see the module
    docstring and ``imitation_reward`` for the outputs."""
    from dance_rl.config import SimConfig
    from dance_rl.sim.humanoid import GRAVITY, NUM_HINGES
    from dance_rl.sim.retarget import motion_to_qpos
    from dance_rl.sim.tracking_env import BatchedTracking

    module, blob = load_policy(policy_checkpoint)
    poses = np.asarray(poses.detach().cpu() if isinstance(poses, torch.Tensor) else poses, dtype=np.float64)
    trans = np.asarray(trans.detach().cpu() if isinstance(trans, torch.Tensor) else trans, dtype=np.float64)
    if poses.ndim == 3:
        poses, trans = poses[None], trans[None]
    if poses.ndim != 4 or poses.shape[-2:] != (24, 3) or trans.shape != poses.shape[:2] + (3,):
        raise ValueError(f"policy_imitation_reward: poses {poses.shape} / trans {trans.shape} must be (B,T,24,3)/(B,T,3)")
    threads = max(1, int(getattr(sim, "num_threads", 1) or 1))
    config = SimConfig(**{**blob["env"]["sim"], "num_threads": threads})
    env = BatchedTracking(config, lambda *a: np.zeros((len(a[0]), 1)), fps, blob["env"]["horizon"],
                          blob["env"]["action_scale"])  # rewards are computed below, on whole trajectories
    B, T = poses.shape[:2]
    finite = np.isfinite(poses).all((1, 2, 3)) & np.isfinite(trans).all((1, 2))
    qpos_ref = motion_to_qpos(np.nan_to_num(poses), np.nan_to_num(on_floor(poses, trans)))  # float-invariant
    qpos_ref[~finite] = np.asarray(env.model.qpos0)
    ref = env.reference(qpos_ref)
    qpos, qvel = qpos_ref.copy(), ref["qvel"].copy()
    alive = np.zeros((B, T), bool)
    alive[:, 0] = finite
    terminated, failed = np.zeros(B, bool), ~finite
    force, torque = np.zeros((B, T)), np.zeros((B, T))
    limits = np.array([config.residual_force_limit, config.residual_torque_limit / np.sqrt(3.0)])
    obs = env.reset(ref)
    env.active &= finite
    for k in range(1, T):
        ids = np.flatnonzero(env.active)
        if ids.size == 0:
            break
        a = np.zeros((B, NUM_HINGES + 6))
        a[ids] = np.clip(act(module, obs[ids]), -1.0, 1.0)
        obs, _, fell, bad = env.step(a)
        force[ids, k] = np.linalg.norm(a[ids, NUM_HINGES:NUM_HINGES + 3], axis=-1) * limits[0]
        torque[ids, k] = np.linalg.norm(a[ids, NUM_HINGES + 3:], axis=-1) * limits[1]
        terminated |= fell
        failed |= bad
        live = np.flatnonzero(env.active)
        qpos[live, k], qvel[live, k], alive[live, k] = env.qpos[live], env.qvel[live], True
    alive &= ~failed[:, None]
    errors = tracking_errors(qpos_ref, ref["qvel"], qpos, qvel)
    per_frame = tracking_reward(errors)
    if residual_weight > 0:
        weight = env.model.body_mass.sum() * GRAVITY
        per_frame = (1.0 - residual_weight) * per_frame + residual_weight * np.exp(-residual_scale * (force / weight) ** 2)
    per_frame = np.where(alive, per_frame, 0.0)
    n_alive = np.maximum(alive.sum(1), 1)
    mean_alive = lambda x: np.where(alive, x, 0.0).sum(1) / n_alive
    messages = ["reference motion has non-finite values" if not f else ("diverged" if b else "")
                for f, b in zip(finite, failed)]
    diagnostics = {"survival": alive.mean(1), "terminated": terminated & ~failed, "failed": failed,
                   "residual_force": mean_alive(force), "residual_torque": mean_alive(torque),
                   **{k: mean_alive(v) for k, v in errors.items()}, "messages": messages}
    return {"per_sample": per_frame.mean(1), "per_frame": per_frame, "diagnostics": diagnostics}
