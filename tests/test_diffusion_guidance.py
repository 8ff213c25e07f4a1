"""Test-time FGD guidance and contact post-processing (Skeleton2Stage; docs/rewards.md)."""
from __future__ import annotations

import pytest
import torch

from dance_rl.diffusion.guidance import (
    contact_mask,
    ema_1d,
    fgd_guidance,
    foot_ground_deviation,
    gaussian_smooth_1d,
    hysteresis,
    make_fgd_hook,
    postprocess,
)
from dance_rl.diffusion.model import DanceDecoder, ModelSpec
from dance_rl.diffusion.sampler import ddim_sample
from dance_rl.diffusion.schedule import NoiseSchedule
from dance_rl.motion.fk import fk_axis_angle
from dance_rl.motion.representation import Normalizer, features_to_joints
from dance_rl.motion.skeleton import FOOT_JOINTS, UPRIGHT_ROOT_AA

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_ema_and_hysteresis_hand_computed():
    x = torch.tensor([[0.0, 1.0, 1.0]])
    torch.testing.assert_close(ema_1d(x, 0.5), torch.tensor([[0.0, 0.5, 0.75]]))
    p = torch.tensor([[0.9, 0.9, 0.9, 0.75, 0.6, 0.9, 0.9, 0.6, 0.6]])
    # cannot switch before 2 frames in a state; on > 0.8, off < 0.7; 0.75 keeps the state
    assert hysteresis(p).tolist() == [[0, 0, 1, 1, 0, 0, 1, 1, 0]]
    assert contact_mask(torch.ones(1, 5, 4)).tolist() == [[0, 0, 1, 1, 1]]


def _demo_normalizer():
    """Contacts constant 1 (always predicted in contact); root z in [0.6, 1.2] m; rotations over [-1, 1]."""
    lo, hi = -torch.ones(151), torch.ones(151)
    lo[:4] = hi[:4] = 1.0
    lo[4:6], hi[4:6] = -1.0, 1.0
    lo[6], hi[6] = 0.6, 1.2
    return Normalizer(lo, hi)


def test_guidance_moves_only_root_height_and_lowers_the_loss():
    torch.manual_seed(0)
    norm = _demo_normalizer()
    x0 = torch.rand(2, 40, 151) * 1.6 - 0.8
    out = fgd_guidance(x0, norm, posterior_variance=1.234e-4)
    changed = (out != x0).any(dim=(0, 1))
    assert changed.nonzero().flatten().tolist() == [6]
    dev = lambda x: foot_ground_deviation(features_to_joints(norm.unnormalize(x))).mean()
    assert dev(out) < dev(x0)


def test_guided_sampling_has_lower_foot_ground_deviation_on_the_same_seed():
    torch.manual_seed(0)
    spec = ModelSpec(seq_len=60, latent_dim=32, ff_size=48, num_layers=1, num_heads=4, dropout=0.0)
    model, sched, norm = DanceDecoder(spec).eval(), NoiseSchedule(1000), _demo_normalizer()
    cond = torch.randn(3, 60, 35)
    steps = 5
    last_t = sched.ddim_timesteps(steps)[-1][0]
    plain = ddim_sample(model, sched, cond, steps=steps, generator=torch.Generator().manual_seed(7), return_chain=False)
    hook = make_fgd_hook(sched, norm, apply_at_t=last_t)
    guided = ddim_sample(model, sched, cond, steps=steps, generator=torch.Generator().manual_seed(7),
                         return_chain=False, x0_hook=hook)
    d_plain = foot_ground_deviation(features_to_joints(norm.unnormalize(plain.x0)))
    d_guided = foot_ground_deviation(features_to_joints(norm.unnormalize(guided.x0)))
    assert torch.all(d_guided < d_plain)
    # everything but the root height is untouched
    diff = (guided.x0 != plain.x0).any(dim=(0, 1)).nonzero().flatten().tolist()
    assert diff == [6]


def _standing(frames=60):
    poses = torch.zeros(frames, 24, 3)
    poses[:, 0] = torch.tensor(UPRIGHT_ROOT_AA)
    trans = torch.zeros(frames, 3)
    trans[:, 2] = 1.0
    return poses, trans


def test_foot_lock_removes_sliding_during_contact():
    poses, trans = _standing()
    trans[:, 0] = torch.arange(60) * 0.02  # the whole body slides 2 cm per frame with feet "in contact"
    _, joints = postprocess(poses, trans, torch.ones(60, 4), ground=False, smooth_height=False)
    feet = joints[:, list(FOOT_JOINTS)]
    assert (feet[1:] - feet[:-1]).norm(dim=-1).max() < 1e-5
    _, joints = postprocess(poses, trans, torch.zeros(60, 4), ground=False, smooth_height=False)
    torch.testing.assert_close(joints, fk_axis_angle(poses, trans))  # no contact: nothing moves


def test_ground_shift_puts_the_lowest_joint_on_the_floor():
    poses, trans = _standing()
    trans[:, 2] = 1.3 + 0.05 * torch.sin(torch.arange(60) / 5.0)
    _, joints = postprocess(poses, trans, torch.zeros(60, 4), foot_lock=False, smooth_height=False)
    assert joints[..., 2].min(dim=-1).values.mean().item() == pytest.approx(0.0, abs=1e-5)


def test_height_smoothing_only_acts_during_contact():
    poses, trans = _standing()
    noise = 0.01 * torch.tensor([(-1.0) ** i for i in range(60)])  # 1-cm jitter of the whole body
    trans[:, 2] += noise
    contacts = torch.zeros(60, 4)
    contacts[:30] = 1.0
    new_trans, joints = postprocess(poses, trans, contacts, foot_lock=False, ground=False)
    h = joints[:, list(FOOT_JOINTS), 2].min(dim=-1).values
    assert (h[3:27] - h[3:27].mean()).abs().max() < 0.003  # smoothed inside the contact span
    torch.testing.assert_close(new_trans[35:], trans[35:])  # untouched outside it
    x = torch.zeros(21)
    x[10] = 3.0
    y = gaussian_smooth_1d(x, 1.2)
    k = torch.exp(-0.5 * (torch.arange(-4.0, 5.0) / 1.2) ** 2)
    assert y.sum().item() == pytest.approx(3.0, rel=1e-5) and y[10].item() == pytest.approx(3.0 / k.sum().item(), rel=1e-5)
