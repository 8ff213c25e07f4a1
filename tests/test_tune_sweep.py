"""`python -m dance_rl.tune` end to end: smoke sweep (trials, report, TensorBoard files, checkpoints), resume after
an interrupted sweep, and a sweep on a simulated multi-node cluster with a `sim` node."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import ray

from dance_rl.config import load_config
from dance_rl.errors import UserError
from dance_rl.sweep import param_space, trial_config
from tests.conftest import REPO, smoke_overrides

pytestmark = [pytest.mark.ray, pytest.mark.slow]
SMOKE = REPO / "tune_configs" / "smoke.yaml"


def test_param_space_points_and_errors():
    cfg = load_config(REPO / "tune_configs" / "ablation.yaml")
    space = param_space(cfg)
    assert space["__point__"] == {"grid_search": [0, 1, 2, 3]}
    t = trial_config(cfg.to_dict(), {"__point__": 2})
    assert t.rewards.fgd.weight == 0.0 and t.rewards.imitation.weight == 0.51
    with pytest.raises(UserError, match="not a config key"):
        param_space(load_config(None, ["tune.search_space={rewards.nope.weight: {grid: [1]}}"]))
    with pytest.raises(UserError, match="expected one of"):
        param_space(load_config(None, ["tune.search_space={rewards.fgd.weight: {grid: [1], choice: [2]}}"]))


def _check_experiment(exp: Path, n_trials: int):
    report = (exp / "report.md").read_text()
    rows = json.loads((exp / "report.json").read_text())["rows"]
    assert len(rows) == n_trials and all(r["status"] == "ok" for r in rows)
    assert "★" in report and (exp / "pareto.png").stat().st_size > 1000
    assert "| **base model** |" in report and "Better than the base model?" in report
    assert (exp / "best_model.pt").is_file() and "held-out" in (exp / "best_model.md").read_text().lower()
    clips = list(exp.glob("best_vs_base.*"))  # MP4, or GIF where ffmpeg is missing
    assert clips and clips[0].stat().st_size > 1000 and clips[0].name in report
    for r in rows:
        trial_dir = Path(r["path"])
        assert list(trial_dir.glob("events.out.tfevents.*")), "TensorBoard events per trial"
        assert r["checkpoint"] and (Path(r["checkpoint"]) / "run.pt").is_file()
        held = r["heldout"]["metrics"]
        assert held["pfc"]["base"] > 0 and held["motion_magnitude"]["model"] > 0
        lo, hi = held["physical_error"]["ci"]
        assert lo <= held["physical_error"]["diff"] <= hi
    return rows


def test_smoke_sweep_end_to_end(tiny_base, tmp_path):
    from dance_rl.tune import run_sweep

    cfg = load_config(SMOKE, smoke_overrides(tiny_base))
    try:
        results, report = run_sweep(cfg, str(tmp_path), log=lambda *_: None)
    finally:
        ray.shutdown()
    assert results.num_errors == 0 and len(results) == 2
    rows = _check_experiment(tmp_path / "smoke", 2)
    assert sorted(r["swept"]["rewards.fgd.weight"] for r in rows) == [0.01, 0.49]
    assert all(r["iterations"] == 2 for r in rows)
    # a second run into the same experiment needs --resume
    with pytest.raises(UserError, match="--resume"):
        run_sweep(cfg, str(tmp_path), log=lambda *_: None)


def test_interrupted_sweep_resumes(tiny_base, tmp_path):
    args = [sys.executable, "-m", "dance_rl.tune", "--config", str(SMOKE), "--storage-path", str(tmp_path)]
    for o in smoke_overrides(tiny_base, "tune.name=resumable", "rl.eval_every=1"):  # a checkpoint per iteration
        args += ["--set", o]
    env = {**os.environ, "RAY_ADDRESS": ""}
    proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    exp = tmp_path / "resumable"
    deadline = time.time() + 400
    while time.time() < deadline and proc.poll() is None:  # stop once the first trial has a checkpoint
        if list(exp.glob("rlft_trainable_*/checkpoint_*")):
            break
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: Tune saves the experiment state
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (exp / "report.md").exists()
    done = subprocess.run(args + ["--resume"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    _check_experiment(exp, 2)


def test_sweep_on_simulated_cluster_with_sim_node(tiny_base, tmp_path):
    from ray.cluster_utils import Cluster

    from dance_rl.tune import run_sweep

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    c.add_node(num_cpus=2)
    c.add_node(num_cpus=2, resources={"sim": 2})
    c.wait_for_nodes()
    try:
        ray.init(address=c.address, log_to_driver=False)
        cfg = load_config(SMOKE, smoke_overrides(tiny_base, "cluster.sim_resource=require", "tune.name=multi"))
        results, _ = run_sweep(cfg, str(tmp_path), address=c.address, log=lambda *_: None)
        assert results.num_errors == 0
        _check_experiment(tmp_path / "multi", 2)
    finally:
        ray.shutdown()
        c.shutdown()
