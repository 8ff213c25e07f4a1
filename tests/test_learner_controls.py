"""Learner: rl.placebo, the update without information (what the step alone does to the model), and the motion
magnitudes it logs whatever the reward weights."""
import numpy as np
import pytest
import torch

from dance_rl.cluster.common import state_to_numpy
from dance_rl.cluster.learner import LearnerWorker
from dance_rl.config import DiffusionConfig, RLConfig
from dance_rl.diffusion.model import DanceDecoder, ModelSpec
from dance_rl.rl.rollout import Rollout


def _rollout(n, spec):
    g = torch.Generator().manual_seed(0)
    return Rollout(keys=["w0"] * (n // 2) + ["w1"] * (n - n // 2),
                   cond=torch.randn(n, spec.seq_len, spec.cond_dim, generator=g),
                   latents=torch.randn(n, 3, spec.seq_len, spec.nfeats, generator=g),
                   timesteps=torch.tensor([600, 200]), next_timesteps=torch.tensor([200, -1]),
                   log_probs=torch.zeros(n, 2, spec.seq_len), guidance_weights=torch.tensor([1.0, 1.0]), version=0)


def _scores(n, motion):
    comps = {"antifreeze": {"per_sample": motion, "per_frame": None, "diagnostics": {}},
             "skating": {"per_sample": -motion, "per_frame": None, "diagnostics": {}}}
    return [{"keys": ["w0"] * (n // 2) + ["w1"] * (n - n // 2), "components": comps,
             "motion_magnitude": 2 * motion, "motion_lowpass": motion}]


def _learner(**rl):
    torch.manual_seed(0)
    spec = ModelSpec(latent_dim=32, ff_size=64, num_layers=1, num_heads=2, dropout=0.0)
    learner = LearnerWorker(spec.to_dict(), state_to_numpy(DanceDecoder(spec).state_dict()), RLConfig(lr=1e-4, **rl),
                            DiffusionConfig(), {"antifreeze": 0.4, "skating": 1.0})
    return learner, spec


def _params(learner):
    return torch.cat([p.detach().flatten() for p in learner.model.parameters()])


def test_placebo_updates_ignore_the_rewards_but_still_move_the_model(one_torch_thread):
    n, moved = 4, []
    for placebo in (False, True):
        for motion in (np.array([1.0, 2.0, 3.0, 4.0]), np.array([4.0, 3.0, 2.0, 1.0])):
            learner, spec = _learner(placebo=placebo)
            before = _params(learner)
            metrics = learner.update([_rollout(n, spec)], _scores(n, motion))
            moved.append(_params(learner) - before)
    assert not torch.allclose(moved[0], moved[1])  # real advantages: opposite rankings, different updates
    assert torch.equal(moved[2], moved[3]) and moved[2].abs().max() > 0  # placebo: same update whatever the rewards
    # both motion magnitudes are logged (the low-pass one does not count jitter)
    assert metrics["motion/magnitude"] == pytest.approx(5.0) and metrics["motion/lowpass"] == pytest.approx(2.5)
