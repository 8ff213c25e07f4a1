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


def test_bad_policy_checkpoint_is_one_user_error(tmp_path, clips):
    from dance_rl.errors import UserError
    from dance_rl.rewards.batch import MotionBatch
    from dance_rl.rewards.composite import score

    poses, trans = demo.clip_motion(demo.source_clip("walk"), seconds=1.0)
    batch = MotionBatch(poses[None], trans[None], fps=30.0)
    for bad in ("", tmp_path / "missing", tmp_path):
        with pytest.raises(UserError, match="rewards.imitation.policy_checkpoint"):
            score(batch, {"imitation": 1.0}, {"imitation": {"controller": "policy", "policy_checkpoint": str(bad)}})
    with pytest.raises(UserError, match="rewards.imitation.controller"):
        score(batch, {"imitation": 1.0}, {"imitation": {"controller": "mlp"}})


@pytest.mark.slow
def test_ppo_trains_and_its_checkpoint_scores_clips(tmp_path):
    """2 PPO iterations (RLlib new API stack, one env-runner actor) → RLlib checkpoint with policy.pt → the
    imitation reward with controller=policy scores a batch, with the PD reward's output shapes."""
    from dance_rl.config import load_config
    from dance_rl.imitation_policy import train
    from dance_rl.rewards.batch import MotionBatch
    from dance_rl.rewards.composite import score
    from dance_rl.rewards.imitation import imitation_reward
    from dance_rl.rewards.imitation_policy import policy_imitation_reward

    cfg = load_config(None, ["imitation_policy.iterations=2", "imitation_policy.train_batch_size=128",
                             "imitation_policy.minibatch_size=64", "imitation_policy.num_epochs=1",
                             "imitation_policy.hiddens=[32]", "imitation_policy.checkpoint_every=1",
                             "imitation_policy.episode_frames=30"])
    ckpt = train(cfg, tmp_path / "run")
    assert (ckpt / "policy.pt").is_file() and (ckpt / "learner_group").is_dir()
    curve = (tmp_path / "run" / "curve.csv").read_text().splitlines()
    assert len(curve) == 3 and list((tmp_path / "run" / "ppo").rglob("events.out.tfevents*"))
    poses, trans = zip(*(demo.clip_motion(demo.source_clip(n), seconds=2.0) for n in ("dance_a", "walk")))
    poses, trans = np.stack(poses), np.stack(trans)
    pd = imitation_reward(poses, trans, 30.0)
    params = {"imitation": {"controller": "policy", "policy_checkpoint": str(tmp_path / "run")}}  # as reward actors
    pol = score(MotionBatch(poses, trans, fps=30.0), {"imitation": 1.0}, params)["components"]["imitation"]
    assert pol["per_frame"].shape == pd["per_frame"].shape == (2, 60)
    assert set(pd["diagnostics"]) <= set(pol["diagnostics"])
    assert np.isfinite(pol["per_sample"]).all() and (pol["per_sample"] > 0).all() and (pol["per_sample"] <= 1).all()
    np.testing.assert_allclose(pol["per_frame"].mean(1), pol["per_sample"])
    poses[1, 5] = np.nan  # called directly, a broken clip fails alone
    broken = policy_imitation_reward(poses, trans, 30.0, policy_checkpoint=str(tmp_path / "run"))
    assert broken["diagnostics"]["failed"].tolist() == [False, True] and broken["per_sample"][1] == 0
    np.testing.assert_allclose(broken["per_sample"][0], pol["per_sample"][0])
