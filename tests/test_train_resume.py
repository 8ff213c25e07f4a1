"""`python -m dance_rl.train`: a killed driver resumes from its last checkpoint with the same iteration count,
optimiser state and weights as an uninterrupted run; CLI errors."""
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.conftest import REPO, smoke_overrides

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def _train(tiny_base, out, *extra, resume=False, wait=True):
    args = [sys.executable, "-m", "dance_rl.train", "--config", str(REPO / "tune_configs" / "smoke.yaml"),
            "--out", str(out)]
    for o in smoke_overrides(tiny_base, "rl.iterations=3", "rl.checkpoint_every=1", *extra):
        args += ["--set", o]
    if resume:
        args.append("--resume")
    env = {**os.environ, "RAY_ADDRESS": ""}
    if wait:
        return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    return subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def _ckpt(out, it):
    return torch.load(out / "checkpoints" / f"iter_{it:05d}.pt", weights_only=True)


def test_killed_driver_resumes_like_an_uninterrupted_run(tiny_base, tmp_path):
    full = _train(tiny_base, tmp_path / "full", "rl.render_every=2")
    assert full.returncode == 0, full.stderr[-2000:]
    # periodic rendered clips (every 2 iterations and at the end) and their frame strips in TensorBoard
    clips = sorted(p.stem for p in (tmp_path / "full" / "clips").glob("iter_*.*"))
    assert clips == ["iter_2", "iter_3"]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    ea = EventAccumulator(str(tmp_path / "full" / "tb"))
    ea.Reload()
    assert [e.step for e in ea.Images("clip/frames")] == [2, 3]
    # kill -9 the driver (and its local Ray) after the first checkpoint appears
    proc = _train(tiny_base, tmp_path / "killed", wait=False)
    first = tmp_path / "killed" / "checkpoints" / "iter_00001.pt"
    deadline = time.time() + 300
    while not first.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert first.exists()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = sorted(p.name for p in (tmp_path / "killed" / "checkpoints").glob("iter_*.pt"))
    assert done and done[-1] != "iter_00003.pt"
    resumed = _train(tiny_base, tmp_path / "killed", resume=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed from" in resumed.stdout
    a, b = _ckpt(tmp_path / "full", 3), _ckpt(tmp_path / "killed", 3)
    assert a["iteration"] == b["iteration"] == 3 and b["learner"]["version"] == 3
    steps = [s["step"] for s in b["learner"]["optimizer"]["state"].values()]
    assert all(float(s) == 3 for s in steps)  # optimiser state carried over: 3 AdamW steps in total
    for k in a["model"]:
        assert torch.allclose(a["model"][k], b["model"][k], atol=1e-4), k
    assert list((tmp_path / "killed" / "tb").glob("events.out.tfevents.*"))


def test_train_cli_errors(tiny_base, tmp_path):
    r = subprocess.run([sys.executable, "-m", "dance_rl.train", "--set", "rl.lr=oops", "--out", str(tmp_path / "x")],
                       cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith("error: config key 'rl.lr'")
    assert not (tmp_path / "x").exists()
    r = subprocess.run([sys.executable, "-m", "dance_rl.train", "--resume"], cwd=REPO, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2 and "--resume needs --out" in r.stderr
    r = subprocess.run([sys.executable, "-m", "dance_rl.train", "--config", str(REPO / "tune_configs" / "smoke.yaml"),
                        "--out", str(tmp_path / "y"), *[a for o in smoke_overrides(tiny_base, f"rl.music={tmp_path / 'nope'}")
                                                       for a in ("--set", o)]],
                       cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith("error: rl.music "), r.stderr[-2000:]
    assert "not a folder" in r.stderr and "Traceback" not in r.stderr and not (tmp_path / "y").exists()
