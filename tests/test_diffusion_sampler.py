"""Schedule, losses, DDIM sampling with log-probs, and their recomputation."""
from __future__ import annotations

import math

import pytest
import torch

from dance_rl.diffusion.losses import LOSS_WEIGHTS, edge_loss, edge_loss_terms
from dance_rl.diffusion.model import DanceDecoder, ModelSpec
from dance_rl.diffusion.sampler import ddim_sample, gaussian_logprob, step_logprob, step_mean
from dance_rl.diffusion.schedule import NoiseSchedule, cosine_betas
from dance_rl.motion.representation import motion_to_features

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPEC = ModelSpec(seq_len=30, latent_dim=32, ff_size=48, num_layers=1, num_heads=4, dropout=0.1)


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    return DanceDecoder(SPEC).eval(), NoiseSchedule(1000)


def test_cosine_schedule_values():
    betas = cosine_betas(1000)
    assert betas.max() <= 0.999 and betas.min() >= 0
    # ᾱ_t = f(t)/f(0), f(u) = cos²((u/T + s)/(1 + s)·π/2): check one value by hand
    s = 8e-3
    f = lambda u: math.cos((u / 1000 + s) / (1 + s) * math.pi / 2) ** 2
    sched = NoiseSchedule(1000)
    assert sched.alphas_cumprod[499].item() == pytest.approx(f(500) / f(0), rel=1e-5)
    assert sched.posterior_variance_at(19) == pytest.approx(1.234e-4, rel=1e-3)  # docs/rewards.md, guidance
    pairs = sched.ddim_timesteps(50)
    assert pairs[0] == (999, 979) and pairs[-1] == (19, -1) and len(pairs) == 50


def test_quadratic_spacing_ends_near_the_clean_end():
    uniform, quad = NoiseSchedule(1000).ddim_timesteps(10), NoiseSchedule(1000, spacing="quadratic").ddim_timesteps(10)
    assert uniform[-1] == (99, -1)  # EDGE's: the sample is x̂0 from t = 99 (noise std 0.17)
    assert quad[0][0] == 999 and quad[-1] == (10, -1) and quad[-2] == (40, 10) and len(quad) == 10
    assert 1 - NoiseSchedule(1000).alphas_cumprod[10].item() < 0.03 * (1 - NoiseSchedule(1000).alphas_cumprod[99].item())
    for steps in (2, 50, 600):  # strictly decreasing even where (i/steps)² rounds two steps onto one
        ts = [t for t, _ in NoiseSchedule(1000, spacing="quadratic").ddim_timesteps(steps)] + [-1]
        assert len(ts) == steps + 1 and all(a > b for a, b in zip(ts, ts[1:])) and ts[0] == 999
    with pytest.raises(ValueError, match="spacing"):
        NoiseSchedule(1000, spacing="cubic")


def test_spacing_reaches_every_sampler_from_the_config():
    from dance_rl.cluster.roles import sampler_kwargs
    from dance_rl.config import load_config
    from dance_rl.diffusion.checkpoint import sampling_settings

    cfg = load_config(None, ["diffusion.ddim_spacing=quadratic"])
    assert sampler_kwargs(cfg, {"spec": {}, "normalizer": {}})["spacing"] == "quadratic"  # RL rollouts
    assert sampling_settings(cfg.to_dict(), rlft=True)["spacing"] == "quadratic"  # held-out eval, compare, generate
    assert sampling_settings({"diffusion": {"ddim_steps": 10}})["spacing"] == "uniform"  # cards written before it


def test_ddim_coefficients_last_step_is_deterministic():
    sched = NoiseSchedule(1000)
    like = torch.zeros(2, 3, 4)
    a, c, sigma = sched.ddim_coefficients(19, -1, like, eta=1.0)
    assert torch.all(a == 1) and torch.all(c == 0) and torch.all(sigma == 0)
    a, c, sigma = sched.ddim_coefficients(999, 979, like, eta=1.0)
    # c² + σ² = 1 − ᾱ_next (DDIM)
    abar_next = sched.alphas_cumprod[979].item()
    assert (c ** 2 + sigma ** 2).flatten()[0].item() == pytest.approx(1 - abar_next, rel=1e-5)
    _, _, sigma0 = sched.ddim_coefficients(999, 979, like, eta=0.0)
    assert torch.all(sigma0 == 0)


