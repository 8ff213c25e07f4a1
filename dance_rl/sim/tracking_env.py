"""Tracking with a learned policy: the Gymnasium environment RLlib trains on, and the batched rollout that scores clips.

Skeleton2Stage's imitation reward runs a *trained* policy (PD targets + a bounded residual force on the pelvis) and
scores how well it follows the reference. This module is that policy's world, shared by training and scoring so the
two can never disagree:

- ``BatchedTracking``: B humanoids, each following its own reference, stepped together in a ``mujoco.batch.Batch``.
  Once per reference frame the policy acts; inside the frame the hinge setpoints are the fixed tracker's
  (``Tracker.setpoints``: reference angles + inverse-dynamics feed-forward + velocity lead, interpolated at
  ``control_hz``) plus the policy's residual ``action_scale · a`` (rad), and the root gets a force/torque
  ``a · limit`` along the axes of the root's heading frame (as the observation, so balancing is a linear map of it),
  clipped at ``residual_force_limit`` per world axis and ``residual_torque_limit / √3`` per axis (norm within the
  limit). Action 0 = the PD tracker without its root servos.
- observation (root-relative, in the root's heading frame): root height, root tilt (6-D), root linear / angular
  velocity, 69 hinge angles and velocities, then for each of the next ``horizon`` reference frames the reference
  root position and orientation relative to the simulated root and the 69 hinge-angle differences;
- reward: the imitation reward's per-frame ``tracking_reward(tracking_errors(...))``; termination: head below
  ``termination_head_height``, or a diverged simulation (non-finite, too fast, MuJoCo warning), as the tracker.
- ``DanceTrackingEnv``: one humanoid; each episode starts at a random frame of a random clip of a corpus and lasts
  ``episode_frames`` frames at most.
"""
from __future__ import annotations

import gymnasium as gym
import mujoco
import numpy as np
from mujoco import batch as mj_batch

from dance_rl.config import SimConfig
from dance_rl.sim import humanoid as hum
from dance_rl.sim.retarget import motion_to_qpos
from dance_rl.sim.tracker import Tracker

NUM_ACTIONS = hum.NUM_HINGES + 6
_CUR = 1 + 6 + 3 + 3 + 2 * hum.NUM_HINGES  # current-state part of the observation
_PER_REF = 3 + 6 + hum.NUM_HINGES  # per reference frame


def obs_size(horizon: int) -> int:
    return _CUR + horizon * _PER_REF


def policy_model(config: SimConfig, timestep: float) -> mujoco.MjModel:
    """The humanoid (PD servo per hinge) plus six direct root actuators: force along world x/y/z, torque about them,
    ``ctrl`` in [-1, 1] times the sim config's limits."""
    spec = hum.build_spec(kp_scale=config.kp_scale, timestep=timestep)
    spec.option.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_AUTORESET)
    spec.worldbody.add_site(name="origin")
    spec.body(hum.JOINT_NAMES[0]).add_site(name="root_site")
    limits = [config.residual_force_limit] * 3 + [config.residual_torque_limit / np.sqrt(3.0)] * 3
    for k in range(6):
        a = spec.add_actuator(name=f"residual_{k}", trntype=mujoco.mjtTrn.mjTRN_SITE, target="root_site",
                              refsite="origin")
        a.gear = list(np.eye(6)[k] * limits[k])
        a.ctrllimited, a.ctrlrange = mujoco.mjtLimited.mjLIMITED_TRUE, [-1.0, 1.0]
    model = spec.compile()
    hum.check_layout(model)
    return model


def _quat_matrix(q: np.ndarray) -> np.ndarray:
    """(B,4) MuJoCo (w,x,y,z) quaternions → (B,3,3) rotation matrices."""
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
                     np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
                     np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1)], -2)


def _heading(root: np.ndarray) -> np.ndarray:
    """(B,3,3) root rotations → (B,3,3) rotations about world z that carry the body's forward (+z) direction."""
    yaw = np.arctan2(root[..., 1, 2], root[..., 0, 2])
    c, s, z, o = np.cos(yaw), np.sin(yaw), np.zeros_like(yaw), np.ones_like(yaw)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def _six(r: np.ndarray) -> np.ndarray:
    return np.concatenate([r[..., :, 0], r[..., :, 2]], -1)


