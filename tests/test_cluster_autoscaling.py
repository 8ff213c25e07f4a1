"""`ray up cluster.yaml` as users start it, on this machine: Ray's fake_multinode node provider (how Ray tests its own
autoscaler) launches real raylets for node types shaped like cluster.yaml's, starting from the head alone (CPU: 0).

1. The smoke sweep completes on an autoscaling cluster: `auto` asks for `sim` because a node type declares it (no sim
   node is up when the sweep starts), reward actors run on autoscaled sim nodes, samplers and the learner on the GPU
   type (fake GPUs: torch falls back to CPU), nothing runs on the head.
2. Node loss (in the same sweep: each smoke sweep costs a minute or more here): the raylet of the node holding the
   reward actors is killed while the sweep runs; the sweep completes with every trial, and every learner update got
   each chunk's score exactly once.

ray.cluster_utils.AutoscalingCluster would do this too, but it runs `ray stop --force` (every Ray process of the
user on the machine) and needs fake_multi_node/example.yaml, which the wheel lacks; so the head is started in-process
with the same settings and only this cluster's processes are ended.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import psutil
import pytest
import ray
import yaml
from ray.cluster_utils import Cluster

from dance_rl.config import load_config
from tests.conftest import REPO, smoke_overrides

pytestmark = [pytest.mark.ray, pytest.mark.slow]
SMOKE = REPO / "tune_configs" / "smoke.yaml"
MB = 1024 * 1024


def laptop_node_types() -> dict:
    """cluster.yaml's worker types at laptop scale (same names and resource kinds), plus a plain CPU type that the
    sweep must NOT need."""
    with open(REPO / "cluster.yaml") as f:
        real = yaml.safe_load(f)["available_node_types"]
    small = {"gpu_1x": {"CPU": 2, "GPU": 1}, "cpu_sim": {"CPU": 1, "sim": 1}, "cpu": {"CPU": 2}}
    for name in ("gpu_1x", "cpu_sim"):
        assert set(real[name]["resources"]) == set(small[name]), name
    return {name: {"resources": {**res, "object_store_memory": 80 * MB}, "min_workers": 0, "max_workers": 2,
                   "node_config": {}} for name, res in small.items()}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def autoscaling_cluster(tmp_path_factory):
    port = _free_port()
    gcs = f"{ray._private.services.get_node_ip_address()}:{port}"
    config = {
        "cluster_name": "fake_dance_rl", "max_workers": 6, "upscaling_speed": 2.0, "idle_timeout_minutes": 5,
        "provider": {"type": "fake_multinode", "gcs_address": gcs, "use_node_id_as_ip": True,
                     "disable_node_updaters": True, "disable_launch_config_check": True},
        "auth": {"ssh_user": "ubuntu"}, "docker": {},
        "available_node_types": {**laptop_node_types(),
                                 "ray.head.default": {"resources": {"CPU": 0}, "node_config": {}, "max_workers": 0}},
        "head_node_type": "ray.head.default",
        "file_mounts": {}, "cluster_synced_files": [], "file_mounts_sync_continuously": False, "rsync_exclude": [],
        "rsync_filter": [], "initialization_commands": [], "setup_commands": [], "head_setup_commands": [],
        "worker_setup_commands": [], "head_start_ray_commands": [], "worker_start_ray_commands": [],
    }
    path = tmp_path_factory.mktemp("autoscaler") / "autoscaling.json"
    path.write_text(json.dumps(config))
    env = {"RAY_FAKE_CLUSTER": "1", "AUTOSCALER_UPDATE_INTERVAL_S": "1", "AUTOSCALER_HEARTBEAT_TIMEOUT_S": "5"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the monitor (autoscaler) process inherits them
    c = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "gcs_server_port": port, "autoscaling_config": str(path), "object_store_memory": 100 * MB,
        "_system_config": {"health_check_period_ms": 1000, "health_check_failure_threshold": 3,
                           "health_check_timeout_ms": 1000}})
    try:
        assert c.address == gcs
        yield c
    finally:
        ray.shutdown()
        for pid in _raylet_pids([n for n in _worker_node_ids(c)]):   # the autoscaler's nodes, then the head
            _kill(pid)
        c.shutdown()
        for pid in _pids_with_args({f"--gcs-address={gcs}"}):  # the fake nodes' log monitors outlive c.shutdown()
            _kill(pid)
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)


def _worker_node_ids(c) -> list[str]:
    return [n["NodeID"] for n in c.global_state.node_table() if n["NodeID"] != c.head_node.node_id]


def _raylet_pids(node_ids) -> list[int]:
    return _pids_with_args({f"--node_id={n}" for n in node_ids})


def _pids_with_args(wanted: set[str]) -> list[int]:
    return [p.pid for p in psutil.process_iter(["cmdline"]) if wanted & set(p.info.get("cmdline") or [])]


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _actors_by_class(c) -> dict:
    out: dict = {}
    for a in c.global_state.actor_table(None).values():
        out.setdefault(a["ActorClassName"], []).append(a)
    return out


def _node_resources(c) -> dict:
    """Resources of the nodes alive now (a dead node's table entry may list none)."""
    return {n["NodeID"]: dict(n["Resources"]) for n in c.global_state.node_table() if n["Alive"] and n["Resources"]}


def _sweep(c, tiny_base, tmp_path, name, *extra):
    from dance_rl.tune import run_sweep

    cfg = load_config(SMOKE, smoke_overrides(tiny_base, f"tune.name={name}", *extra))
    assert cfg.cluster.sim_resource == "auto"
    lines: list[str] = []
    results, report = run_sweep(cfg, str(tmp_path), address=c.address, log=lines.append)
    return results, report, lines


def _kill_reward_node_when_scoring(c, killed: dict, timeout_s: float = 300.0) -> None:
    """Once the sweep's first reward actor is up and scoring, SIGKILL the raylet of its node (a lost spot node).

    The actor must still be ALIVE when its node dies: on a fast machine a trial can finish within the settling time,
    and an actor torn down with its trial is never restarted (seen: DEAD, 0 restarts, no trial failure)."""
    def alive():
        return [a for a in _actors_by_class(c).get("RewardWorker", []) if a["State"] == "ALIVE"]

    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if alive():
            time.sleep(0.5)  # let it start scoring
            still = alive()
            if not still:
                continue
            node = still[0]["Address"]["NodeID"]
            killed.update(node=node, actor=still[0]["ActorID"], pids=_raylet_pids([node]))
            for pid in killed["pids"]:
                _kill(pid)
            return
        time.sleep(0.2)


def _alive_placements(c) -> dict:
    """{actor class: nodes where one of its actors is ALIVE now}. Not the table's Address of a pending or dead actor:
    while an actor's lease is pending (a restart waiting for a new sim node) its Address names the node the lease was
    first sent to (its owner's node), where it never runs (seen on CI: a RewardWorker "on" a gpu_1x node)."""
    out: dict = {}
    for a in c.global_state.actor_table(None).values():
        if a["State"] == "ALIVE":
            out.setdefault(a["ActorClassName"], set()).add(a["Address"]["NodeID"])
    return out


def _record_cluster(c, seen: dict, ran: dict, stop: threading.Event) -> None:
    """Every node's resources while it is alive, and where each actor class ran. A dead node's table entry may list no
    resources, and besides the node this test kills, the autoscaler may end a node whose heartbeat lapsed under load
    (seen on a busy 2-core CI machine)."""
    while not stop.is_set():
        for node, res in _node_resources(c).items():
            seen.setdefault(node, {}).update(res)   # union over samples: a dying node's entry may list fewer
        for cls, nodes in _alive_placements(c).items():
            ran.setdefault(cls, set()).update(nodes)
        stop.wait(0.2)


def test_smoke_sweep_autoscales_from_zero_and_survives_losing_the_sim_node(autoscaling_cluster, tiny_base, tmp_path):
    """One sweep for both checks (each smoke sweep costs about a minute here)."""
    c = autoscaling_cluster
    assert _worker_node_ids(c) == []                        # the head alone: no sim node is up at sweep start
    killed: dict = {}
    seen: dict = {}
    ran: dict = {}
    stop = threading.Event()
    killer = threading.Thread(target=_kill_reward_node_when_scoring, args=(c, killed), daemon=True)
    recorder = threading.Thread(target=_record_cluster, args=(c, seen, ran, stop), daemon=True)
    recorder.start()
    killer.start()
    try:
        results, report, lines = _sweep(c, tiny_base, tmp_path, "autoscale", "rl.iterations=4",
                                        "cluster.sampler_gpus=0.5", "cluster.learner_gpus=0.5")
    finally:
        stop.set()
        killer.join(timeout=1)
        recorder.join(timeout=5)
    # `auto` was decided once, by the driver, from the declared node types, and the sweep completed with every trial.
    assert any("ask for the 'sim' resource" in line and "cpu_sim" in line for line in lines), lines
    assert results.num_errors == 0 and len(results) == 2 and report is not None
    assert all(r.metrics["training_iteration"] == 4 for r in results)

    nodes = {n["NodeID"]: n for n in c.global_state.node_table()}
    res = {n: dict(r) for n, r in seen.items()}
    for n, r in _node_resources(c).items():
        res.setdefault(n, {}).update(r)
    actors = _actors_by_class(c)
    for cls, n in _alive_placements(c).items():
        ran.setdefault(cls, set()).update(n)
    placed = {cls: ran.get(cls, set()) for cls in ("RewardWorker", "SamplerWorker", "LearnerWorker")}
    assert all(placed.values()), placed
    # autoscaled cpu_sim nodes (for a node that died: the resources it had while alive)
    no_sim = {n[-6:]: res.get(n) for n in placed["RewardWorker"] if res.get(n, {}).get("sim", 0) <= 0}
    assert not no_sim, (no_sim, {n[-6:]: r.get("sim") for n, r in res.items()})
    assert all(res[n].get("GPU", 0) > 0 for n in placed["SamplerWorker"] | placed["LearnerWorker"])  # gpu_1x
    assert res[c.head_node.node_id].get("CPU", 0) == 0
    everything = set().union(*ran.values())
    assert c.head_node.node_id not in everything                  # trials reserve nothing of the CPU: 0 head

    # Node loss: the killed node is gone; reward actors went on on another autoscaled sim node (the actor restarted,
    # max_restarts, or its trial restarted from its checkpoint, FailureConfig).
    assert killed.get("pids"), "the reward actors' node was never killed"
    assert not nodes[killed["node"]]["Alive"]
    assert placed["RewardWorker"] - {killed["node"]}
    # The killed node is dead, so a restarted actor ran elsewhere (where: `placed` above, sampled while ALIVE). Not the
    # table's Address: after the sweep a restarted actor that was being torn down or re-leased may still name the dead
    # node there (seen with a busy 2-core machine), the same unreliable field as in _alive_placements.
    victim = next(a for a in actors["RewardWorker"] if a["ActorID"] == killed["actor"])
    actor_restarted = victim["NumRestarts"] >= 1
    trial_restarted = any(t.num_failures for t in results._experiment_analysis.trials)
    assert actor_restarted or trial_restarted, {k: victim.get(k) for k in ("State", "NumRestarts", "Address")}
    # Each learner update checks that the scored chunks are exactly its rollouts' (learner.merge_scores: a chunk
    # scored twice or dropped raises "out of order"); no trial ever failed that way.
    for trial_dir in (tmp_path / "autoscale").glob("rlft_trainable_*"):
        for err in trial_dir.glob("error*.txt"):
            assert "out of order" not in err.read_text(), err


def test_a_sweep_no_node_type_can_host_is_one_line_before_any_trial(autoscaling_cluster, tiny_base, tmp_path):
    """`python -m dance_rl.tune` against the same cluster: a learner asking 2 GPUs (gpu_1x has 1) → exit 2, one line."""
    args = [sys.executable, "-m", "dance_rl.tune", "--config", str(SMOKE), "--storage-path", str(tmp_path),
            "--address", autoscaling_cluster.address]
    for o in smoke_overrides(tiny_base, "cluster.learner_gpus=2", "tune.name=too_big"):
        args += ["--set", o]
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "learner bundle" in errors[0] and "gpu_1x {CPU: 2, GPU: 1}" in errors[0], errors
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "too_big").exists()          # no trial, no experiment directory
