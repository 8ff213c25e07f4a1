"""Imitation reward: how well a physically simulated body can perform the motion (Skeleton2Stage; docs/rewards.md).

Per frame, comparing the simulation (``dance_rl.sim.tracker``) with the reference, as Skeleton2Stage codes it:

    r_t = 0.6·exp(−60·e_dof) + 0.1·exp(−0.2·e_vel) + 0.2·exp(−100·e_pos) + 0.1·exp(−40·e_rot)

- e_dof: mean squared difference of the tangent/normal encoding (first and third column) of the local rotations of
  the 23 non-root joints;
- e_vel: mean squared difference of the 69 hinge velocities (rad/s);
- e_pos: mean over the 24 joints and xyz of the squared world-position difference (m²);
- e_rot: mean over the 24 joints of the squared angle between world rotations (rad²).

The simulated body tracks the motion shifted so that its lowest joint's clip-mean height is 0 (``on_floor``), so the
reward does not change when the whole clip floats or sinks: that is ``fgd_ground``'s to punish. Why: the fixed
controller leans on the root residual force (~330 N of its 350 N limit on the clean demo mocap) and tracks worse
where the feet meet the floor, so a raised reference scored *higher* (demo mocap: 0.797 grounded, 0.833 raised 10
cm; world-rotation error −60%), and an RL run on real music floated its dancers 7 → 24 cm above the floor.

r_t = 0 from the frame the head falls below the termination height on, and for the whole clip when the simulation
diverged; the reward is the mean over frames (survival and tracking in one scalar). The residual root force is not
part of the coded reward; ``residual_weight`` > 0 blends in Skeleton2Stage's policy-training penalty
w_r·exp(−α_r·(|F|/(m·g))²) with weights (1 − w_r) for the tracking terms.
"""
from __future__ import annotations

import threading

import numpy as np
import torch

from dance_rl.config import SimConfig
from dance_rl.motion.fk import kinematics
from dance_rl.sim.humanoid import GRAVITY, HINGE_DOF
from dance_rl.sim.retarget import local_rotations, motion_to_qpos
from dance_rl.sim.tracker import Tracker

WEIGHTS = (0.6, 0.1, 0.2, 0.1)  # dof, vel, pos, rot
SCALES = (60.0, 0.2, 100.0, 40.0)

_default: dict[tuple, Tracker] = {}
_lock = threading.Lock()


def default_tracker(config: SimConfig | None = None) -> Tracker:
    """A Tracker per configuration, shared by callers in this process (its models are built once)."""
    config = config or SimConfig()
    key = tuple(sorted(vars(config).items()))
    with _lock:
        if key not in _default:
            _default[key] = Tracker(config)
        return _default[key]


