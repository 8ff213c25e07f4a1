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


def test_ptx_steps_train_the_pretraining_loss_on_mocap_after_each_update(tiny_base, one_torch_thread):
    """rl.ptx_steps: after the policy update, pretraining-loss steps on the training mocap at rl.ptx_lr (the policy
    keeps rl.lr); the EMA takes the weights after both; a resumed learner draws the same batches."""
    import dataclasses

    from dance_rl.cluster.roles import learner_kwargs
    from dance_rl.config import load_config
    from dance_rl.motion.representation import Normalizer
    from tests.conftest import REPO, smoke_overrides

    cfg = load_config(REPO / "tune_configs" / "smoke.yaml",
                      smoke_overrides(tiny_base, "rl.ptx_steps=2", "rl.ptx_lr=1e-3", "rl.ema_decay=0"))
    spec = ModelSpec(latent_dim=32, ff_size=64, num_layers=1, num_heads=2, dropout=0.0)
    lo, hi = torch.full((151,), -1.0), torch.full((151,), 1.0)
    base = {"spec": spec.to_dict(), "state_dict": state_to_numpy(DanceDecoder(spec).state_dict()),
            "normalizer": Normalizer(lo, hi).state_dict()}
    kw = learner_kwargs(cfg, base)
    assert kw["ptx"][0].cache_dir.startswith("/")  # resolved: the actor may not share the driver's directory
    weights = {"antifreeze": 0.4, "skating": 1.0}
    results = []
    for ptx in (kw["ptx"], None):
        rl = cfg.rl if ptx else dataclasses.replace(cfg.rl, ptx_steps=0)
        learner = LearnerWorker(spec.to_dict(), base["state_dict"], rl, cfg.diffusion, weights, ptx=ptx,
                                normalizer_state=base["normalizer"])
        m = learner.update([_rollout(4, spec)], _scores(4, np.array([1.0, 2.0, 3.0, 4.0])))
        results.append((m, _params(learner), learner))
    (with_ptx, p1, l1), (without, p0, _) = results
    assert with_ptx["train/ptx_loss"] > 0 and "train/ptx_loss" not in without
    assert not torch.allclose(p1, p0)  # the pretraining steps moved the weights further
    assert all(g["lr"] == cfg.rl.lr for g in l1.optimizer.param_groups)  # the policy keeps its learning rate
    ema = torch.cat([p.detach().flatten() for p in l1.ema.model.parameters()])
    assert torch.equal(ema, p1)  # decay 0: the EMA holds the weights after the pretraining steps
    with pytest.raises(ValueError, match="ptx"):
        LearnerWorker(spec.to_dict(), base["state_dict"], cfg.rl, cfg.diffusion, weights, ptx=None,
                      normalizer_state=base["normalizer"])
    # resume: a learner restored after the first update draws the same pretraining batches for the second
    l1.update([_rollout(4, spec)], _scores(4, np.array([2.0, 1.0, 4.0, 3.0])))
    fresh = LearnerWorker(spec.to_dict(), base["state_dict"], cfg.rl, cfg.diffusion, weights, ptx=kw["ptx"],
                          normalizer_state=base["normalizer"])
    fresh.update([_rollout(4, spec)], _scores(4, np.array([1.0, 2.0, 3.0, 4.0])))
    resumed = LearnerWorker(spec.to_dict(), base["state_dict"], cfg.rl, cfg.diffusion, weights, ptx=kw["ptx"],
                          normalizer_state=base["normalizer"])
    resumed.load_state_dict(fresh.state_dict())
    resumed.update([_rollout(4, spec)], _scores(4, np.array([2.0, 1.0, 4.0, 3.0])))
    assert torch.allclose(_params(resumed), _params(l1), atol=1e-6)


def test_data_paths_are_made_absolute_for_processes_elsewhere(tmp_path, monkeypatch):
    from dance_rl.cluster.roles import absolute_data_paths
    from dance_rl.config import DataConfig

    monkeypatch.chdir(tmp_path)
    d = absolute_data_paths(DataConfig(source="aistpp:corpus/aist", cache_dir=".cache/x"))
    assert d.source == f"aistpp:{tmp_path / 'corpus' / 'aist'}" and d.cache_dir == str(tmp_path / ".cache" / "x")
    assert absolute_data_paths(DataConfig(source="demo")).source == "demo"
