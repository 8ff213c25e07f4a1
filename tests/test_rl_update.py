import copy

import pytest
import torch

from dance_rl.diffusion.ema import EMA
from dance_rl.diffusion.model import DanceDecoder, ModelSpec
from dance_rl.diffusion.sampler import ddim_sample, step_logprob
from dance_rl.diffusion.schedule import NoiseSchedule
from dance_rl.rl.rollout import Rollout
from dance_rl.rl.update import policy_update

SPEC = ModelSpec(seq_len=12, latent_dim=32, ff_size=64, num_layers=1, num_heads=2, dropout=0.1, cond_dim=35)


def _rollout(model, schedule, n=4, steps=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    cond = torch.randn(n, SPEC.seq_len, SPEC.cond_dim, generator=g)
    model.eval()
    res = ddim_sample(model, schedule, cond, steps=steps, eta=1.0, guidance_weight=2.0, generator=g)
    return Rollout(keys=[f"m{i % 2}" for i in range(n)], cond=cond, latents=res.latents, timesteps=res.timesteps,
                   next_timesteps=res.next_timesteps, log_probs=res.log_probs, guidance_weights=res.guidance_weights,
                   version=0)


@pytest.fixture
def setup():
    torch.manual_seed(0)
    model = DanceDecoder(SPEC)
    return model, NoiseSchedule(1000)


def test_recomputed_logprob_matches_and_reinforce_raises_logp_of_positive_samples(setup):
    model, schedule = setup
    ro = _rollout(model, schedule)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    adv = torch.tensor([1.0, 1.0, -1.0, -1.0])[:, None].expand(4, SPEC.seq_len).clone()

    def logp(j):
        with torch.no_grad():
            return step_logprob(model, schedule, ro.latents[:, j], ro.latents[:, j + 1], int(ro.timesteps[j]),
                                int(ro.next_timesteps[j]), ro.cond, eta=1.0, guidance_weight=2.0).mean(-1)

    before = torch.stack([logp(j) for j in range(4)]).sum(0)
    stats = policy_update(model, schedule, opt, ro, adv, algorithm="reinforce", grad_clip=0.0)
    assert stats["logp_drift"] < 1e-5  # recomputation equals sampling-time log-prob with unchanged parameters
    assert stats["steps_trained"] == 4  # the deterministic last step is skipped
    after = torch.stack([logp(j) for j in range(4)]).sum(0)
    assert torch.all(after[:2] > before[:2]) and torch.all(after[2:] < before[2:])


def test_micro_batching_gives_the_same_update(setup):
    model, schedule = setup
    ro = _rollout(model, schedule)
    adv = torch.randn(4, SPEC.seq_len, generator=torch.Generator().manual_seed(1))
    m1, m2 = copy.deepcopy(model), copy.deepcopy(model)
    s1 = policy_update(m1, schedule, torch.optim.SGD(m1.parameters(), lr=1e-2), ro, adv, grad_clip=0.0)
    s2 = policy_update(m2, schedule, torch.optim.SGD(m2.parameters(), lr=1e-2), ro, adv, grad_clip=0.0, micro_batch=1)
    assert s1["grad_norm"] == pytest.approx(s2["grad_norm"], rel=1e-4)
    for a, b in zip(m1.parameters(), m2.parameters()):
        assert torch.allclose(a, b, atol=1e-6)


def test_ppo_kl_and_ema(setup):
    model, schedule = setup
    ro = _rollout(model, schedule)
    ref = copy.deepcopy(model).requires_grad_(False)
    ema = EMA(model, decay=0.5)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    adv = torch.randn(4, SPEC.seq_len, generator=torch.Generator().manual_seed(2))
    stats = policy_update(model, schedule, opt, ro, adv, algorithm="ppo_clip", inner_epochs=3, kl_weight=0.1,
                          ref_model=ref, ema=ema)
    assert stats["approx_kl"] > 0  # later epochs see a ratio != 1
    assert stats["kl"] > 0
    assert not torch.equal(next(model.parameters()), next(ref.parameters()))
    # one more single-epoch update: EMA(0.5) moves halfway from its previous value to the new weights
    e_before = [e.clone() for e in ema.model.parameters()]
    policy_update(model, schedule, opt, ro, adv, algorithm="reinforce", ema=ema)
    for eb, e, p in zip(e_before, ema.model.parameters(), model.parameters()):
        assert torch.allclose(e, 0.5 * eb + 0.5 * p, atol=1e-6)
    with pytest.raises(ValueError):
        policy_update(model, schedule, opt, ro, adv, kl_weight=0.1)