def _np(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def tracking_errors(qpos_ref: np.ndarray, qvel_ref: np.ndarray, qpos_sim: np.ndarray,
                    qvel_sim: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame errors (B,T) between reference and simulated states (B,T,nq)/(B,T,nv): e_dof, e_vel, e_pos, e_rot."""
    rot_ref, rot_sim = local_rotations(qpos_ref), local_rotations(qpos_sim)
    tn = lambda r: np.concatenate([r[..., 1:, :, 0], r[..., 1:, :, 2]], -1)  # (B,T,23,6) tangent / normal
    e_dof = ((tn(rot_ref) - tn(rot_sim)) ** 2).mean((-1, -2))
    e_vel = ((qvel_ref[..., HINGE_DOF] - qvel_sim[..., HINGE_DOF]) ** 2).mean(-1)
    pos_ref, glob_ref = kinematics(rot_ref, qpos_ref[..., 0:3])
    pos_sim, glob_sim = kinematics(rot_sim, qpos_sim[..., 0:3])
    e_pos = ((pos_ref - pos_sim) ** 2).mean((-1, -2))
    trace = np.einsum("...ij,...ij->...", glob_ref, glob_sim)  # trace(R_ref · R_simᵀ)
    e_rot = (np.arccos(np.clip((trace - 1.0) / 2.0, -1.0, 1.0)) ** 2).mean(-1)
    return {"e_dof": e_dof, "e_vel": e_vel, "e_pos": e_pos, "e_rot": e_rot}


def tracking_reward(errors: dict[str, np.ndarray]) -> np.ndarray:
    """Skeleton2Stage's per-frame combination of the four errors."""
    keys = ("e_dof", "e_vel", "e_pos", "e_rot")
    return sum(w * np.exp(-s * errors[k]) for w, s, k in zip(WEIGHTS, SCALES, keys))


def on_floor(poses: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """``trans`` (B,T,3) shifted vertically per clip so that the mean over frames of the lowest joint's height is 0
    (NaN clips pass through unchanged)."""
    from dance_rl.motion.fk import joints_np

    lowest = joints_np(np.nan_to_num(poses), np.nan_to_num(trans))[..., 2].min(axis=-1)  # (B,T)
    out = np.array(trans, dtype=np.float64, copy=True)
    out[..., 2] -= lowest.mean(axis=1, keepdims=True)
    return out


def imitation_reward(poses, trans, fps: float = 30.0, sim=None, residual_weight: float = 0.0,
                     residual_scale: float = 30.0) -> dict:
    """Imitation reward of a batch of motions.

    poses (B,T,24,3) axis-angle, trans (B,T,3) z-up metres (numpy or torch; a single clip without B is accepted).
    ``sim``: a ``Tracker``, its settings (``dance_rl.config.SimConfig``), or None for the defaults.
    Returns ``{"per_sample": (B,), "per_frame": (B,T), "diagnostics": {...}}``; diagnostics: ``survival`` (B,)
    fraction of frames before termination, ``terminated`` (B,), ``failed`` (B,) bool (diverged → reward 0),
    ``residual_force`` (B,) mean |root residual force| over the surviving frames (N), ``residual_torque`` (B,),
    ``e_dof``/``e_vel``/``e_pos``/``e_rot`` (B,) mean errors over surviving frames, ``messages`` (list of str).
    """
    poses, trans = _np(poses), _np(trans)
    if poses.ndim == 3:  # one clip
        poses, trans = poses[None], trans[None]
    if poses.ndim != 4 or poses.shape[-2:] != (24, 3) or trans.shape != poses.shape[:2] + (3,):
        raise ValueError(f"imitation_reward: poses {poses.shape} / trans {trans.shape} must be (B,T,24,3) / (B,T,3)")
    tracker = _tracker(sim)
    qpos_ref = motion_to_qpos(np.nan_to_num(poses), np.nan_to_num(on_floor(poses, trans)))
    bad = ~(np.isfinite(poses).all((1, 2, 3)) & np.isfinite(trans).all((1, 2)))
    qpos_ref[bad] = np.nan  # the tracker marks these failed
    res = tracker.track(qpos_ref, fps)
    ref_ok = np.where(bad[:, None, None], res.qpos, qpos_ref)
    errors = tracking_errors(ref_ok, res.qvel_ref, res.qpos, res.qvel)
    per_frame = tracking_reward(errors)
    if residual_weight > 0:
        weight = tracker.model(fps).body_mass.sum() * GRAVITY
        pen = np.exp(-residual_scale * (res.residual_force / weight) ** 2)
        per_frame = (1.0 - residual_weight) * per_frame + residual_weight * pen
    alive = res.alive & ~res.failed[:, None]
    per_frame = np.where(alive, per_frame, 0.0)
    n_alive = np.maximum(alive.sum(1), 1)
    mean_alive = lambda x: np.where(alive, x, 0.0).sum(1) / n_alive
    diagnostics = {
        "survival": res.alive.mean(1) * ~res.failed, "terminated": res.terminated, "failed": res.failed,
        "residual_force": mean_alive(res.residual_force), "residual_torque": mean_alive(res.residual_torque),
        **{k: mean_alive(v) for k, v in errors.items()}, "messages": list(res.messages),
    }
    return {"per_sample": per_frame.mean(1), "per_frame": per_frame, "diagnostics": diagnostics}


def _tracker(sim) -> Tracker:
    return sim if isinstance(sim, Tracker) else default_tracker(sim)
