"""cluster.yaml passes Ray's own checks and says what dance_rl needs of a cluster.

Validation runs offline, exactly as far as `ray up` gets before it talks to AWS:
  1. jsonschema against ray/autoscaler/ray-schema.json from the installed wheel (the raw YAML);
  2. prepare_config + validate_config (private API, ray.autoscaler._private.util): merges aws/defaults.yaml (a
     plain YAML read; no boto3, no network — enforced below), fills min/max workers, re-validates the schema and
     the semantic rules (head_node_type, sum(min_workers) <= max_workers, cluster_synced_files);
  3. AutoscalingConfig (private, ray.autoscaler.v2): the autoscaler's own view per node type (resources, setup
     commands, docker image) and get_nodes_for (private, the v1 autoscaler's bin packing) to check that the
     placement groups of our tune configs would launch the intended node types.
What comes next in `ray up` needs boto3 and credentials (EC2 resource autodetection, IAM/VPC bootstrap) and is not run.
"""
from __future__ import annotations

import copy
import dataclasses
import functools
import json
import os
import socket
import sys
from pathlib import Path

import jsonschema
import pytest
import ray.autoscaler
import yaml

# Private Ray APIs (2.60.0): the same functions `ray up` and the autoscaler call.
from ray.autoscaler._private.node_provider_availability_tracker import NodeAvailabilitySummary
from ray.autoscaler._private.resource_demand_scheduler import (
    _default_utilization_scorer,
    get_bin_pack_residual,
    get_nodes_for,
)
from ray.autoscaler._private.util import prepare_config, validate_config
from ray.autoscaler.v2.instance_manager.config import AutoscalingConfig

from dance_rl.cluster.capacity import ClusterCapacity, node_types_from_config
from dance_rl.cluster.placement import decide_resources, trial_bundles
from dance_rl.config import load_config
from dance_rl.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
REMOTE_REPO = "/home/ray/dance_rl"
GPU_TYPES = ("gpu_1x", "gpu_4x")
SIM_TYPE = "cpu_sim"


@pytest.fixture(scope="module")
def raw() -> dict:
    with open(ROOT / "cluster.yaml") as f:
        return yaml.safe_load(f)


@pytest.fixture
def cfg(raw) -> dict:
    return copy.deepcopy(raw)


@pytest.fixture
def offline(monkeypatch):
    """Any socket use or boto3/botocore import during the test fails it."""
    def refuse(*args, **kwargs):
        raise AssertionError("cluster.yaml validation tried to use the network")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setitem(sys.modules, "boto3", None)      # `import boto3` now raises ImportError
    monkeypatch.setitem(sys.modules, "botocore", None)


def ray_schema() -> dict:
    with open(os.path.join(os.path.dirname(ray.autoscaler.__file__), "ray-schema.json")) as f:
        return json.load(f)


def prepared(cfg: dict) -> dict:
    out = prepare_config(copy.deepcopy(cfg))
    validate_config(out)
    return out


def test_raw_yaml_matches_rays_schema(raw):
    jsonschema.validate(raw, ray_schema())


def test_prepare_and_validate_config_offline(raw, offline):
    full = prepared(raw)
    assert full["provider"]["type"] == "aws"
    assert full["cluster_synced_files"] == []                       # came from aws/defaults.yaml
    assert full["available_node_types"]["head"]["max_workers"] == 0  # filled in for the head type
    # Our head_setup_commands replace Ray's default list, which is where boto3 normally comes from.
    assert any("boto3" in c for c in full["head_setup_commands"])


def test_node_types_and_resources(raw):
    types = raw["available_node_types"]
    assert raw["head_node_type"] in types
    assert set(types) == {"head", *GPU_TYPES, SIM_TYPE}
    for name, t in types.items():
        for key, value in t["resources"].items():
            assert type(value) is int and value >= 0, (name, key, value)   # bool or float would be wrong
    assert types["head"]["resources"]["CPU"] == 0                          # no trials on the head
    assert [n for n, t in types.items() if "sim" in t["resources"]] == [SIM_TYPE]
    assert types[SIM_TYPE]["resources"].get("GPU", 0) == 0
    for name in GPU_TYPES:
        assert types[name]["resources"]["GPU"] >= 1 and types[name]["resources"]["CPU"] >= 4
    assert types[SIM_TYPE]["resources"]["CPU"] >= types[SIM_TYPE]["resources"]["sim"] > 0


