"""rl.algorithm=draft: differentiable physics errors (rewards/differentiable.py) and the update through the last DDIM
steps (rl/draft.py)."""
import dataclasses

import numpy as np
import pytest
import torch

from dance_rl.cluster.common import state_to_numpy
from dance_rl.config import DRAFT_ERRORS, DiffusionConfig, RLConfig
from dance_rl.diffusion.model import DanceDecoder, ModelSpec
from dance_rl.diffusion.sampler import ddim_sample
from dance_rl.diffusion.schedule import NoiseSchedule
from dance_rl.eval.penetration import capsule_pen_rate
from dance_rl.eval.physical import fgd as fgd_metric
from dance_rl.eval.physical import pfc as pfc_metric
from dance_rl.motion.fk import forward_kinematics
from dance_rl.motion.representation import Normalizer
from dance_rl.motion.rotations import axis_angle_to_matrix
from dance_rl.rewards import differentiable as dr
from dance_rl.rl.draft import ERRORS, draft_update, motion_errors, replay
from dance_rl.rl.rollout import Rollout


def _joints(poses, trans):
    return forward_kinematics(axis_angle_to_matrix(torch.as_tensor(poses, dtype=torch.float32)),
                              torch.as_tensor(trans, dtype=torch.float32))


def test_pfc_is_the_evaluation_metric_and_has_gradients(rng):
    joints = torch.as_tensor(rng.normal(0, 0.3, (2, 40, 24, 3)), dtype=torch.float64).requires_grad_(True)
    value = dr.pfc(joints)
    for b in range(2):
        assert value[b].item() == pytest.approx(10000.0 * pfc_metric(joints[b].detach().numpy()), rel=1e-4)
    value.sum().backward()
    assert torch.isfinite(joints.grad).all() and joints.grad.abs().sum() > 0


def test_ground_errors_see_bobbing_and_floating():
    t = np.arange(60)
    trans = np.zeros((60, 3))
    trans[:, 2] = 1.0 + 0.05 * np.sin(t / 3)  # the whole body bobs 5 cm
    joints = _joints(np.zeros((1, 60, 24, 3)), trans[None])
    h = joints[0, :, :, 2].min(dim=-1).values
    bob = dr.fgd(joints).item()
    assert bob == pytest.approx(1000 * (h - h.mean()).abs().mean().item(), rel=1e-5) and bob > 20
    assert bob >= fgd_metric(joints[0].numpy())["fgd"] * 0.5  # the metric counts the same deviations (and a margin)
    steady = _joints(np.zeros((1, 60, 24, 3)), np.tile([0.0, 0.0, 1.0], (1, 60, 1)))
    lift = 0.2 - steady[0, 0, :, 2].min().item()  # lowest joint 20 cm above the floor
    floating = _joints(np.zeros((1, 60, 24, 3)), np.tile([0.0, 0.0, 1.0 + lift], (1, 60, 1)))
    assert dr.fgd(floating).item() == pytest.approx(0.0, abs=1e-3)  # FGD alone cannot see a float...
    assert dr.floor(floating).item() == pytest.approx(200.0, rel=1e-3)  # ...the floor term does


def test_skating_counts_sliding_toes_in_contact_only():
    poses = np.zeros((1, 30, 24, 3))
    poses[..., 0, 0] = np.pi / 2  # the SMPL rest pose is y-up: stand it up in the z-up world
    slide = np.zeros((1, 30, 3))
    slide[..., 0] = np.arange(30) / 30.0  # 1 m/s
    on_floor = _joints(poses, slide)
    on_floor = on_floor - torch.tensor([0, 0, 1.0]) * on_floor[..., 10:12, 2].min()  # toes on the floor
    lifted = on_floor + torch.tensor([0, 0, 0.2])
    still = on_floor.clone()
    still[..., :2] = still[:, :1, :, :2]
    assert dr.skate(on_floor).item() == pytest.approx(1.0, rel=0.02)
    assert dr.skate(lifted).item() == pytest.approx(dr.skate(on_floor).item())  # floating is the floor term's job
    assert dr.skate(still).item() < 1e-4
    raised = on_floor.clone()
    raised[:, :, 10, 2] += 0.2  # the left toe lifted 20 cm: only the right one still slides on the floor
    assert dr.skate(raised).item() == pytest.approx(0.5 * dr.skate(on_floor).item(), rel=0.02)


