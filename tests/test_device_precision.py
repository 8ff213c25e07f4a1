"""Device and mixed-precision plumbing on the CPU: device strings, precision resolution, `--device cuda` without CUDA
exits 2 with one line and no output, and bf16 autocast keeps sampling and log-prob recomputation consistent (the drift
bound the learner relies on) in the sampler, in micro-batches and in the learner's update."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from dance_rl import generate
from dance_rl import pretrain as pretrain_cli
from dance_rl.config import load_config
from dance_rl.diffusion.checkpoint import save_checkpoint
from dance_rl.diffusion.device import autocast, grad_scaler, resolve_device, resolve_precision
from dance_rl.diffusion.model import DanceDecoder, ModelSpec
from dance_rl.diffusion.sampler import ddim_sample, step_logprob
from dance_rl.diffusion.schedule import NoiseSchedule
from dance_rl.errors import UserError, cli_main
from dance_rl.motion.representation import Normalizer
from dance_rl.rl.rollout import Rollout
from dance_rl.rl.update import policy_update

pytestmark = pytest.mark.usefixtures("one_torch_thread")
no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")

# Same precision for sampling and recomputation: identical kernels on identical inputs, so the drift is 0 on the CPU
# (measured: 0.0 for whole batches and micro-batches of 1). GPU kernels may pick other tilings per batch size; the
# learner's train/logp_drift reports it. Recomputing in another precision drifts by ~4e-4 (mean |Δlog p|, 10 steps,
# random tiny model), which this bound must catch.
DRIFT_BOUND = 1e-5


def tiny_model(seq_len=30):
    torch.manual_seed(0)
    return DanceDecoder(ModelSpec(latent_dim=32, ff_size=64, num_layers=1, num_heads=2, dropout=0.0,
                                  seq_len=seq_len)).eval()


def test_device_strings_and_precision_resolution():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    for bad in ("gpu", "cuda:x", "", "CPU"):
        with pytest.raises(UserError, match="not a device"):
            resolve_device(bad)
    assert resolve_precision("auto", "cpu") == "off"
    assert resolve_precision("bf16", "cpu") == "bf16"
    with pytest.raises(UserError, match="fp16 needs a CUDA device"):
        resolve_precision("fp16", "cpu")
    assert not grad_scaler("cpu", "bf16").is_enabled()
    with autocast("cpu", "bf16"):
        assert torch.nn.functional.linear(torch.ones(2, 3), torch.ones(4, 3)).dtype == torch.bfloat16
    with autocast("cpu", "off"):
        assert torch.nn.functional.linear(torch.ones(2, 3), torch.ones(4, 3)).dtype == torch.float32
    with pytest.raises(UserError, match="pretrain.device"):
        load_config(None, ["pretrain.device=tpu"])
    assert load_config(None, ["cluster.device=cuda:1"]).cluster.device == "cuda:1"
    assert load_config(None, ["pretrain.precision=off"]).pretrain.precision == "off"  # not YAML false


@no_cuda
def test_cuda_without_cuda_exits_2_with_one_line(tmp_path, capsys):
    with pytest.raises(UserError, match="no usable CUDA GPU"):
        resolve_device("cuda:0")
    out = tmp_path / "base.pt"
    assert cli_main(pretrain_cli.main, ["--out", str(out), "--device", "cuda", "--steps", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--device" in err[0] and "cuda" in err[0]
    assert not out.exists() and not (tmp_path / "base_tb").exists()

    ck, song = tmp_path / "ck.pt", tmp_path / "song.wav"
    save_checkpoint(ck, model=tiny_model(150), ema=None, optimizer=None,
                    normalizer=Normalizer(-torch.ones(151), torch.ones(151)), config={}, step=0)
    sf.write(song, 0.1 * np.sin(np.arange(6 * 22050) / 10.0).astype(np.float32), 22050)
    gen_out = tmp_path / "gen"
    assert cli_main(generate.main, ["--checkpoint", str(ck), "--audio", str(song), "--out", str(gen_out),
                                    "--device", "cuda:0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--device" in err[0]
    assert not gen_out.exists()


def _sample(model, precision, cond, steps=10):
    with torch.no_grad(), autocast("cpu", precision):
        return ddim_sample(model, NoiseSchedule(1000), cond, steps=steps, guidance_weight=2.0,
                           generator=torch.Generator().manual_seed(0))


def _recompute_drift(model, res, cond, precision, micro_batch):
    schedule, n, drifts = NoiseSchedule(1000), cond.shape[0], []
    for j in range(len(res.timesteps) - 1):  # the last step is deterministic and skipped by the learner
        t, tn = int(res.timesteps[j]), int(res.next_timesteps[j])
        parts = []
        for lo in range(0, n, micro_batch):
            sl = slice(lo, lo + micro_batch)
            with torch.no_grad(), autocast("cpu", precision):
                parts.append(step_logprob(model, schedule, res.latents[sl, j], res.latents[sl, j + 1], t, tn,
                                          cond[sl], guidance_weight=2.0).float())
        drifts.append((torch.cat(parts) - res.log_probs[:, j]).abs())
    return float(torch.stack(drifts).mean())


def test_bf16_sampling_and_recomputation_agree_within_the_drift_bound():
    model, cond = tiny_model(), torch.randn(4, 30, 35, generator=torch.Generator().manual_seed(1))
    res = _sample(model, "bf16", cond)
    assert res.latents.dtype == torch.float32 and res.log_probs.dtype == torch.float32  # Gaussian math in fp32
    assert torch.isfinite(res.log_probs).all()
    assert _recompute_drift(model, res, cond, "bf16", micro_batch=4) <= DRIFT_BOUND
    assert _recompute_drift(model, res, cond, "bf16", micro_batch=1) <= DRIFT_BOUND
    mismatch = _recompute_drift(model, res, cond, "off", micro_batch=4)
    assert mismatch > 10 * DRIFT_BOUND, f"bf16 sampling vs fp32 recomputation should drift (got {mismatch:g})"
    fp32 = _sample(model, "off", cond)
    assert (fp32.x0 - res.x0).abs().max() < 0.1  # bf16 changes the sample only slightly


def test_learner_update_under_bf16_autocast():
    model, cond = tiny_model(), torch.randn(4, 30, 35, generator=torch.Generator().manual_seed(2))
    res = _sample(model, "bf16", cond, steps=6)
    rollout = Rollout(keys=["a", "a", "b", "b"], cond=cond, latents=res.latents, timesteps=res.timesteps,
                      next_timesteps=res.next_timesteps, log_probs=res.log_probs,
                      guidance_weights=res.guidance_weights, version=0)
    adv = torch.randn(4, 30, generator=torch.Generator().manual_seed(3))
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    stats = policy_update(model, NoiseSchedule(1000), opt, rollout, adv, algorithm="ppo_clip", precision="bf16",
                          micro_batch=2)
    assert stats["logp_drift"] <= DRIFT_BOUND and stats["approx_kl"] <= DRIFT_BOUND
    assert np.isfinite(stats["grad_norm"]) and stats["grad_norm"] > 0
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters()))
    assert all(p.dtype == torch.float32 for p in model.parameters())  # master weights stay fp32
    with pytest.raises(ValueError, match="GradScaler"):
        policy_update(model, NoiseSchedule(1000), opt, rollout, adv, precision="fp16")


class RandomWindows(torch.utils.data.Dataset):
    normalizer = Normalizer(-torch.ones(151), torch.ones(151))

    def __init__(self):
        g = torch.Generator().manual_seed(1)
        self.x, self.music = torch.rand(16, 30, 151, generator=g) * 2 - 1, torch.randn(16, 30, 35, generator=g)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.music[i], str(i)


def test_pretrain_runs_under_bf16_autocast(tmp_path):
    from dance_rl.diffusion.checkpoint import load_checkpoint
    from dance_rl.diffusion.trainer import pretrain

    over = ["model.latent_dim=32", "model.ff_size=48", "model.num_layers=1", "model.num_heads=4", "model.seq_len=30",
            "pretrain.batch_size=8", "pretrain.max_minutes=0", "pretrain.device=cpu"]
    runs = {}
    for prec in ("off", "bf16"):
        res = pretrain(load_config(None, over + [f"pretrain.precision={prec}"]), tmp_path / f"{prec}.pt",
                       dataset=RandomWindows(), progress=False, steps=10)
        runs[prec] = (res["history"][-1]["loss"], load_checkpoint(tmp_path / f"{prec}.pt"))
    loss_off, ck_off = runs["off"]
    loss_bf16, ck_bf16 = runs["bf16"]
    assert np.isfinite(loss_bf16) and abs(loss_bf16 - loss_off) < 0.05 * loss_off  # same batches, same noise
    assert all(v.dtype == torch.float32 for v in ck_bf16["model"].values() if v.is_floating_point())
    assert any(not torch.equal(ck_off["model"][k], ck_bf16["model"][k]) for k in ck_off["model"])  # bf16 was used


def test_grad_scaler_path_unscales_before_clipping():
    """fp16's GradScaler path (CUDA-only in real runs) exercised on the CPU: with the scaler enabled, the gradient
    norm the learner clips and reports is the unscaled one, and the update equals the unscaled update."""
    model, cond = tiny_model(), torch.randn(4, 30, 35, generator=torch.Generator().manual_seed(2))
    res = _sample(model, "off", cond, steps=4)
    rollout = Rollout(keys=["a", "a", "b", "b"], cond=cond, latents=res.latents, timesteps=res.timesteps,
                      next_timesteps=res.next_timesteps, log_probs=res.log_probs,
                      guidance_weights=res.guidance_weights, version=0)
    adv = torch.randn(4, 30, generator=torch.Generator().manual_seed(3))
    out = {}
    for scaled in (False, True):
        m = tiny_model()
        opt = torch.optim.SGD(m.parameters(), lr=0.1)
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 12, enabled=True) if scaled else None
        stats = policy_update(m, NoiseSchedule(1000), opt, rollout, adv, scaler=scaler, grad_clip=1e-3)
        out[scaled] = (stats["grad_norm"], [p.detach().clone() for p in m.parameters()])
    assert out[True][0] == pytest.approx(out[False][0], rel=1e-4)
    for a, b in zip(out[True][1], out[False][1]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-7)


def test_sampler_actor_samples_under_the_configured_precision():
    from dance_rl.cluster.common import state_to_numpy
    from dance_rl.cluster.sampler_actor import SamplerWorker

    model = tiny_model()
    norm = Normalizer(-torch.ones(151), torch.ones(151)).state_dict()
    weights = (0, state_to_numpy(model.state_dict()))
    cond = torch.randn(2, 30, 35, generator=torch.Generator().manual_seed(4)).numpy()
    out = {}
    for prec in ("off", "bf16"):
        w = SamplerWorker(model.spec.to_dict(), norm, steps=4, eta=1.0, guidance_weight=2.0, device="cpu",
                          precision=prec)
        assert w.precision == prec and w.device.type == "cpu"
        out[prec] = w.sample(0, 0, cond, ["a", "b"], 2, weights)[1]
    assert out["bf16"].log_probs.dtype == torch.float32
    assert not torch.equal(out["off"].latents, out["bf16"].latents)  # bf16 really ran
    assert (out["off"].latents - out["bf16"].latents).abs().max() < 0.1
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="cluster.device"):
            SamplerWorker(model.spec.to_dict(), norm, steps=4, eta=1.0, guidance_weight=2.0, device="cuda")


def test_generate_runs_with_device_cpu_and_bf16(tmp_path):
    ck, song = tmp_path / "ck.pt", tmp_path / "song.wav"
    save_checkpoint(ck, model=tiny_model(150), ema=None, optimizer=None,
                    normalizer=Normalizer(-torch.ones(151), torch.ones(151)), config={}, step=0)
    t = np.arange(6 * 22050) / 22050
    sf.write(song, (0.5 * np.sin(2 * np.pi * 440 * t) * np.exp(-20 * (t % 0.5))).astype(np.float32), 22050)
    out = tmp_path / "gen"
    assert cli_main(generate.main, ["--checkpoint", str(ck), "--audio", str(song), "--out", str(out), "--steps", "2",
                                    "--device", "cpu", "--precision", "bf16"]) == 0
    assert (out / "song.npz").is_file() and (out / "song.pkl").is_file()
