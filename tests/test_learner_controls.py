"""Learner controls: rl.motion_floor, the PI-controlled multiplier that raises the anti-freezing weight while the policy's
motion is below the base model's (rl/motion_floor.py), its place in the combined advantage and its checkpointing; and
rl.placebo, the update without information."""
import numpy as np
import pytest
import torch

from dance_rl.cluster.common import state_to_numpy
from dance_rl.cluster.learner import LearnerWorker
from dance_rl.config import DiffusionConfig, RLConfig, load_config
from dance_rl.diffusion.model import DanceDecoder, ModelSpec
from dance_rl.errors import UserError
from dance_rl.rl.advantages import AdvantageComputer
from dance_rl.rl.motion_floor import MotionFloor
from dance_rl.rl.rollout import Rollout


def test_multiplier_is_zero_above_the_floor_grows_below_it_and_decays_after_recovery():
    f = MotionFloor(floor=0.9, gain=10.0)
    assert f.update(np.array([1.0, 1.2])) == 0.0 and f.reference == pytest.approx(1.1)  # the base's batch
    assert f.update(np.full(4, 1.05)) == 0.0  # above the floor: no extra weight, no integral
    lam1 = f.update(np.full(4, 0.88))  # ratio 0.8: error 0.1, integral 0.1
    assert f.ratio == pytest.approx(0.8) and lam1 == pytest.approx(10 * (0.1 + 0.1))
    lam2 = f.update(np.full(4, 0.88))  # still short: the integral keeps growing
    assert lam2 == pytest.approx(10 * (0.1 + 0.2))
    lam3 = f.update(np.full(4, 1.1))  # recovered (ratio 1.0): error -0.1, integral 0.1 → 0 after the P term
    assert lam3 == pytest.approx(0.0) and f.integral == pytest.approx(0.1)
    g = MotionFloor(0.9, 10.0)
    g.load_state_dict(f.state_dict())
    assert g.update(np.full(4, 0.88)) == f.update(np.full(4, 0.88))
    with pytest.raises(ValueError):
        MotionFloor(0.0, 1.0)


def test_extra_weight_tilts_the_combined_advantage_toward_anti_freezing():
    keys = ["a"] * 4
    motion = np.array([1.0, 2.0, 3.0, 4.0])
    comps = {"antifreeze": {"per_sample": motion, "per_frame": None},
             "skating": {"per_sample": -motion, "per_frame": None}}  # the stiller sample skates less
    adv = AdvantageComputer({"antifreeze": 0.4, "skating": 1.0}, num_frames=3, buffer_size=8, min_count=8)
    plain, _ = adv(keys, comps)
    tilted, _ = adv(keys, comps, {"antifreeze": 2.0})
    assert np.all(np.diff(plain[:, 0]) < 0)  # the rewards favour stillness
    assert np.all(np.diff(tilted[:, 0]) > 0)  # with the multiplier, motion wins
    with pytest.raises(KeyError, match="fgd"):
        adv(keys, comps, {"fgd": 1.0})


def _rollout(n, spec):
    g = torch.Generator().manual_seed(0)
    return Rollout(keys=["w0"] * (n // 2) + ["w1"] * (n - n // 2),
                   cond=torch.randn(n, spec.seq_len, spec.cond_dim, generator=g),
                   latents=torch.randn(n, 3, spec.seq_len, spec.nfeats, generator=g),
                   timesteps=torch.tensor([600, 200]), next_timesteps=torch.tensor([200, -1]),
                   log_probs=torch.zeros(n, 2, spec.seq_len), guidance_weights=torch.tensor([1.0, 1.0]), version=0)


def _scores(n, lowpass, seq_len, motion=None):
    motion = np.linspace(1.0, 2.0, n) if motion is None else motion
    comps = {"antifreeze": {"per_sample": motion, "per_frame": None, "diagnostics": {}},
             "skating": {"per_sample": -motion, "per_frame": None, "diagnostics": {}}}
    return [{"keys": ["w0"] * (n // 2) + ["w1"] * (n - n // 2), "components": comps,
             "motion_magnitude": np.full(n, 2 * lowpass), "motion_lowpass": np.full(n, lowpass)}]


def _learner(**rl):
    torch.manual_seed(0)
    spec = ModelSpec(latent_dim=32, ff_size=64, num_layers=1, num_heads=2, dropout=0.0)
    model = DanceDecoder(spec)
    learner = LearnerWorker(spec.to_dict(), state_to_numpy(model.state_dict()), RLConfig(lr=1e-4, **rl),
                            DiffusionConfig(), {"antifreeze": 0.4, "skating": 1.0})
    return learner, spec


def test_learner_applies_the_floor_logs_it_and_checkpoints_it(one_torch_thread):
    learner, spec = _learner(motion_floor=0.9, motion_gain=5.0)
    n = 4
    m0 = learner.update([_rollout(n, spec)], _scores(n, 0.5, spec.seq_len))
    assert m0["motion/floor_lambda"] == 0.0 and m0["motion/lowpass"] == pytest.approx(0.5)
    m1 = learner.update([_rollout(n, spec)], _scores(n, 0.3, spec.seq_len))  # ratio 0.6: error 0.3, integral 0.3
    assert m1["motion/floor_ratio"] == pytest.approx(0.6) and m1["motion/floor_lambda"] == pytest.approx(5 * 0.6)
    other, _ = _learner(motion_floor=0.9, motion_gain=5.0)
    other.load_state_dict(learner.state_dict())
    assert other.motion_floor.state_dict() == learner.motion_floor.state_dict()


def _params(learner):
    return torch.cat([p.detach().flatten() for p in learner.model.parameters()])


def test_placebo_updates_ignore_the_rewards_but_still_move_the_model(one_torch_thread):
    n, moved = 4, []
    for placebo in (False, True):
        for motion in (np.array([1.0, 2.0, 3.0, 4.0]), np.array([4.0, 3.0, 2.0, 1.0])):
            learner, spec = _learner(placebo=placebo)
            before = _params(learner)
            learner.update([_rollout(n, spec)], _scores(n, 0.5, spec.seq_len, motion))
            moved.append(_params(learner) - before)
    assert not torch.allclose(moved[0], moved[1])  # real advantages: opposite rankings, different updates
    assert torch.equal(moved[2], moved[3]) and moved[2].abs().max() > 0  # placebo: same update whatever the rewards


def test_floor_without_anti_freezing_is_a_one_line_config_error():
    with pytest.raises(UserError, match="rl.motion_floor"):
        load_config(None, ["rl.motion_floor=0.9", "rewards.antifreeze.weight=0"])
