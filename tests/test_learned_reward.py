"""The learned reward (E3D2): noise-ranked demonstrations, the reward network, its checkpoint, registry and actor."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from dance_rl.data import demo
from dance_rl.errors import UserError
from dance_rl.rewards.batch import MotionBatch
from dance_rl.rewards.ranked_demos import latent_noise_hook, pair_accuracy, sample_levels
from dance_rl.rewards.reward_net import RewardNet, RewardNetSpec, load_reward_model, save_reward_model

SMALL = RewardNetSpec(hidden=16, dilations=(1, 2))


@pytest.fixture(scope="module")
def clips():
    """Four real 5-s mocap clips (poses, trans) and a music-like (T, 35) array per clip."""
    out = []
    for i, name in enumerate(("dance_a", "dance_b", "walk", "punch")):
        p, t = demo.clip_motion(demo.source_clip(name), seconds=5.0)
        out.append((p, t, np.random.default_rng(i).standard_normal((p.shape[0], 35)).astype(np.float32)))
    return out


def _batch(clips, music=True):
    return MotionBatch(np.stack([c[0] for c in clips]), np.stack([c[1] for c in clips]), fps=30.0,
                       music=np.stack([c[2] for c in clips]) if music else None)


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    net = RewardNet(SMALL)
    path = tmp_path / "rm.pt"
    save_reward_model(path, net, levels=["real", "eps=0.02"], train={"steps": 0}, metrics={})
    return path, net


def test_latent_noise_hook_adds_scaled_noise_per_step():
    """Extra noise of std ε·√(1 − ᾱ_next); half of it slow (lag-1 autocorrelation ≈ 1/2), or all white."""
    from dance_rl.diffusion.schedule import NoiseSchedule

    sched = NoiseSchedule(1000)
    t, t_next = sched.ddim_timesteps(10)[5]
    expected = 0.5 * math.sqrt(1 - float(sched.alphas_cumprod[t_next]))
    x = torch.zeros(64, 150, 151)
    for slow, corr in ((15.0, 0.5), (0.0, 0.0)):
        added = latent_noise_hook(sched, 10, 0.5, torch.Generator().manual_seed(0), slow_frames=slow)(x, t)
        assert abs(float(added.std()) - expected) / expected < 0.05
        lag1 = float((added[:, 1:] * added[:, :-1]).mean() / added.var())
        assert abs(lag1 - corr) < 0.05, (slow, lag1)
    assert torch.equal(x, torch.zeros_like(x))  # input untouched


def test_sample_levels_are_paired_and_diverge_with_eps(one_torch_thread):
    from dance_rl.diffusion.model import DanceDecoder, ModelSpec
    from dance_rl.diffusion.sampler import ddim_sample
    from dance_rl.diffusion.schedule import NoiseSchedule
    from dance_rl.motion.representation import Normalizer

    torch.manual_seed(0)
    spec = ModelSpec(seq_len=20, latent_dim=16, ff_size=32, num_layers=1, num_heads=2, dropout=0.0)
    model = DanceDecoder(spec).eval()
    norm = Normalizer(torch.full((151,), -1.0), torch.full((151,), 1.0))
    sched = NoiseSchedule(1000)
    music = np.random.default_rng(0).standard_normal((3, 20, 35)).astype(np.float32)
    out = sample_levels(model, norm, sched, music, (0.0, 0.25, 1.0), steps=6, seed=3, batch_size=2)
    assert out.shape == (3, 3, 20, 151)
    plain = ddim_sample(model, sched, torch.as_tensor(music[:2]), steps=6, generator=torch.Generator().manual_seed(
        3 * 1_000_003), return_chain=False).x0
    np.testing.assert_allclose(out[0, :2], plain.numpy(), atol=1e-5)  # ε = 0 is the base sampler, same noise
    d_small, d_big = np.abs(out[1] - out[0]).mean(), np.abs(out[2] - out[0]).mean()
    assert 0 < d_small < d_big


def test_pair_accuracy_table():
    scores = np.array([[3.0, 3.0, 1.0], [2.0, 2.5, 2.0], [1.0, 0.0, 3.0]])
    acc = pair_accuracy(scores)
    assert acc[0, 1] == pytest.approx(2 / 3) and acc[0, 2] == pytest.approx(2 / 3) and acc[1, 2] == pytest.approx(2 / 3)
    assert np.isnan(acc[1, 0]) and np.isnan(acc[0, 0])


def test_reward_ignores_heading_and_per_frame_averages_to_per_sample(clips, checkpoint):
    from dance_rl.motion.rotations import axis_angle_to_quat, quat_mul, quat_to_axis_angle
    from dance_rl.rewards.learned import score_net

    _, net = checkpoint
    batch = _batch(clips)
    res = score_net(net, batch)
    np.testing.assert_allclose(res["per_frame"].mean(axis=1), res["per_sample"], rtol=1e-9)
    yaw = 1.1  # turn every clip about the vertical axis through the origin
    rot = np.array([[math.cos(yaw), -math.sin(yaw), 0], [math.sin(yaw), math.cos(yaw), 0], [0, 0, 1]], np.float32)
    poses = batch.poses.copy()
    q = quat_mul(axis_angle_to_quat(torch.tensor([0.0, 0.0, yaw])).expand(poses[..., 0, :].shape[:-1] + (4,)),
                 axis_angle_to_quat(torch.from_numpy(poses[..., 0, :])))
    poses[..., 0, :] = quat_to_axis_angle(q).numpy()
    turned = MotionBatch(poses, batch.trans @ rot.T, fps=30.0, music=batch.music)
    np.testing.assert_allclose(score_net(net, turned)["per_sample"], res["per_sample"], atol=2e-4)
    other_music = MotionBatch(batch.poses, batch.trans, fps=30.0, music=batch.music[::-1].copy())
    assert not np.allclose(score_net(net, other_music)["per_sample"], res["per_sample"])  # music is an input


def test_registry_reward_from_checkpoint(clips, checkpoint):
    from dance_rl.rewards.composite import score
    from dance_rl.rewards.learned import score_net

    path, net = checkpoint
    ckpt = torch.load(path, weights_only=True)  # plain tensors and python values only
    assert ckpt["format"] == "dance_rl.reward_model.v1" and set(ckpt["normalizer"]) == {"mean", "std"}
    batch = _batch(clips)
    res = score(batch, {"learned": 2.0}, params={"learned": {"checkpoint": str(path)}})
    direct = score_net(load_reward_model(path).net, batch)["per_sample"]
    np.testing.assert_allclose(res["components"]["learned"]["per_sample"], direct, rtol=1e-6)
    np.testing.assert_allclose(res["per_sample"], 2 * direct, rtol=1e-6)
    np.testing.assert_allclose(direct, score_net(net, batch)["per_sample"], rtol=1e-5)
    with pytest.raises(UserError, match="no music"):
        score(_batch(clips, music=False), {"learned": 1.0}, params={"learned": {"checkpoint": str(path)}})
    with pytest.raises(UserError, match="not found"):
        score(batch, {"learned": 1.0}, params={"learned": {"checkpoint": str(path) + ".missing"}})
    with pytest.raises(UserError, match="no checkpoint"):
        score(batch, {"learned": 1.0})
    bad = path.with_name("bad.pt")
    torch.save({"format": "something else"}, bad)
    with pytest.raises(UserError, match="not a dance_rl reward-model"):
        load_reward_model(bad)


def test_config_requires_checkpoint_with_weight(tmp_path):
    from dance_rl.config import apply_dotted, load_config
    from dance_rl.rewards.composite import weights_from_config

    with pytest.raises(UserError, match="rewards.learned.checkpoint"):
        load_config(None, ["rewards.learned.weight=0.5"])
    cfg = load_config(None, ["rewards.learned.weight=0.5", f"rewards.learned.checkpoint={tmp_path / 'rm.pt'}"])
    assert weights_from_config(cfg.rewards)["learned"] == 0.5
    assert apply_dotted(cfg, {"rewards.learned.weight": 0.2}).rewards.learned.weight == 0.2  # how Tune sweeps it


def test_reward_worker_passes_music(clips, checkpoint):
    from dance_rl.cluster.reward_actor import RewardWorker
    from dance_rl.motion.representation import motion_to_features
    from dance_rl.rewards.learned import score_net

    path, net = checkpoint
    batch = _batch(clips)
    feats = motion_to_features(torch.from_numpy(batch.poses), torch.from_numpy(batch.trans)).numpy()
    worker = RewardWorker({"learned": 1.0}, 30.0, {"learned": {"checkpoint": str(path)}})
    out = worker.score(0, {"features": feats, "music": batch.music, "keys": list("abcd")})
    expect = score_net(net, MotionBatch.from_features(feats, music=batch.music))["per_sample"]
    np.testing.assert_allclose(out["components"]["learned"]["per_sample"], expect, rtol=1e-5)


def test_bradley_terry_training_learns_a_ranking(clips, one_torch_thread):
    """Ranks = clean, jitter 0.03 rad, jitter 0.08 rad on real mocap: the net must learn to order unseen windows."""
    from dance_rl.reward_model import train_reward_net
    from dance_rl.rewards.corruptions import corrupt
    from dance_rl.rewards.ranked_demos import score_inputs
    from dance_rl.rewards.reward_net import build_inputs

    def ranked(offsets, seed):
        rows = []
        for sev in (0.0, 0.03, 0.08):
            p, t, m = [], [], []
            for off in offsets:
                for cp, ct, cm in clips:
                    p.append(np.roll(cp, off, axis=0))
                    t.append(np.roll(ct, off, axis=0))
                    m.append(np.roll(cm, off, axis=0))
            jp, jt = corrupt(np.stack(p), np.stack(t), 30.0, "jitter", sev, seed=seed)
            b = MotionBatch(jp, jt, fps=30.0, music=np.stack(m))
            rows.append(build_inputs(b.joints, b.music, 30.0, SMALL))
        return torch.stack(rows)

    x_train, x_val = ranked((0, 40, 80), seed=1), ranked((20, 60), seed=2)
    before = np.nanmean(pair_accuracy(score_inputs(RewardNet(SMALL), x_val)))
    net, history = train_reward_net(x_train, x_val, SMALL, steps=60, batch=8, lr=3e-3, eval_every=30)
    acc = pair_accuracy(score_inputs(net, x_val))
    assert np.nanmin(acc) >= 0.9, (before, acc, history)
    assert history[-1]["val_acc"] >= 0.9 and history[-1]["loss"] < history[0]["loss"]


@pytest.mark.slow
def test_cli_train_then_eval(tiny_base, tmp_path, capsys):
    from dance_rl.errors import cli_main
    from dance_rl.reward_model import main

    out = tmp_path / "rm.pt"
    common = ["--base", tiny_base["checkpoint"], "--no-progress", "--demos-dir", str(tmp_path / "demos"),
              "--set", f"data.cache_dir={tiny_base['cache_dir']}", "--set", "data.max_clips=1"]
    args = ["train", "--out", str(out), "--windows", "3", "--val-windows", "2", "--ddim-steps", "2", "--steps", "4",
            "--batch", "2", "--hidden", "8", "--threads", "1"] + common
    assert cli_main(main, args) == 0
    ckpt = torch.load(out, weights_only=True)
    assert ckpt["train"]["ddim_steps"] == 2 and len(ckpt["levels"]) == 6
    assert len(ckpt["metrics"]["val_pair_accuracy"]) == 6
    assert list((tmp_path / "rm_tb").glob("events.out.tfevents.*"))
    assert cli_main(main, ["eval", "--out", str(out), "--json"] + common) == 0
    report = json.loads((tmp_path / "rm.eval.json").read_text())
    assert set(report["validity"]) == {"slide", "float", "sink", "jitter", "freeze", "self_penetrate"}
    assert len(report["physics"]["jerk"]) == 6
    capsys.readouterr()
    assert cli_main(main, args) == 2  # --out exists
    assert "already exists" in capsys.readouterr().err
    assert cli_main(main, ["train", "--out", str(tmp_path / "x.pt"), "--steps", "0"] + common) == 2
    assert not (tmp_path / "x.pt").exists()
