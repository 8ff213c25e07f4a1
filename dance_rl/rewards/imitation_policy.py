"""Imitation reward with a learned tracking policy (Skeleton2Stage's controller), trained by ``dance_rl.imitation_policy``.

Same outputs as ``dance_rl.rewards.imitation.imitation_reward`` (the PD tracker): per-frame Skeleton2Stage tracking
reward, 0 from termination on and for diverged clips, mean over frames; diagnostics ``survival``, ``terminated``,
``failed``, ``messages``. Only the controller differs: a trained RLModule acts once per frame on every clip of the
batch at once (one torch forward for all clips, deterministic = the action distribution's mean), in the world of
``dance_rl.sim.tracking_env``.
"""
from __future__ import annotations

import numpy as np

from dance_rl.rewards.imitation import tracking_errors, tracking_reward


def frame_reward(qpos_ref, qvel_ref, qpos_sim, qvel_sim) -> np.ndarray:
    """The imitation reward's per-frame term (B,T) for the tracking environment."""
    return tracking_reward(tracking_errors(qpos_ref, qvel_ref, qpos_sim, qvel_sim))

POLICY_FILE = "policy.pt"  # inside each RLlib checkpoint folder of `python -m dance_rl.imitation_policy train`