def test_lift_counts_ankles_held_above_the_raised_foot_line_only():
    from dance_rl.eval.manual import HL

    # the twin of eval's threshold (rewards cannot import eval), HL written to 5 digits as in test_eval_features
    assert dr.LIFT_HEIGHT == pytest.approx(1.2 * HL, abs=1e-5)
    assert dr.ANKLES == (7, 8)
    j = torch.ones(1, 30, 24, 3)
    j[..., [10, 11], 2] = 0.0  # toes on the floor, ankles 8 cm up
    j[..., [7, 8], 2] = 0.08
    assert dr.lift(j).item() < 1e-4
    step = j.clone()
    step[:, :, 7, 2] = 0.2  # a step: 20 cm is below eval/manual.py's 31-cm "foot raised" line
    assert dr.lift(step).item() < 0.01
    held = j.clone()
    held[:, :15, 7, 2] = 0.5  # the left leg held up for half of the clip
    assert dr.lift(held).item() == pytest.approx(0.25, abs=0.01)
    floating = held + torch.tensor([0, 0, 0.3])  # measured from the lowest joint: floating lifts nothing
    assert dr.lift(floating).item() == pytest.approx(dr.lift(held).item())


def test_penetration_is_zero_at_rest_and_follows_the_capsule_pen_rate():
    rest = np.zeros((1, 24, 3))
    across = rest.copy()
    across[0, 16] = [-1.5, 0.0, 0.0]  # left shoulder swings the arm forward...
    across[0, 18] = [0.0, 2.4, 0.0]  # ...and the elbow folds the forearm into the trunk
    for poses, inside in ((rest, False), (across, True)):
        trans = np.array([[0.0, 0.0, 1.0]])
        value = dr.penetration(_joints(poses[None], trans[None])).item()
        pen = capsule_pen_rate(poses, trans)["pen_rate"]
        assert (value > 1.0) == inside and (pen > 0) == inside, (value, pen)


def test_motion_terms_match_the_metric_and_ignore_a_still_pose(rng):
    from dance_rl.eval.physical import motion_magnitude, motion_magnitude_lowpass

    rot = torch.as_tensor(rng.normal(size=(2, 30, 144)))
    for b in range(2):
        assert dr.motion(rot)[b].item() == pytest.approx(motion_magnitude(rot[b].numpy()), rel=1e-6)
        assert dr.motion_lowpass(rot)[b].item() == pytest.approx(motion_magnitude_lowpass(rot[b].numpy()), rel=1e-6)
    assert dr.motion(rot[:, :1].expand(2, 30, 144)).abs().max() == 0
    bob = torch.zeros(1, 10, 24, 3)
    bob[..., 2] = torch.rand(1, 10, 1)  # the whole body moves up and down: no kinetic energy (as anti-freezing)
    travel = torch.zeros(1, 10, 24, 3)
    travel[..., 0] = torch.arange(10.0).view(1, 10, 1) / 30  # 1 m/s forward
    assert dr.kinetic(bob).item() == 0 and dr.kinetic(travel).item() == pytest.approx(1.0)


# -- the update --------------------------------------------------------------------------------------------------------

def _tiny():
    torch.manual_seed(0)
    spec = ModelSpec(latent_dim=32, ff_size=64, num_layers=1, num_heads=2, dropout=0.0, seq_len=24)
    return DanceDecoder(spec).eval(), spec


def _normalizer():
    lo, hi = torch.full((151,), -1.0), torch.full((151,), 1.0)
    lo[4:7], hi[4:7] = torch.tensor([-1.0, -1.0, 0.5]), torch.tensor([1.0, 1.0, 1.5])  # root height 0.5-1.5 m
    return Normalizer(lo, hi)


def _rollout(model, spec, n=4, steps=4):
    schedule = NoiseSchedule(1000, spacing="quadratic")
    cond = torch.randn(n, spec.seq_len, spec.cond_dim, generator=torch.Generator().manual_seed(1))
    res = ddim_sample(model, schedule, cond, steps=steps, eta=1.0, guidance_weight=2.0,
                      generator=torch.Generator().manual_seed(2))
    r = Rollout(keys=[f"w{i // 2}" for i in range(n)], cond=cond, latents=res.latents, timesteps=res.timesteps,
                next_timesteps=res.next_timesteps, log_probs=res.log_probs, guidance_weights=res.guidance_weights,
                version=0)
    return r, res, schedule


@pytest.mark.parametrize("k", [1, 3])
def test_replay_reproduces_the_stored_sample_and_carries_gradients(k, one_torch_thread):
    model, spec = _tiny()
    r, res, schedule = _rollout(model, spec)
    x = replay(model, schedule, r, slice(0, 4), k, eta=1.0, clip_denoised=True)
    assert torch.allclose(x, res.x0, atol=1e-5)
    x.sum().backward()
    assert sum(float(p.grad.abs().sum()) for p in model.parameters() if p.grad is not None) > 0