def test_autoscaling_bounds(raw):
    workers = {n: t for n, t in raw["available_node_types"].items() if n != raw["head_node_type"]}
    for name, t in workers.items():
        assert 0 <= t["min_workers"] <= t["max_workers"], name
    assert sum(t["min_workers"] for t in workers.values()) <= raw["max_workers"]
    assert raw["max_workers"] <= sum(t["max_workers"] for t in workers.values())
    assert raw["idle_timeout_minutes"] > 0


def test_autoscaler_view_installs_project_on_every_node(raw, offline):
    """Node-specific worker_setup_commands replace the global ones, so check what each type really runs."""
    view = AutoscalingConfig(copy.deepcopy(raw), skip_content_hash=True)
    node_types = view.get_node_type_configs()
    assert node_types[SIM_TYPE].resources == {"CPU": 32, "sim": 32}
    for name in node_types:
        cmds = view.get_head_setup_commands() if name == raw["head_node_type"] else view.get_worker_setup_commands(name)
        text = "\n".join(cmds)
        assert f"pip install -q -e {REMOTE_REPO}" in text, name
        assert "torch==2.13.0" in text, name
        torch_line = next(c for c in cmds if "torch==2.13.0" in c)
        assert text.index("torch==2.13.0") < text.index(REMOTE_REPO), name   # torch first, from the right index
        gpu = name in GPU_TYPES
        assert ("whl/cu" in torch_line) == gpu and ("whl/cpu" in torch_line) == (not gpu), (name, torch_line)
        image = view.get_docker_config(name)["image"]
        assert image.startswith("rayproject/ray:2.60.0-py311") and image.endswith("-gpu" if gpu else "-cpu"), name


def test_file_mount_ships_this_repo(raw):
    mounts = raw["file_mounts"]
    assert REMOTE_REPO in mounts
    local = ROOT / mounts[REMOTE_REPO]           # relative to the repo root, where `ray up` is run
    assert (local / "pyproject.toml").is_file() and (local / "dance_rl" / "__init__.py").is_file()
    assert ".gitignore" in raw["rsync_filter"]    # keeps .venv, runs/, .cache/ off the cluster


def _nodes_for(full: dict, bundles: list[dict]):
    """What the autoscaler would launch for pending bundles when only the head is up."""
    scorer = functools.partial(_default_utilization_scorer,
                               node_availability_summary=NodeAvailabilitySummary(node_availabilities={}))
    to_add, residual = get_nodes_for(full["available_node_types"], {full["head_node_type"]: 1},
                                     full["head_node_type"], full["max_workers"], bundles, scorer)
    return dict(to_add), residual


@pytest.mark.parametrize("tune_yaml", ["reward_weights.yaml", "paper.yaml"])
def test_trial_placement_groups_launch_the_intended_node_types(raw, tune_yaml):
    full = prepared(raw)
    c = load_config(ROOT / "tune_configs" / tune_yaml)
    bundles = trial_bundles(decide_resources(c.cluster, _capacity(full)), c.tune.trainable_cpus)
    sim = [b for b in bundles if "sim" in b]
    gpu = [b for b in bundles if b.get("GPU", 0) > 0]
    assert sim and gpu
    to_add, residual = _nodes_for(full, bundles)
    assert residual == [] and full["head_node_type"] not in to_add
    assert sum(to_add.values()) <= full["max_workers"]
    to_add, residual = _nodes_for(full, sim)
    assert residual == [] and set(to_add) == {SIM_TYPE}
    to_add, residual = _nodes_for(full, gpu)
    assert residual == [] and set(to_add) <= set(GPU_TYPES)
    # CPU-only work (the trial's driver bundle) fits nowhere on the head and avoids GPU nodes.
    head = full["available_node_types"][full["head_node_type"]]["resources"]
    assert get_bin_pack_residual([head], [{"CPU": 0.5}])[0] == [{"CPU": 0.5}]
    to_add, residual = _nodes_for(full, [{"CPU": 0.5}])
    assert residual == [] and set(to_add) == {SIM_TYPE}


def _capacity(full: dict) -> ClusterCapacity:
    """What the driver sees on a fresh `ray up`: only the head is up, every worker type launchable."""
    head = {k: float(v) for k, v in full["available_node_types"][full["head_node_type"]]["resources"].items()}
    return ClusterCapacity(live=[head], declared=node_types_from_config(full))