def test_gaussian_logprob_matches_torch_distribution():
    x, mu = torch.randn(2, 5, 7), torch.randn(2, 5, 7)
    sigma = torch.full((2, 1, 1), 0.3)
    ref = torch.distributions.Normal(mu, 0.3).log_prob(x).mean(-1)
    torch.testing.assert_close(gaussian_logprob(x, mu, sigma), ref)


def test_sample_shapes_and_chain(setup):
    model, sched = setup
    cond = torch.randn(3, 30, 35)
    res = ddim_sample(model, sched, cond, steps=6, eta=1.0, guidance_weight=2.0, generator=torch.Generator().manual_seed(1))
    assert res.x0.shape == (3, 30, 151)
    assert res.latents.shape == (3, 7, 30, 151) and res.log_probs.shape == (3, 6, 30)
    assert res.x0_preds.shape == (3, 6, 30, 151)
    assert torch.equal(res.latents[:, -1], res.x0) and torch.equal(res.x0, res.x0_preds[:, -1])
    assert res.x0.abs().max() <= 1.0  # x̂0 clipping, last step returns x̂0
    assert res.timesteps.tolist()[-1] == int(res.next_timesteps[-2]) and res.next_timesteps[-1] == -1
    again = ddim_sample(model, sched, cond, steps=6, generator=torch.Generator().manual_seed(1))
    assert torch.equal(again.x0, res.x0)  # seeded


def test_logprob_recomputation_equals_sampling_value(setup):
    model, sched = setup
    cond = torch.randn(4, 30, 35)
    res = ddim_sample(model, sched, cond, steps=8, eta=1.0, guidance_weight=2.0, generator=torch.Generator().manual_seed(2))
    for j in range(8):
        lp = step_logprob(model, sched, res.latents[:, j], res.latents[:, j + 1], int(res.timesteps[j]),
                          int(res.next_timesteps[j]), cond, eta=1.0, guidance_weight=2.0)
        assert lp.shape == (4, 30) and lp.requires_grad
        torch.testing.assert_close(lp, res.log_probs[:, j], atol=1e-5, rtol=0)
    # per-sample timesteps (the learner may shuffle steps per sample) give the same values
    j = torch.tensor([0, 3, 5, 7])
    lp = step_logprob(model, sched, res.latents[torch.arange(4), j], res.latents[torch.arange(4), j + 1],
                      res.timesteps[j], res.next_timesteps[j], cond, eta=1.0, guidance_weight=2.0)
    torch.testing.assert_close(lp, res.log_probs[torch.arange(4), j], atol=1e-5, rtol=0)


def test_stepwise_backward_equals_joint_backward(setup):
    """Accumulating gradients one denoising step at a time (flat memory) gives the full-chain gradient."""
    model, sched = setup
    cond = torch.randn(2, 30, 35)
    res = ddim_sample(model, sched, cond, steps=4, generator=torch.Generator().manual_seed(3))
    adv = torch.tensor([1.0, -0.5])[:, None]
    terms = lambda j: -(adv * step_logprob(model, sched, res.latents[:, j], res.latents[:, j + 1],
                                           int(res.timesteps[j]), int(res.next_timesteps[j]), cond)).mean()
    model.zero_grad()
    for j in range(3):
        terms(j).backward()
    stepwise = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    sum(terms(j) for j in range(3)).backward()
    for a, p in zip(stepwise, model.parameters()):
        torch.testing.assert_close(a, p.grad, atol=1e-6, rtol=1e-4)


