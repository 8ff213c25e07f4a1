"""Data-parallel pretraining on Ray Train (2 CPU workers, gloo): same parameters as the single-process loop with the
same global batch, and a worker killed mid-run (SIGKILL) is replaced and the run resumes from its last checkpoint."""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest
import ray
import ray.cloudpickle
import torch
from torch.utils.data import Dataset

from dance_rl.config import load_config
from dance_rl.diffusion.checkpoint import load_checkpoint
from dance_rl.diffusion.trainer import global_batch_indices, pretrain
from dance_rl.motion.representation import Normalizer

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import the tests folder

TINY = ["model.latent_dim=32", "model.ff_size=48", "model.num_layers=1", "model.num_heads=4", "model.seq_len=30",
        "model.dropout=0.0", "pretrain.batch_size=8", "pretrain.lr=2e-3", "pretrain.max_minutes=0",
        "pretrain.checkpoint_every=3", "pretrain.max_failures=1", "diffusion.timesteps=100"]
STEPS = 6
# Two workers sum their gradients in a different order than one worker's batch mean: float32 rounding, then six
# AdamW steps, whose first steps move each parameter by about ±lr whatever the gradient's size, so near-zero gradients
# turn rounding into up to ~1% of lr (measured 2.2e-5 at lr 2e-3). A wrong batch split moves parameters by ~lr.
ATOL = 1e-4  # lr / 20


class RandomWindows(Dataset):
    """24 random normalised 'motions' with random 'music' (parameter equality needs no real data)."""

    def __init__(self, n=24, frames=30):
        g = torch.Generator().manual_seed(1)
        self.x = torch.rand(n, frames, 151, generator=g) * 2 - 1
        self.music = torch.randn(n, frames, 35, generator=g)
        self.normalizer = Normalizer(torch.full((151,), -1.0), torch.full((151,), 1.0))

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.music[i], f"w{i}"


def kill_rank1_once(marker: str, at_step: int):
    """SIGKILL worker 1 after step `at_step`, once. It first waits 5 s: Ray Train's controller collects reported
    checkpoints when it polls the workers (every 2 s), and the test wants the step-3 checkpoint registered."""
    def on_step(rank, step):
        if rank == 1 and step == at_step and not os.path.exists(marker):
            Path(marker).touch()
            time.sleep(5.0)
            os.kill(os.getpid(), signal.SIGKILL)
    return on_step


def test_global_batch_indices_cover_each_epoch():
    seen = torch.cat([global_batch_indices(24, 8, 0, s) for s in range(3)])
    assert sorted(seen.tolist()) == list(range(24))
    assert not torch.equal(global_batch_indices(24, 8, 0, 3), global_batch_indices(24, 8, 0, 0))  # new epoch order


@pytest.mark.slow
@pytest.mark.ray
def test_two_gloo_workers_match_one_worker_and_survive_a_killed_worker(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    data = RandomWindows()
    cfg1 = load_config(None, TINY + ["pretrain.device=cpu"])
    single = pretrain(cfg1, tmp_path / "one.pt", dataset=data, progress=False, steps=STEPS)
    assert single["step"] == STEPS

    from dance_rl.cluster.pretrain_ray import pretrain_distributed

    cfg2 = load_config(None, TINY + ["pretrain.num_workers=2", f"pretrain.storage_path={tmp_path / 'ray'}"])
    marker = tmp_path / "killed"
    ray.init(address="local", num_cpus=3, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1"}})
    try:
        res = pretrain_distributed(cfg2, tmp_path / "two.pt", log_dir=tmp_path / "tb", steps=STEPS, dataset=data,
                                   on_step=kill_rank1_once(str(marker), at_step=4), run_name="ddp_test")
    finally:
        ray.shutdown()
    assert marker.exists(), "the worker was never killed"
    assert res["step"] == STEPS and res["resumed_from"] == 3  # restarted from the step-3 checkpoint, not from 0
    one, two = load_checkpoint(tmp_path / "one.pt"), load_checkpoint(tmp_path / "two.pt")
    assert two["step"] == STEPS
    worst = max(float((one["model"][k] - two["model"][k]).abs().max()) for k in one["model"])
    assert worst < ATOL, f"2-worker DDP differs from 1 worker by {worst:g}"
    worst_ema = max(float((one["ema"][k] - two["ema"][k]).abs().max()) for k in one["ema"])
    assert worst_ema < ATOL
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "tb").iterdir())  # rank 0 logged


def test_batch_must_split_over_workers(tmp_path, capsys):
    from dance_rl import pretrain as pretrain_cli
    from dance_rl.cluster.pretrain_ray import pretrain_distributed
    from dance_rl.errors import UserError, cli_main

    cfg = load_config(None, TINY + ["pretrain.num_workers=3"])
    with pytest.raises(UserError, match="batch_size"):
        pretrain_distributed(cfg, tmp_path / "x.pt", steps=2, dataset=RandomWindows())
    assert not (tmp_path / "x.pt").exists()
    out = str(tmp_path / "y.pt")
    assert cli_main(pretrain_cli.main, ["--out", out, "--num-workers", "3"]) == 2  # default batch 32
    assert cli_main(pretrain_cli.main, ["--out", out, "--num-workers", "2", "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "--num-workers" in err[0] and "--use-gpu" in err[1]
    assert not (tmp_path / "y.pt").exists()
