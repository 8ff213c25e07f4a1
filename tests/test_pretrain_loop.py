"""Pretraining loop and CLI on a tiny in-test dataset: loss goes down, checkpoints are complete and weights_only-
loadable, resume continues, EMA behaves, user mistakes exit 2 without output."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import Dataset

from dance_rl import pretrain as pretrain_cli
from dance_rl.config import load_config
from dance_rl.diffusion.checkpoint import FORMAT, load_checkpoint, load_model
from dance_rl.diffusion.ema import EMA, ema_decay_at
from dance_rl.diffusion.trainer import pretrain
from dance_rl.errors import cli_main
from dance_rl.motion.representation import Normalizer, motion_to_features
from dance_rl.motion.skeleton import UPRIGHT_ROOT_AA

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models run fastest on one thread

TINY = ["model.latent_dim=32", "model.ff_size=48", "model.num_layers=1", "model.num_heads=4", "model.seq_len=30",
        "model.dropout=0.0", "pretrain.batch_size=8", "pretrain.lr=2e-3", "pretrain.max_minutes=0",
        "pretrain.checkpoint_every=1000"]


class TinyDance(Dataset):
    """16 windows of a swaying upright body with matching 'music' (a sine at the sway frequency)."""

    def __init__(self, n=16, frames=30):
        g = torch.Generator().manual_seed(0)
        t = torch.arange(frames) / 30.0
        feats, music = [], []
        for i in range(n):
            f = 0.5 + torch.rand(1, generator=g).item()
            poses = torch.zeros(frames, 24, 3)
            poses[:, 0] = torch.tensor(UPRIGHT_ROOT_AA)
            poses[:, 16, 2] = poses[:, 17, 2] = 0.8 * torch.sin(2 * torch.pi * f * t)
            trans = torch.stack([0.1 * torch.sin(2 * torch.pi * f * t), torch.zeros(frames), torch.full((frames,), 0.9)], -1)
            feats.append(motion_to_features(poses, trans))
            music.append(torch.sin(2 * torch.pi * f * t)[:, None].expand(-1, 35).clone())
        self.raw = torch.stack(feats)
        self.music = torch.stack(music)
        self.normalizer = Normalizer.fit(self.raw)

    def __len__(self):
        return len(self.raw)

    def __getitem__(self, i):
        return self.normalizer.normalize(self.raw[i]), self.music[i], f"clip{i}"


def test_ema_update_and_warmup():
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    ema = EMA(a, 0.5)
    before = ema.model.weight.detach().clone()
    ema.update(b, 0.9)  # a per-step decay (pretraining's warm-up) overrides the constructor's
    torch.testing.assert_close(ema.model.weight, 0.9 * before + 0.1 * b.weight)
    before = ema.model.weight.detach().clone()
    ema.update(b)  # the constructor's decay (RL fine-tuning)
    torch.testing.assert_close(ema.model.weight, 0.5 * before + 0.5 * b.weight)
    assert not ema.model.weight.requires_grad and a.weight.requires_grad  # a frozen copy, the model untouched
    assert ema_decay_at(0, 0.999) == pytest.approx(0.1) and ema_decay_at(10**6, 0.999) == 0.999


def test_pretrain_lowers_loss_and_resumes(tmp_path):
    cfg = load_config(None, TINY)
    ds = TinyDance()
    out = tmp_path / "ck.pt"
    res = pretrain(cfg, out, dataset=ds, progress=False, steps=60, log_dir=tmp_path / "tb")
    hist = res["history"]
    assert res["step"] == 60 and hist[-1]["step"] == 60
    assert hist[-1]["loss"] < 0.5 * hist[0]["loss"]
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "tb").iterdir())
    ck = torch.load(out, weights_only=True)  # plain tensors and python values only
    assert ck["format"] == FORMAT and ck["step"] == 60
    assert set(ck) >= {"model", "ema", "optimizer", "normalizer", "config", "model_spec", "history"}
    assert ck["config"]["model"]["latent_dim"] == 32
    torch.testing.assert_close(ck["normalizer"]["data_min"], ds.normalizer.data_min)
    res2 = pretrain(cfg, out, dataset=ds, progress=False, steps=70, resume=True)
    assert res2["step"] == 70 and load_checkpoint(out)["step"] == 70
    assert len(res2["history"]) == 7  # history carried over: one entry per 10 steps
    model, norm, meta = load_model(out)
    assert meta["step"] == 70 and not model.training
    x = model(torch.zeros(1, 30, 151), torch.zeros(1, 30, 35), torch.tensor([5]))
    assert x.shape == (1, 30, 151)


def test_resume_with_a_different_model_is_refused(tmp_path):
    out = tmp_path / "ck.pt"
    pretrain(load_config(None, TINY), out, dataset=TinyDance(), progress=False, steps=2)
    with pytest.raises(Exception, match="--resume"):
        pretrain(load_config(None, TINY + ["model.latent_dim=48"]), out, dataset=TinyDance(), progress=False,
                 steps=3, resume=True)


def test_cli_errors_exit_2_without_output(tmp_path, capsys):
    existing = tmp_path / "exists.pt"
    existing.write_bytes(b"x")
    assert cli_main(pretrain_cli.main, ["--out", str(existing)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert cli_main(pretrain_cli.main, ["--data", "nonsense", "--out", str(tmp_path / "a.pt")]) == 2
    assert "data.source" in capsys.readouterr().err
    assert cli_main(pretrain_cli.main, ["--data", f"aistpp:{tmp_path / 'missing'}", "--out", str(tmp_path / "b.pt")]) == 2
    assert cli_main(pretrain_cli.main, ["--out", str(tmp_path / "c.pt"), "--set", "pretrain.lr=-1"]) == 2
    assert cli_main(pretrain_cli.main, ["--out", str(existing), "--resume"]) == 2  # not a checkpoint
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exists.pt"]
    with pytest.raises(SystemExit) as e:
        pretrain_cli.main(["--help"])
    assert e.value.code == 0


def test_default_demo_checkpoint_trains_once_then_reuses(tmp_path, monkeypatch):
    from dance_rl.diffusion import checkpoint, trainer
    monkeypatch.setattr(trainer, "make_training_dataset", lambda cfg: TinyDance())
    path = trainer.default_demo_checkpoint(tmp_path, progress=False, overrides=tuple(TINY) + ("pretrain.steps=3",))
    assert path == checkpoint.demo_checkpoint_path(tmp_path) and path.is_file()
    assert load_checkpoint(path)["step"] == 3
    monkeypatch.setattr(trainer, "pretrain", lambda *a, **k: pytest.fail("must reuse the cached model"))
    assert trainer.default_demo_checkpoint(tmp_path) == path


def test_lr_schedule_and_loss_weighting_follow_the_config():
    from dance_rl.diffusion.schedule import NoiseSchedule
    from dance_rl.diffusion.trainer import FINAL_LR_RATIO, WARMUP_STEPS, loss_weights, lr_at

    assert (load_config(None, []).pretrain.lr_schedule, load_config(None, []).pretrain.loss_weighting) == \
        ("cosine", "min_snr")  # the demo recipe (docs/results.md, "Base model: Min-SNR")
    p = load_config(None, ["pretrain.lr=1e-3", "pretrain.lr_schedule=cosine", "pretrain.loss_weighting=min_snr"]).pretrain
    assert lr_at(p, 0, 1000) == pytest.approx(1e-3 / WARMUP_STEPS, rel=0.01)
    assert lr_at(p, 500, 1000) == pytest.approx(1e-3 * (FINAL_LR_RATIO + 1) / 2, rel=1e-6)  # half-way down
    assert lr_at(p, 1000, 1000) == pytest.approx(1e-3 * FINAL_LR_RATIO, rel=1e-6)
    sched = NoiseSchedule(100)
    t = torch.tensor([1, 99])
    w = loss_weights(p, sched, t)
    assert w[0] > 1.0 > w[1]
    edge = load_config(None, ["pretrain.lr_schedule=constant", "pretrain.loss_weighting=uniform"]).pretrain
    assert lr_at(edge, 500, 1000) == pytest.approx(1e-3)
    assert loss_weights(edge, sched, t) is None
    paper = load_config(str(Path(__file__).parents[1] / "tune_configs" / "paper.yaml"), []).pretrain
    assert (paper.lr_schedule, paper.loss_weighting) == ("constant", "uniform")  # EDGE's recipe stays EDGE's