def test_eta_zero_is_deterministic_given_noise(setup):
    model, sched = setup
    cond, noise = torch.randn(1, 30, 35), torch.randn(1, 30, 151)
    a = ddim_sample(model, sched, cond, steps=5, eta=0.0, noise=noise, generator=torch.Generator().manual_seed(4))
    b = ddim_sample(model, sched, cond, steps=5, eta=0.0, noise=noise, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(a.x0, b.x0)


def test_step_mean_matches_hand_formula(setup):
    model, sched = setup
    x, cond = torch.randn(2, 30, 151), torch.randn(2, 30, 35)
    mean, sigma, x0 = step_mean(model, sched, x, 500, 480, cond, eta=1.0, guidance_weight=2.0)
    a, an = sched.alphas_cumprod[500].item(), sched.alphas_cumprod[480].item()
    eps = (x - math.sqrt(a) * x0) / math.sqrt(1 - a)
    s = math.sqrt((1 - a / an) * (1 - an) / (1 - a))
    torch.testing.assert_close(sigma.flatten(), torch.full((2,), s), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(mean, math.sqrt(an) * x0 + math.sqrt(1 - an - s * s) * eps, rtol=1e-4, atol=1e-5)


def test_edge_loss_terms_and_weights():
    torch.manual_seed(0)
    poses = torch.randn(2, 20, 24, 3) * 0.3
    trans = torch.cumsum(torch.randn(2, 20, 3) * 0.02, dim=1)
    x0 = motion_to_features(poses, trans)
    terms = edge_loss_terms(x0, x0)
    assert all(v.item() == pytest.approx(0.0, abs=1e-10) for k, v in terms.items() if k != "foot")
    # a pure root offset moves every joint by the same amount: FK loss = offset²/3 per coordinate average
    shifted = x0.clone()
    shifted[..., 4] += 0.3
    terms = edge_loss_terms(shifted, x0)
    assert terms["fk"].item() == pytest.approx(0.09 / 3, rel=1e-5)
    assert terms["simple"].item() == pytest.approx(0.09 / 151, rel=1e-5)
    assert terms["velocity"].item() == pytest.approx(0.0, abs=1e-10)
    total, weighted = edge_loss(shifted, x0)
    assert total.item() == pytest.approx(sum(LOSS_WEIGHTS[k] * terms[k].item() for k in terms), rel=1e-5)
    # foot term: feet moving while the model predicts contact (> 0.95) are penalised
    still = motion_to_features(poses[:, :1].expand(-1, 20, -1, -1), torch.zeros(2, 20, 3))
    moving = still.clone()
    moving[..., :4] = 1.0
    moving[:, :, 4] = torch.arange(20.0) * 0.1  # root slides 10 cm per frame
    t = edge_loss_terms(moving, still)
    # v = 0.1 m on x for 19 of 20 frames, all four feet: mean over (B, T, 4, 3) of v² = 0.01·19/20/3
    assert t["foot"].item() == pytest.approx(0.01 * 19 / 20 / 3, rel=1e-4)


def test_per_window_loss_weights():
    """weights=None is the plain mean; weights scale each window's terms, so a zero weight removes a window."""
    torch.manual_seed(1)
    x0 = motion_to_features(torch.randn(2, 12, 24, 3) * 0.3, torch.zeros(2, 12, 3))
    pred = x0.clone()
    pred[1] += 0.2  # only window 1 is wrong
    plain = edge_loss_terms(pred, x0)
    ones = edge_loss_terms(pred, x0, weights=torch.ones(2))
    only_right = edge_loss_terms(pred, x0, weights=torch.tensor([2.0, 0.0]))
    doubled = edge_loss_terms(pred, x0, weights=torch.tensor([0.0, 2.0]))
    for k in ("simple", "fk"):
        assert ones[k].item() == pytest.approx(plain[k].item(), rel=1e-6)
        assert only_right[k].item() == pytest.approx(0.0, abs=1e-10)
        assert doubled[k].item() == pytest.approx(2 * plain[k].item(), rel=1e-5)
    # simple: window 1 is off by 0.2 in every one of 151 dims -> per-window 0.04, batch mean 0.02
    assert plain["simple"].item() == pytest.approx(0.02, rel=1e-5)


def test_min_snr_weights():
    from dance_rl.diffusion.losses import min_snr_weights
    from dance_rl.diffusion.schedule import NoiseSchedule

    ab = NoiseSchedule(1000).alphas_cumprod
    everything = min_snr_weights(ab, torch.arange(1000), 5.0)
    assert everything.mean().item() == pytest.approx(1.0, rel=1e-5)  # normalised over all levels
    w = min_snr_weights(ab, torch.tensor([0, 1, 500, 999]), 5.0)
    assert w[0] == w[1] == everything.max()  # low noise: SNR > gamma, capped
    snr500 = (ab[500] / (1 - ab[500])).item()
    assert snr500 < 5.0 and w[2].item() == pytest.approx(snr500 / 5.0 * w[0].item(), rel=1e-4)
    assert w[3].item() < 1e-3 * w[0].item()  # pure noise: almost no weight
    # a larger gamma puts relatively more weight on the low-noise levels
    assert min_snr_weights(ab, torch.tensor([0]), 20.0) > w[0]
