"""The tracking controller: standing still, determinism, threads, termination and divergence as data, not crashes."""
import numpy as np
import pytest

from dance_rl.config import SimConfig, load_config
from dance_rl.data import demo
from dance_rl.sim import humanoid as hum
from dance_rl.sim.tracker import Tracker

FPS = 30.0


@pytest.fixture(scope="module")
def tracker():
    return Tracker(SimConfig())


def _standing(tracker, T=150):
    return np.tile(tracker.model(FPS).qpos0, (1, T, 1))


def test_rates_and_model(tracker):
    assert tracker.rates(30.0) == (2, 4)  # 60 Hz control, 240 Hz physics
    assert tracker.rates(60.0) == (1, 4)
    m = tracker.model(30.0)
    assert m.opt.timestep == pytest.approx(1 / 240)
    assert m.nbody == 25 and m.nu == 69 + 3 + 4  # hinge servos + residual translation + SO3 quaternion target


def test_standing_reference_is_held(tracker):
    ref = _standing(tracker)
    res = tracker.track(ref, FPS)
    assert res.alive.all() and not res.failed.any() and not res.terminated.any()
    assert np.abs(res.qpos[0, :, :3] - ref[0, :, :3]).max() < 0.01
    assert np.abs(res.qpos[0, :, hum.HINGE_QPOS] - ref[0, :, hum.HINGE_QPOS]).max() < 0.02
    # the floor carries the body: the residual force is a small fraction of body weight
    assert res.residual_force[0, 1:].mean() < 0.1 * 70 * 9.81
    assert res.steps[0] == (150 - 1) * 2 * 4


def test_deterministic_and_thread_count_independent(tracker):
    from dance_rl.sim.retarget import motion_to_qpos
    ref = np.stack([motion_to_qpos(*demo.clip_motion(demo.source_clip(n), seconds=2.0)) for n in ("dance_a", "jump")])
    a = tracker.track(ref, FPS)
    b = tracker.track(ref, FPS)
    c = Tracker(SimConfig(num_threads=2)).track(ref, FPS)
    one = tracker.track(ref[1:], FPS)  # a clip's result does not depend on its batch neighbours
    np.testing.assert_array_equal(a.qpos, b.qpos)
    np.testing.assert_array_equal(a.qpos, c.qpos)
    np.testing.assert_array_equal(a.residual_force, c.residual_force)
    np.testing.assert_array_equal(a.qpos[1], one.qpos[0])


def test_head_below_threshold_terminates(tracker):
    ref = _standing(tracker, T=30)
    lying = ref.copy()
    lying[..., 3:7] = [1.0, 0.0, 0.0, 0.0]  # identity root: the body lies along +y (SMPL rest frame)
    lying[..., 2] = 0.12
    res = tracker.track(np.concatenate([ref, lying]), FPS)
    assert not res.terminated[0] and res.alive[0].all()
    assert res.terminated[1] and not res.failed[1]
    assert res.alive[1, 0] and not res.alive[1, 1:].any()
    assert res.steps[1] < res.steps[0]  # a terminated clip stops costing simulation


def test_divergence_and_bad_input_fail_without_raising(tracker):
    ref = _standing(tracker, T=30)
    teleport = ref.copy()
    teleport[0, 1:, 0] += 60.0  # root jumps 60 m after frame 0: 900 m/s reference velocity
    broken = ref.copy()
    broken[0, 10, 8] = np.nan
    res = tracker.track(np.concatenate([ref, teleport, broken]), FPS)
    assert res.failed.tolist() == [False, True, True]
    assert "velocity above" in res.messages[1] and "non-finite" in res.messages[2]
    assert not res.alive[1:].any()


def test_the_tracker_takes_the_config_sim_section():
    """One definition of the tracker's settings: the config tree's SimConfig, defaults included."""
    cfg = load_config(overrides=["sim.physics_hz=480", "sim.termination_head_height=0.25"])
    tracker = Tracker(cfg.sim)
    assert (tracker.config.physics_hz, tracker.config.termination_head_height) == (480, 0.25)
    assert Tracker().config == SimConfig() == load_config().sim