TUNE_CONFIGS = sorted(p.name for p in (ROOT / "tune_configs").glob("*.yaml"))


@pytest.mark.parametrize("tune_yaml", TUNE_CONFIGS)
def test_every_tune_config_fits_the_node_types_that_install_what_it_needs(raw, tune_yaml):
    """From zero workers: `auto` asks for `sim` (cpu_sim is declared), every bundle of a trial fits a worker type
    (never the CPU: 0 head), GPU bundles fit only types that install CUDA torch, and the autoscaler would launch
    them."""
    full = prepared(raw)
    c = load_config(ROOT / "tune_configs" / tune_yaml)
    assert c.cluster.sim_resource == "auto"
    decided = decide_resources(c.cluster, _capacity(full), trainable_cpus=c.tune.trainable_cpus)
    assert decided.sim_resource == "require"
    bundles = trial_bundles(decided, c.tune.trainable_cpus)
    view = AutoscalingConfig(copy.deepcopy(raw), skip_content_hash=True)
    types = {n: t.resources for n, t in view.get_node_type_configs().items() if n != raw["head_node_type"]}
    for b in bundles:
        hosts = [n for n, r in types.items() if all(r.get(k, 0) >= v for k, v in b.items())]
        assert hosts, (tune_yaml, b)
        if b.get("GPU", 0) > 0:
            for n in hosts:
                assert any("whl/cu" in cmd for cmd in view.get_worker_setup_commands(n)), (n, "CUDA torch")
        if b.get("sim", 0) > 0:
            assert hosts == [SIM_TYPE]
    to_add, residual = _nodes_for(full, bundles)
    assert residual == [] and full["head_node_type"] not in to_add


def test_sweeps_no_node_type_can_host_are_one_user_error(raw):
    full = prepared(raw)
    c = load_config(ROOT / "tune_configs" / "reward_weights.yaml")
    too_big = dataclasses.replace(c.cluster, learner_gpus=8.0)          # the largest type has 4 GPUs
    with pytest.raises(UserError, match=r"learner bundle .* fits no node"):
        decide_resources(too_big, _capacity(full), trainable_cpus=0.5)
    fat_rewards = dataclasses.replace(c.cluster, reward_cpus=40.0)      # cpu_sim has 32 CPUs
    with pytest.raises(UserError, match="reward actor bundle"):
        decide_resources(fat_rewards, _capacity(full))
    no_sim = copy.deepcopy(full)
    del no_sim["available_node_types"][SIM_TYPE]
    assert decide_resources(c.cluster, _capacity(no_sim)).sim_resource == "off"   # auto: plain CPU bundles
    with pytest.raises(UserError, match="sim_resource=require"):
        decide_resources(dataclasses.replace(c.cluster, sim_resource="require"), _capacity(no_sim))
    # A head that runs nothing (CPU: 0) and no worker types: even the trial driver's bundle fits nowhere.
    head_only = ClusterCapacity(live=[{"CPU": 0.0}], declared={})
    with pytest.raises(UserError, match="trial driver bundle"):
        decide_resources(c.cluster, head_only, trainable_cpus=0.5)


def _set(path: str, value):
    def mutate(cfg):
        *parents, last = path.split(".")
        node = cfg
        for key in parents:
            node = node[key]
        node[last] = value
    return mutate


BAD = {
    "fractional resource": (_set("available_node_types.cpu_sim.resources.sim", 0.5), jsonschema.ValidationError,
                            "0.5 is not of type 'integer'"),
    "negative resource": (_set("available_node_types.gpu_1x.resources.GPU", -1), jsonschema.ValidationError,
                          "less than the minimum"),
    "unknown top-level key": (_set("storage_path", "s3://b/x"), jsonschema.ValidationError,
                              "Additional properties are not allowed"),
    "setup_commands inside a node type": (_set("available_node_types.cpu_sim.setup_commands", ["true"]),
                                          jsonschema.ValidationError, "Additional properties are not allowed"),
    "unknown head type": (_set("head_node_type", "gpu_8x"), ValueError, "must be one of"),
    "min_workers above the global cap": (_set("available_node_types.gpu_1x.min_workers", 13), ValueError,
                                         "smaller than the sum of `min_workers`"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_broken_copies_fail_validation(cfg, case, offline):
    mutate, error, message = BAD[case]
    mutate(cfg)
    with pytest.raises(error, match=message):
        prepared(cfg)
