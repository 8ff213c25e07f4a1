"""Long-form generation: windowing, joint denoising with the overlap constraint, stitching continuity."""
from __future__ import annotations

import math

import pytest
import torch

from dance_rl.diffusion.long_form import (
    guidance_ramp,
    heal_midpoints,
    long_sample,
    num_windows,
    overlap_constraint,
    split_windows,
    stitch,
)
from dance_rl.diffusion.model import DanceDecoder, ModelSpec
from dance_rl.diffusion.sampler import ddim_sample
from dance_rl.diffusion.schedule import NoiseSchedule
from dance_rl.motion.fk import fk_axis_angle
from dance_rl.motion.representation import Normalizer, motion_to_features
from dance_rl.motion.skeleton import UPRIGHT_ROOT_AA

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPEC = ModelSpec(seq_len=150, latent_dim=32, ff_size=48, num_layers=1, num_heads=4, dropout=0.0)


def smooth_motion(frames: int, seed: int = 0):
    """A smooth synthetic dance: upright root, joints swinging sinusoidally, root wandering slowly."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(frames, dtype=torch.float32)[:, None, None] / 30.0
    amp, freq, phase = (torch.rand(1, 24, 3, generator=g) * 0.3, torch.rand(1, 24, 3, generator=g) * 0.3 + 0.1,
                        torch.rand(1, 24, 3, generator=g) * 6)
    poses = amp * torch.sin(2 * math.pi * freq * t + phase)
    poses[:, 0] = torch.tensor(UPRIGHT_ROOT_AA) + 0.2 * poses[:, 0]
    tt = t[:, 0, 0]
    trans = torch.stack([0.3 * torch.sin(0.5 * tt), 0.2 * torch.cos(0.3 * tt), 0.9 + 0.05 * torch.sin(2 * tt)], -1)
    return poses, trans


def windows_of(x: torch.Tensor, b: int, n: int = 150) -> torch.Tensor:
    return torch.stack([x[i * (n // 2): i * (n // 2) + n] for i in range(b)])


def test_window_counts_and_padding():
    assert num_windows(150) == 1 and num_windows(151) == 2 and num_windows(225) == 2 and num_windows(900) == 11
    feats = torch.arange(200, dtype=torch.float32)[:, None].expand(-1, 35)
    w = split_windows(feats)
    assert w.shape == (2, 150, 35)
    assert w[1, 0, 0] == 75 and w[1, 124, 0] == 199 and w[1, 149, 0] == 199  # padded with the last frame
    assert guidance_ramp(2.0, 50)[0] == 0.0 and guidance_ramp(2.0, 50)[25:] == [2.0] * 25


def test_stitch_round_trip_of_consistent_windows():
    """Windows cut from one motion stitch back into exactly that motion (length 150 + 75·(B − 1))."""
    b = 4
    poses, trans = smooth_motion(150 + 75 * (b - 1))
    feats = motion_to_features(poses, trans)
    p2, t2, c2 = stitch(windows_of(feats, b), heal=False)
    assert p2.shape == (375, 24, 3) and t2.shape == (375, 3) and c2.shape == (375, 4)
    torch.testing.assert_close(t2, trans, atol=1e-5, rtol=0)
    torch.testing.assert_close(fk_axis_angle(p2, t2), fk_axis_angle(poses, trans), atol=1e-4, rtol=0)


def test_stitch_is_continuous_when_windows_disagree():
    """Neighbouring windows that disagree (10 cm root offset, perturbed rotations) still join without jumps."""
    b = 3
    poses, trans = smooth_motion(150 + 75 * (b - 1), seed=1)
    w = windows_of(motion_to_features(poses, trans), b).clone()
    g = torch.Generator().manual_seed(0)
    for i in range(b):
        off = torch.tensor([0.1, -0.1, 0.0]) * (1 if i % 2 else -1)
        wp, wt = windows_of(poses, b)[i].clone(), windows_of(trans, b)[i] + off
        wp[:, 1:] += 0.15 * torch.randn(1, 23, 3, generator=g)  # a different constant pose bias per window
        w[i] = motion_to_features(wp, wt)
    p2, t2, _ = stitch(w)
    joints = fk_axis_angle(p2, t2)
    jump = (joints[1:] - joints[:-1]).norm(dim=-1).max(dim=-1).values  # (N−1,) worst joint step per frame
    seams = [75 * k - 1 for k in range(1, 2 * b - 2)]  # frame pairs where the stitch switches source
    assert jump[seams].max() < 0.05
    assert jump.max() < 0.05


def test_midpoint_jumps_are_healed():
    """The failure mode of joint denoising: a window's second half disagrees with its (constrained) first half."""
    b = 3
    poses, trans = smooth_motion(150 + 75 * (b - 1), seed=2)
    w = windows_of(motion_to_features(poses, trans), b).clone()
    w[1:, 75:, 4:6] += torch.tensor([0.08, -0.05])  # second halves of windows 1, 2 are 9 cm off
    seams = [75 * k - 1 for k in range(1, 2 * b - 2)]
    worst = lambda p, t: (lambda j: (j[1:] - j[:-1]).norm(dim=-1).max(dim=-1).values)(fk_axis_angle(p, t))[seams].max()
    assert worst(*stitch(w, heal=False)[:2]) > 0.08
    assert worst(*stitch(w, heal=True)[:2]) < 0.05
    healed = heal_midpoints(w[..., 4:])
    torch.testing.assert_close(healed[:, 0], w[:, 0, 4:])  # windows still start where they did
    torch.testing.assert_close(healed[0], w[0, :, 4:])  # window 0 has no constrained half
    step = healed[1:, 75] - healed[1:, 74]
    expected = 0.5 * ((healed[1:, 74] - healed[1:, 73]) + (healed[1:, 76] - healed[1:, 75]))
    assert (step - expected).abs().max() < 2e-3  # was 9.4 cm before healing (in metres)


def test_long_sample_length_and_overlap_constraint():
    torch.manual_seed(0)
    model, sched = DanceDecoder(SPEC).eval(), NoiseSchedule(1000)
    b = 3
    cond = split_windows(torch.randn(150 + 75 * (b - 1), 35))
    x = long_sample(model, sched, cond, steps=4, generator=torch.Generator().manual_seed(0))
    assert x.shape == (b, 150, 151)
    norm = Normalizer(-torch.ones(151), torch.ones(151))
    poses, trans, _ = stitch(norm.unnormalize(x))
    assert poses.shape[0] == 150 + 75 * (b - 1)
    # the constraint holds on every latent except the final x̂0
    res = ddim_sample(model, sched, cond, steps=4, guidance_weight=guidance_ramp(2.0, 4), post_step=overlap_constraint)
    for j in range(1, 4):
        torch.testing.assert_close(res.latents[1:, j, :75], res.latents[:-1, j, 75:])
    assert not torch.allclose(res.latents[1:, 4, :75], res.latents[:-1, 4, 75:])


@pytest.mark.parametrize("b", [1, 2])
def test_long_sample_small_batches(b):
    model, sched = DanceDecoder(SPEC).eval(), NoiseSchedule(1000)
    x = long_sample(model, sched, torch.randn(b, 150, 35), steps=3)
    assert x.shape == (b, 150, 151) and torch.isfinite(x).all()
