"""What a Ray cluster can host: the nodes that are up, and the node types its autoscaler may still launch.

Ray has no public call that lists an autoscaler's node types: they live in the config the autoscaler was started
with (``ray up`` writes it to the head as ``~/ray_bootstrap_config.yaml``, the file Tune itself checks for to tell an
autoscaling cluster, and starts the head with ``--autoscaling-config=<that file>``). So a zero-CPU task pinned to the
head (``node:__internal_head__``) reads the file the head's autoscaler (monitor process) was given, or the bootstrap
file, and returns the launchable types' ``resources``, whichever node the driver runs on. A cluster without an
autoscaler (or where the head task fails, e.g. the project is not installed on the head), and a type without explicit
``resources`` (AWS/GCP can autodetect them), contribute only the nodes that are up.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import ray

BOOTSTRAP_CONFIG = "~/ray_bootstrap_config.yaml"


@dataclass
class ClusterCapacity:
    live: list[dict] = field(default_factory=list)       # total resources of each alive node
    declared: dict = field(default_factory=dict)         # launchable autoscaler node type → resources

    @property
    def shapes(self) -> list[dict]:
        return self.live + list(self.declared.values())

    def describe(self) -> str:
        live = ", ".join(_fmt(r) for r in self.live) or "none"
        types = ", ".join(f"{n} {_fmt(r)}" for n, r in self.declared.items()) or "none"
        return f"nodes up: {live}; autoscaler node types: {types}"


def _fmt(resources: dict) -> str:
    keep = {k: (int(v) if float(v).is_integer() else v) for k, v in resources.items()
            if k in ("CPU", "GPU") or not (k.startswith("node:") or k in ("memory", "object_store_memory")
                                           or k.startswith("accelerator_type:"))}
    return "{" + (", ".join(f"{k}: {v}" for k, v in sorted(keep.items())) or "CPU: 0") + "}"


def node_types_from_config(config: dict) -> dict:
    """{type: resources} of the worker types an autoscaler config can launch (explicit resources only)."""
    if not config or int(config.get("max_workers", 1) or 0) <= 0:
        return {}
    out = {}
    for name, t in (config.get("available_node_types") or {}).items():
        if name == config.get("head_node_type") or int(t.get("max_workers", 0) or 0) <= 0:
            continue
        if t.get("resources"):
            out[name] = {k: float(v) for k, v in t["resources"].items()}
    return out


def autoscaler_config_path(gcs_address: str) -> str | None:
    """The --autoscaling-config of this cluster's monitor process (on this machine), else ray up's bootstrap file."""
    import psutil

    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if f"--gcs-address={gcs_address}" in cmd and any(c.endswith("monitor.py") for c in cmd):
            for arg in cmd:
                if arg.startswith("--autoscaling-config="):
                    return os.path.expanduser(arg.split("=", 1)[1])
    path = os.path.expanduser(BOOTSTRAP_CONFIG)
    return path if os.path.isfile(path) else None


def _read_autoscaler_config(gcs_address: str) -> dict | None:
    import yaml

    path = autoscaler_config_path(gcs_address)
    if path is None or not os.path.isfile(path):
        return None
    with open(path) as f:
        return yaml.safe_load(f)   # YAML from ray up; JSON (a YAML subset) is accepted by --autoscaling-config too


_read_on_head = ray.remote(num_cpus=0, resources={"node:__internal_head__": 0.001}, max_retries=0)(
    _read_autoscaler_config)


def cluster_capacity(timeout_s: float = 30.0) -> ClusterCapacity:
    """The connected cluster's alive nodes and its autoscaler's node types (empty when it has no autoscaler)."""
    live = [{k: float(v) for k, v in n["Resources"].items()} for n in ray.nodes() if n["Alive"]]
    config, ref = None, None
    try:
        ref = _read_on_head.remote(ray.get_runtime_context().gcs_address)
        config = ray.get(ref, timeout=timeout_s)
    except Exception:  # no head task possible (e.g. the project is not installed on the head): live nodes only
        if ref is not None:
            ray.cancel(ref, force=True)
    return ClusterCapacity(live, node_types_from_config(config or {}))
