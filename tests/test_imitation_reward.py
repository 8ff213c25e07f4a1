"""Imitation reward: hand-computed combination, exact error terms, and behaviour on real and corrupted motion."""
import numpy as np
import pytest
import torch

from dance_rl.config import SimConfig
from dance_rl.data import demo
from dance_rl.motion.fk import joints_np
from dance_rl.rewards.imitation import imitation_reward, on_floor, tracking_errors, tracking_reward
from dance_rl.sim.humanoid import humanoid_model
from dance_rl.sim.retarget import motion_to_qpos
from dance_rl.sim.tracker import Tracker

FPS = 30.0


@pytest.fixture(scope="module")
def tracker():
    return Tracker(SimConfig())


def _clips(seconds=5.0):
    """Real mocap: two demo corpus source clips."""
    clips = [demo.clip_motion(demo.source_clip(n), seconds=seconds) for n in ("dance_b", "jump")]
    return np.stack([c[0] for c in clips]), np.stack([c[1] for c in clips])


def test_reward_combination_by_hand():
    zero = {k: np.zeros((1, 1)) for k in ("e_dof", "e_vel", "e_pos", "e_rot")}
    assert tracking_reward(zero)[0, 0] == pytest.approx(1.0)
    half_dof = {**zero, "e_dof": np.full((1, 1), np.log(2) / 60)}  # exp(-60 e) = 1/2
    assert tracking_reward(half_dof)[0, 0] == pytest.approx(0.6 * 0.5 + 0.4)
    far = {k: np.full((1, 1), 1e3) for k in zero}
    assert tracking_reward(far)[0, 0] == pytest.approx(0.0, abs=1e-12)


def test_tracking_errors_exact_values():
    model = humanoid_model()
    T = 3
    ref = np.tile(model.qpos0, (1, T, 1))
    vel = np.zeros((1, T, model.nv))
    e = tracking_errors(ref, vel, ref, vel)
    assert all(np.abs(v).max() < 1e-12 for v in e.values())
    up = ref.copy()
    up[..., 2] += 0.1  # whole body 10 cm higher: every joint off by 0.1 in z
    e = tracking_errors(ref, vel, up, vel)
    np.testing.assert_allclose(e["e_pos"], 0.01 / 3)
    assert np.abs(e["e_dof"]).max() < 1e-12 and np.abs(e["e_rot"]).max() < 1e-12
    turned = ref.copy()
    turned[..., 3:7] = [np.cos(np.pi / 4 + 0.05), np.sin(np.pi / 4 + 0.05), 0, 0]  # root tilted by 0.1 rad
    e = tracking_errors(ref, vel, turned, vel)
    np.testing.assert_allclose(e["e_rot"], 0.1 ** 2, rtol=1e-9)  # every body's world rotation is off by 0.1
    assert np.abs(e["e_dof"]).max() < 1e-12  # local (non-root) rotations unchanged
    fast = vel.copy()
    fast[..., 6:] = 2.0  # every hinge 2 rad/s off
    np.testing.assert_allclose(tracking_errors(ref, vel, ref, fast)["e_vel"], 4.0)


def test_real_clips_score_high_and_corruptions_score_lower(tracker):
    poses, trans = _clips()
    clean = imitation_reward(poses, trans, FPS, sim=tracker)
    d = clean["diagnostics"]
    assert clean["per_frame"].shape == (2, 150) and clean["per_sample"].shape == (2,)
    np.testing.assert_allclose(clean["per_sample"], clean["per_frame"].mean(1))
    assert (d["survival"] == 1).all() and not d["failed"].any()
    assert (clean["per_sample"] > 0.8).all(), clean["per_sample"]
    jitter = poses + np.random.default_rng(0).normal(0.0, 0.1, poses.shape)
    ji = imitation_reward(jitter, trans, FPS, sim=tracker)
    assert (ji["per_sample"] < clean["per_sample"] - 0.2).all(), ji["per_sample"]
    # a whole clip floating or sinking is tracked on the floor (fgd_ground punishes it): the same reward. Tracked
    # where it was drawn, a 10-cm float scored higher than the grounded clip on the demo mocap.
    for dz in (0.1, 0.5, -0.05):
        moved = trans.copy()
        moved[..., 2] += dz
        np.testing.assert_allclose(imitation_reward(poses, moved, FPS, sim=tracker)["per_sample"], clean["per_sample"],
                                   atol=1e-3)   # rounding of the shifted heights, grown by 5 s of simulation
    np.testing.assert_allclose(on_floor(poses, trans + [0, 0, 0.3]), on_floor(poses, trans), atol=1e-9)
    lowest = joints_np(poses, on_floor(poses, trans))[..., 2].min(-1)
    np.testing.assert_allclose(lowest.mean(1), 0.0, atol=1e-9)


def test_termination_zeroes_the_rest_and_failure_zeroes_all(tracker):
    model = humanoid_model()
    T = 30
    poses = np.zeros((3, T, 24, 3))
    poses[..., 0, :] = [np.pi / 2, 0, 0]
    trans = np.tile(model.qpos0[:3], (3, T, 1))
    poses[1, ..., 0, :] = 0.0  # lying flat on the floor: head below 0.3 m
    trans[1, ..., 2] = 0.12
    trans[2, 1:, 0] += 60.0  # teleport after frame 0: the start velocity explodes
    out = imitation_reward(torch.as_tensor(poses), torch.as_tensor(trans), FPS, sim=tracker)  # torch accepted
    d = out["diagnostics"]
    assert out["per_sample"][0] > 0.95 and d["survival"][0] == 1.0
    assert d["terminated"][1] and (out["per_frame"][1, 1:] == 0).all() and d["survival"][1] == pytest.approx(1 / T)
    assert d["failed"][2] and out["per_sample"][2] == 0.0 and d["messages"][2]
    assert d["messages"][0] == ""


def test_single_clip_and_residual_penalty(tracker):
    model = humanoid_model()
    poses = np.zeros((20, 24, 3))
    poses[:, 0] = [np.pi / 2, 0, 0]
    trans = np.tile(model.qpos0[:3], (20, 1))
    trans[::2, 2] += 0.3  # bobbing 30 cm every frame: the residual force saturates chasing it
    plain = imitation_reward(poses, trans, FPS, sim=tracker)
    penalised = imitation_reward(poses, trans, FPS, sim=tracker, residual_weight=0.1)
    assert plain["per_frame"].shape == (1, 20)
    assert penalised["per_sample"][0] < plain["per_sample"][0]


def test_qpos_reference_is_the_motion():
    poses, trans = _clips(seconds=1.0)
    qpos = motion_to_qpos(poses, trans)
    assert qpos.shape == (2, 30, 76) and np.isfinite(qpos).all()