class BatchedTracking:
    """B references (B,T,nq) followed by a policy, one action per frame; see the module docstring."""

    def __init__(self, config: SimConfig, frame_reward, fps: float = 30.0, horizon: int = 2,
                 action_scale: float = 0.2):
        """``frame_reward(qpos_ref, qvel_ref, qpos_sim, qvel_sim)`` (each (B,1,·)) → (B,1): the imitation reward's
        per-frame term, passed in by the caller (rewards/ sits above sim/)."""
        self.config, self.fps, self.horizon, self.action_scale = config, fps, horizon, action_scale
        self.frame_reward = frame_reward
        self.tracker = Tracker(config)
        self.cpf, self.nsub = self.tracker.rates(fps)
        self.model = policy_model(config, 1.0 / (fps * self.cpf * self.nsub))
        self.head = hum.BODY_IDS[15]

    def reference(self, qpos_ref: np.ndarray) -> dict:
        """Per-reference precomputation (inverse dynamics): hinge setpoints at every control instant, qvel_ref."""
        ctrl, qvel_ref = self.tracker.setpoints(qpos_ref, self.fps)
        return {"qpos": qpos_ref, "qvel": qvel_ref, "ctrl": ctrl[..., :hum.NUM_HINGES]}

    def reset(self, ref: dict, start: np.ndarray | None = None) -> np.ndarray:
        """Start clip b at frame ``start[b]`` (default 0) of its reference, in the reference state; → observation."""
        self.ref = ref
        B = ref["qpos"].shape[0]
        self.k = np.zeros(B, dtype=int) if start is None else np.asarray(start, dtype=int).copy()
        self.batch = mj_batch.Batch(self.model, nsim=B, nthread=max(1, self.config.num_threads))
        self.batch.reset(stage=mujoco.mjtStage.mjSTAGE_NONE)
        self.qpos, self.qvel = self.batch.bind("qpos"), self.batch.bind("qvel")
        self.ctrl, self.xpos = self.batch.bind("ctrl"), self.batch.bind("xpos")
        rows = np.arange(B)
        self.qpos[:], self.qvel[:] = ref["qpos"][rows, self.k], ref["qvel"][rows, self.k]
        self.active = np.ones(B, dtype=bool)
        return self.observe()

    def observe(self) -> np.ndarray:
        """(B, obs_size) float32 observation of every clip (finished clips: their last state)."""
        ref_q = self.ref["qpos"]
        T = ref_q.shape[1]
        q, v = np.array(self.qpos), np.array(self.qvel)
        if not (np.isfinite(q).all() and np.isfinite(v).all()):  # a diverged clip: its row is not used any more
            q, v = np.nan_to_num(q), np.nan_to_num(v)
        root = _quat_matrix(q[:, 3:7])
        head = _heading(root)
        hT = np.swapaxes(head, -1, -2)
        parts = [q[:, 2:3], _six(hT @ root), np.einsum("bij,bj->bi", hT, v[:, 0:3]) / 3.0, v[:, 3:6] / 5.0,
                 q[:, hum.HINGE_QPOS], np.clip(v[:, hum.HINGE_DOF] / 10.0, -5, 5)]
        for h in range(1, self.horizon + 1):
            idx = np.minimum(self.k + h, T - 1)
            r = ref_q[np.arange(len(q)), idx]
            parts += [np.einsum("bij,bj->bi", hT, r[:, 0:3] - q[:, 0:3]), _six(hT @ _quat_matrix(r[:, 3:7])),
                      r[:, hum.HINGE_QPOS] - q[:, hum.HINGE_QPOS]]
        return np.clip(np.concatenate(parts, -1), -10, 10).astype(np.float32)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Advance the active clips one reference frame under ``action`` (B, 75) in [-1, 1].

        → (observation, reward (B,) at the new frame, fell (B,), failed (B,)); inactive clips get reward 0."""
        B = len(self.k)
        a = np.clip(np.nan_to_num(np.asarray(action, dtype=np.float64)), -1.0, 1.0)
        ids = np.flatnonzero(self.active)
        fell, failed = np.zeros(B, bool), np.zeros(B, bool)
        head = _heading(_quat_matrix(np.array(self.qpos[ids, 3:7])))  # root wrench: heading-frame axes, like obs
        wrench = a[ids, hum.NUM_HINGES:].reshape(-1, 2, 3)
        wrench = np.clip(np.einsum("bij,bkj->bki", head, wrench).reshape(-1, 6), -1.0, 1.0)
        for ci in range(self.cpf):
            if ids.size == 0:
                break
            c = self.ref["ctrl"][ids, self.k[ids] * self.cpf + ci + 1]
            self.ctrl[ids, :hum.NUM_HINGES] = c + self.action_scale * a[ids, :hum.NUM_HINGES]
            self.ctrl[ids, hum.NUM_HINGES:] = wrench
            try:
                self.batch.step(ids=ids, nstep=self.nsub)
            except mj_batch.SimulationError as e:
                failed[np.asarray(e.ids, dtype=int)] = True
        self.k[ids] += 1
        q, v = self.qpos[ids], self.qvel[ids]
        bad = ~(np.isfinite(q).all(-1) & np.isfinite(v).all(-1)) | ~(np.abs(v).max(-1) <= self.config.max_qvel)
        bad |= self.batch.warning[ids, :, 0].any(-1)
        failed[ids[bad]] = True
        fell[ids] = self.xpos[ids, self.head, 2] < self.config.termination_head_height
        fell &= ~failed
        reward = np.zeros(B)
        ok = ids[~(fell[ids] | failed[ids])]
        if ok.size:
            kk = self.k[ok][:, None]
            rq, rv = self.ref["qpos"][ok[:, None], kk], self.ref["qvel"][ok[:, None], kk]
            reward[ok] = self.frame_reward(rq, rv, np.array(self.qpos[ok])[:, None], np.array(self.qvel[ok])[:, None])[:, 0]
        self.active &= ~(fell | failed)
        return self.observe(), reward, fell, failed


def load_corpus(source: str = "demo", cache_dir: str = ".cache/dance_rl", split: str = "train",
                max_clips: int = 0) -> list[np.ndarray]:
    """Reference qpos (T,nq) at 30 fps of every clip of ``split`` of a ``data.source``."""
    from dance_rl.data.clips import FPS, list_clips
    from dance_rl.data.dataset import resolve_source
    from dance_rl.motion.clip import resample
    from dance_rl.motion.io import load_motion

    data_dir, _ = resolve_source(source, split, cache_dir, max_clips)
    out = []
    for ref in list_clips(data_dir, split, max_clips if source != "demo" else 0)[:max_clips or None]:
        m = load_motion(ref.path)
        m = resample(m, FPS) if abs(m.fps - FPS) > 1e-6 else m
        out.append(motion_to_qpos(m.poses, m.trans))
    return out


class DanceTrackingEnv(gym.Env):
    """One humanoid imitating a random window of a random corpus clip. ``env_config`` keys: ``source``,
    ``cache_dir``, ``split``, ``max_clips``, ``episode_frames``, ``horizon``, ``action_scale``, ``sim`` (dict of
    ``SimConfig`` fields), ``clips`` (list of (T,nq) qpos arrays: use these instead of a corpus).
    ``frame_reward``: see ``BatchedTracking`` (``dance_rl.rewards.imitation_policy.frame_reward``)."""

    metadata = {"render_modes": []}

    def __init__(self, env_config: dict | None = None, frame_reward=None):
        c = dict(env_config or {})
        if frame_reward is None:
            raise ValueError("DanceTrackingEnv needs frame_reward (dance_rl.rewards.imitation_policy.frame_reward)")
        sim = SimConfig(**{**(c.get("sim") or {}), "num_threads": 1})
        self.episode_frames = int(c.get("episode_frames", 150))
        self.sim = BatchedTracking(sim, frame_reward, 30.0, int(c.get("horizon", 2)), float(c.get("action_scale", 0.2)))
        clips = c.get("clips") or load_corpus(c.get("source", "demo"), c.get("cache_dir", ".cache/dance_rl"),
                                              c.get("split", "train"), int(c.get("max_clips", 0)))
        clips = [np.asarray(x, dtype=np.float64) for x in clips if len(x) >= self.sim.horizon + 2]
        if not clips:
            raise ValueError("DanceTrackingEnv: no clip is long enough")
        self.refs = [self.sim.reference(x[None]) for x in clips]  # inverse dynamics once per clip
        n = obs_size(self.sim.horizon)
        self.observation_space = gym.spaces.Box(-10.0, 10.0, (n,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (NUM_ACTIONS,), np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        """Random clip and start frame; ``options`` may fix them ({"clip": i, "start": frame})."""
        options = options or {}
        ref = self.refs[int(options.get("clip", self.np_random.integers(len(self.refs))))]
        T = ref["qpos"].shape[1]
        start = int(options.get("start", self.np_random.integers(0, T - 1)))
        self.end = min(T - 1, start + self.episode_frames)
        obs = self.sim.reset(ref, np.array([start]))[0]
        return obs, {"frame": start}

    def step(self, action):
        obs, reward, fell, failed = self.sim.step(np.asarray(action)[None])
        terminated = bool(fell[0] or failed[0])
        truncated = not terminated and int(self.sim.k[0]) >= self.end
        return obs[0], float(reward[0]), terminated, truncated, {"failed": bool(failed[0])}
