import numpy as np
import pytest
import torch

from dance_rl.rl.advantages import AdvantageComputer, PerMusicStatTracker
from dance_rl.rl.losses import kl_penalty, policy_loss


def test_tracker_uses_batch_stats_until_min_count_then_buffer():
    t = PerMusicStatTracker(buffer_size=4, min_count=3)
    r1 = np.array([1.0, 3.0, 10.0, 20.0])
    a1 = t.update(["a", "a", "b", "b"], r1)
    # fewer than 3 values per key → whole-batch statistics
    assert np.allclose(a1, (r1 - r1.mean()) / (r1.std() + 1e-6))
    a2 = t.update(["a", "b"], np.array([5.0, 30.0]))
    # now 3 per key → per-key buffer stats (a: [1,3,5], b: [10,20,30])
    assert a2[0] == pytest.approx((5 - 3) / (np.std([1, 3, 5]) + 1e-6))
    assert a2[1] == pytest.approx((30 - 20) / (np.std([10, 20, 30]) + 1e-6))
    t.update(["a", "a"], np.array([7.0, 9.0]))  # buffer keeps the last 4: [3, 5, 7, 9]
    assert list(t.buffers["a"]) == [3.0, 5.0, 7.0, 9.0]
    s = t.state_dict()
    t2 = PerMusicStatTracker(1, 1)
    t2.load_state_dict(s)
    assert list(t2.buffers["a"]) == [3.0, 5.0, 7.0, 9.0] and t2.buffers["a"].maxlen == 4


def test_combined_advantage_broadcast_per_frame_and_clip():
    B, T = 4, 6
    comp = AdvantageComputer({"imitation": 0.5, "fgd": 0.5, "antifreeze": 0.0}, T, buffer_size=8, min_count=8, clip=1.0)
    assert set(comp.trackers) == {"imitation", "fgd"}  # weight 0: not tracked
    per_sample = np.array([0.0, 1.0, 2.0, 3.0])
    per_frame = np.tile(np.arange(T, dtype=float), (B, 1))
    adv, stats = comp(["m0", "m0", "m1", "m1"], {
        "imitation": {"per_sample": per_sample, "per_frame": None},
        "fgd": {"per_sample": per_frame.mean(1), "per_frame": per_frame},
    })
    assert adv.shape == (B, T)
    a_imit = (per_sample - per_sample.mean()) / (per_sample.std() + 1e-6)
    a_fgd = (per_frame - per_frame.mean()) / (per_frame.std() + 1e-6)
    assert np.allclose(adv, np.clip(0.5 * a_imit[:, None] + 0.5 * a_fgd, -1, 1))
    assert 0 < stats["adv/clip_frac"] < 1
    with pytest.raises(KeyError):
        comp(["m0"], {"imitation": {"per_sample": np.zeros(1)}})


def test_reinforce_gradient_is_minus_advantage_weighted():
    logp = torch.zeros(2, 3, requires_grad=True)
    adv = torch.tensor([[1.0, 1.0, 1.0], [-2.0, -2.0, -2.0]])
    loss, _ = policy_loss("reinforce", logp, logp.detach(), adv, clip_range=0.2, num_steps=5)
    loss.backward()
    assert torch.allclose(logp.grad, -adv / (6 * 5))


def test_ppo_clip_stops_gradient_outside_trust_region():
    old = torch.zeros(1, 2)
    adv = torch.ones(1, 2)
    logp = torch.tensor([[0.05, 0.5]], requires_grad=True)  # ratio 1.05 (inside) and 1.65 (outside 1.2)
    loss, stats = policy_loss("ppo_clip", logp, old, adv, clip_range=0.2, num_steps=1)
    loss.backward()
    assert logp.grad[0, 0] == pytest.approx(-np.exp(0.05) / 2, rel=1e-5)
    assert logp.grad[0, 1] == 0.0
    assert stats["clipfrac"] == 0.5
    # at ratio 1 PPO's gradient equals REINFORCE's
    lp = torch.zeros(1, 2, requires_grad=True)
    policy_loss("ppo_clip", lp, lp.detach(), adv, clip_range=0.2, num_steps=1)[0].backward()
    lr = torch.zeros(1, 2, requires_grad=True)
    policy_loss("reinforce", lr, lr.detach(), adv, clip_range=0.2, num_steps=1)[0].backward()
    assert torch.allclose(lp.grad, lr.grad)


def test_kl_penalty_zero_at_reference_and_grows():
    ref = torch.randn(3, 4)
    assert kl_penalty(ref.clone(), ref, 0.1, 1) == 0
    assert kl_penalty(ref + 1.0, ref, 0.1, 2) == pytest.approx(0.05)
