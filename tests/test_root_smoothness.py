"""Root-smoothness reward (rewards/root_smoothness.py): a steady root scores 1, a jerking one less."""
import numpy as np
import pytest

from dance_rl.rewards.batch import MotionBatch
from dance_rl.rewards.registry import get_reward
from dance_rl.rewards.root_smoothness import root_acceleration, root_smoothness


def batch(trans):
    trans = np.asarray(trans, dtype=np.float32)
    return MotionBatch(poses=np.zeros(trans.shape[:2] + (24, 3), np.float32), trans=trans, fps=30.0)


def line(t=60, speed=1.0):
    x = np.arange(t) * speed / 30.0
    return np.stack([x, np.zeros(t), np.full(t, 0.9)], axis=-1)


def test_constant_velocity_scores_one():
    r = root_smoothness(batch(line()[None]))
    assert r["per_sample"][0] == pytest.approx(1.0, abs=1e-4)  # float32 positions: ~1e-4 m/s² of rounding
    assert r["per_frame"].shape == (1, 60)


def test_jitter_lowers_it_in_order_and_matches_the_formula():
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(60, 3))
    samples = np.stack([line() + a * noise for a in (0.0, 0.002, 0.01, 0.05)])
    r = root_smoothness(batch(samples))["per_sample"]
    assert np.all(np.diff(r) < 0), r
    acc = root_acceleration(samples[1:2], 30.0)[0]  # by hand for one sample
    expected = np.mean(np.r_[1 / (1 + acc[0] / 10), 1 / (1 + acc / 10), 1 / (1 + acc[-1] / 10)])
    assert r[1] == pytest.approx(expected, rel=1e-5)


def test_acceleration_in_metres_per_second_squared():
    t = np.arange(30) / 30.0
    fall = np.stack([np.zeros(30), np.zeros(30), -0.5 * 9.81 * t ** 2], axis=-1)[None]  # free fall
    np.testing.assert_allclose(root_acceleration(fall, 30.0), 9.81, rtol=1e-5)


def test_config_weight_reaches_the_composite_score():
    from dance_rl.config import load_config
    from dance_rl.rewards.composite import weights_from_config

    cfg = load_config(None, ["rewards.root_smoothness.weight=0.3"])
    assert weights_from_config(cfg.rewards)["root_smoothness"] == 0.3
    assert weights_from_config(load_config(None, []).rewards)["root_smoothness"] == 0.0  # off by default


def test_short_clip_is_neutral():
    r = root_smoothness(batch(line(t=2)[None]))
    assert r["per_sample"][0] == 1.0 and r["per_frame"].shape == (1, 2)


def test_registry_resolves_it():
    assert get_reward("root_smoothness") is root_smoothness
