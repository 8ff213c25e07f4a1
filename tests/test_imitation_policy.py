"""The RLlib imitation policy: its Gymnasium environment, PPO training and the policy-based imitation reward."""
from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from dance_rl.data import demo
from dance_rl.rewards.imitation_policy import frame_reward
from dance_rl.sim.retarget import motion_to_qpos
from dance_rl.sim.tracking_env import NUM_ACTIONS, DanceTrackingEnv, obs_size


@pytest.fixture(scope="module")
def clips():
    out = []
    for name in ("dance_a", "walk"):
        poses, trans = demo.clip_motion(demo.source_clip(name), seconds=3.0)
        out.append(motion_to_qpos(poses, trans))
    return out


def test_env_passes_gymnasium_checker(clips):
    env = DanceTrackingEnv({"clips": clips, "episode_frames": 20, "horizon": 2}, frame_reward)
    check_env(env, skip_render_check=True)
    assert env.observation_space.shape == (obs_size(2),) and env.action_space.shape == (NUM_ACTIONS,)


def test_env_rewards_tracking_and_terminates(clips):
    """Action 0 = PD tracking with no root help: it follows the first frames closely, then the body falls (head
    below the termination height) well before the 60-frame window ends."""
    env = DanceTrackingEnv({"clips": clips[:1], "episode_frames": 60}, frame_reward)
    env.reset(seed=0, options={"clip": 0, "start": 0})
    rewards, terminated, truncated = [], False, False
    while not (terminated or truncated):
        _, r, terminated, truncated, info = env.step(np.zeros(NUM_ACTIONS, np.float32))
        rewards.append(r)
    assert rewards[0] > 0.8 and np.all(np.isfinite(rewards))
    assert terminated and not info["failed"] and len(rewards) < 60