def test_draft_update_lowers_the_errors_it_is_given(one_torch_thread):
    """Repeated updates on one batch lower the weighted errors relative to the frozen base, and the base itself is
    untouched; with no error weighted and the anchor off the first update cannot move the model."""
    import copy

    model, spec = _tiny()
    ref = copy.deepcopy(model).requires_grad_(False)
    r, _, schedule = _rollout(model, spec)
    norm = _normalizer()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    stats = [draft_update(model, ref, schedule, opt, r, norm, steps=2, weights={"fgd": 1.0, "floor": 1.0},
                          motion_weight=0.0, anchor_weight=0.0) for _ in range(15)]
    assert stats[0]["rel_fgd"] == pytest.approx(1.0) and stats[0]["grad_norm"] > 0
    assert stats[-1]["rel_fgd"] + stats[-1]["rel_floor"] < 0.8 * 2
    base_now = motion_errors(replay(ref, schedule, r, slice(0, 4), 2, eta=1.0, clip_denoised=True), norm)["fgd"]
    assert torch.allclose(base_now, motion_errors(r.latents[:, -1], norm)["fgd"], rtol=1e-5)  # base untouched
    idle = copy.deepcopy(ref).requires_grad_(True)
    opt = torch.optim.Adam(idle.parameters(), lr=3e-3)
    s = draft_update(idle, ref, schedule, opt, r, norm, steps=2, weights={}, motion_weight=1.0, anchor_weight=1.0)
    assert s["grad_norm"] == 0.0  # at the base every hinge and the anchor are flat


def test_per_error_target_overrides_the_common_one(one_torch_thread):
    """rl.draft_targets: an error whose own target lies above the base's value is not pushed (flat hinge); a target
    given for another error leaves the common one in force."""
    import copy

    model, spec = _tiny()
    ref = copy.deepcopy(model).requires_grad_(False)
    r, _, schedule = _rollout(model, spec)

    def grad_norm(targets):
        m = copy.deepcopy(ref).requires_grad_(True)
        return draft_update(m, ref, schedule, torch.optim.SGD(m.parameters(), lr=0.0), r, _normalizer(), steps=2,
                            weights={"fgd": 1.0}, target=0.5, targets=targets, motion_weight=0.0)["grad_norm"]

    assert grad_norm({"fgd": 2.0}) == 0.0
    common = grad_norm(None)
    assert common > 0 and grad_norm({"floor": 2.0}) == pytest.approx(common)


def test_errors_are_the_configs_choices():
    assert ERRORS == DRAFT_ERRORS and set(RLConfig().draft_errors) == set(DRAFT_ERRORS)


def test_learner_runs_draft_updates_and_config_rejects_misuse(one_torch_thread):
    from dance_rl.cluster.learner import LearnerWorker
    from dance_rl.config import load_config
    from dance_rl.errors import UserError
    from tests.conftest import REPO

    model, spec = _tiny()
    r, _, _ = _rollout(model, spec)
    rl = dataclasses.replace(RLConfig(), algorithm="draft", lr=1e-3, draft_steps=2)
    learner = LearnerWorker(spec.to_dict(), state_to_numpy(model.state_dict()), rl,
                            dataclasses.replace(DiffusionConfig(), ddim_spacing="quadratic"), {"skating": 1.0},
                            normalizer_state=_normalizer().state_dict())
    comps = {"skating": {"per_sample": np.ones(4), "per_frame": None, "diagnostics": {}}}
    m = learner.update([r], [{"keys": r.keys, "components": comps}])
    assert {f"train/rel_{e}" for e in ERRORS} <= set(m) and m["train/steps_trained"] == 2.0
    assert m["reward/skating"] == 1.0  # the reward actors' scores are still logged
    with pytest.raises(ValueError, match="normaliser"):
        LearnerWorker(spec.to_dict(), state_to_numpy(model.state_dict()), rl, DiffusionConfig(), {"skating": 1.0})
    with pytest.raises(UserError, match="rl.placebo"):
        load_config(REPO / "tune_configs" / "smoke.yaml", ["rl.algorithm=draft", "rl.placebo=true"])
    with pytest.raises(UserError, match="rl.draft_errors.jitter"):
        load_config(REPO / "tune_configs" / "smoke.yaml", ["rl.draft_errors={jitter: 1}"])
    with pytest.raises(UserError, match="rl.draft_targets.jitter"):
        load_config(REPO / "tune_configs" / "smoke.yaml", ["rl.draft_targets={jitter: 0.2}"])
    with pytest.raises(UserError, match=r"rl.draft_targets.skate': expected a number >= 0"):
        load_config(REPO / "tune_configs" / "smoke.yaml", ["rl.draft_targets={skate: -1}"])
    assert load_config(None, ["rl.draft_targets.skate=0.25"]).rl.draft_targets == {"skate": 0.25}
