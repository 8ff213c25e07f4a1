"""One placement group per run: [learner, samplers…, reward actors…], on a laptop or a cluster.

The resource shapes are decided ONCE, by the driver (``decide_resources``: tune.py for a sweep, train.py for one run),
and the decision travels in the config: ``cluster.sim_resource: auto`` becomes ``require`` or ``off``. On an
autoscaling cluster ``auto`` asks for ``sim`` when a node type can provide it, even if no such node is up yet (the
pending placement groups make the autoscaler launch it); a bundle that no node, up or launchable, can ever host is
one UserError before any trial starts. Inside a Tune trial the trial's own placement group
(``tune.with_resources(PlacementGroupFactory)``) is reused as reserved: bundle 0 is the trainable, the roles take
bundles 1…, and each actor asks for exactly its bundle, so a trial never re-decides and a request always fits.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import ray
from ray.util.placement_group import get_current_placement_group, placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from dance_rl.cluster.capacity import ClusterCapacity, cluster_capacity
from dance_rl.errors import UserError

ROLE_NAMES = ("learner", "sampler", "reward actor")
ROLE_KEYS = {"trial driver": "tune.trainable_cpus", "learner": "cluster.learner_cpus/learner_gpus",
             "sampler": "cluster.sampler_cpus/sampler_gpus", "reward actor": "cluster.reward_cpus"}


def _fits(bundle: dict, node: dict) -> bool:
    return all(node.get(k, 0.0) >= v for k, v in bundle.items() if v > 0)


def decide_resources(cluster_cfg, capacity: ClusterCapacity, trainable_cpus: float | None = None):
    """``cluster_cfg`` with ``sim_resource`` resolved to ``require``/``off`` after checking that every bundle (the
    trial driver's when ``trainable_cpus`` is given, then the roles') fits a node that is up or launchable."""
    has_sim = any(s.get("sim", 0) > 0 for s in capacity.shapes)
    mode = cluster_cfg.sim_resource
    if mode == "require" and not has_sim:
        raise UserError("cluster.sim_resource=require but no node and no autoscaler node type has the 'sim' resource "
                        f"({capacity.describe()}); give a node type `resources: {{sim: N}}` (cluster.yaml cpu_sim), "
                        "start workers with `ray start --resources='{\"sim\": N}'`, or set cluster.sim_resource=auto")
    use_sim = mode == "require" or (mode == "auto" and has_sim)
    decided = dataclasses.replace(cluster_cfg, sim_resource="require" if use_sim else "off")
    roles = role_bundles(decided)
    names = ([ROLE_NAMES[0]] + [ROLE_NAMES[1]] * cluster_cfg.num_samplers
             + [ROLE_NAMES[2]] * cluster_cfg.num_reward_actors)
    if trainable_cpus is not None:
        roles, names = [{"CPU": float(trainable_cpus)}] + roles, ["trial driver"] + names
    for bundle, name in zip(roles, names):
        if not any(_fits(bundle, s) for s in capacity.shapes):
            raise UserError(f"the {name} bundle {bundle} fits no node this cluster has or can launch "
                            f"({capacity.describe()}); lower {ROLE_KEYS[name]} or add a node type that has them "
                            "(cluster.yaml available_node_types)")
    return decided


def decide_config(cfg, log=print, trainable_cpus: float | None = None):
    """The driver's one decision for a whole sweep or run: the config (cluster section resolved) to ship everywhere."""
    capacity = cluster_capacity()
    cluster = decide_resources(cfg.cluster, capacity, trainable_cpus)
    if cfg.cluster.sim_resource == "auto":
        log(f"reward actors {'ask for' if cluster.sim_resource == 'require' else 'do not ask for'} the 'sim' "
            f"resource ({capacity.describe()})")
    return dataclasses.replace(cfg, cluster=cluster)


def role_bundles(cluster_cfg) -> list[dict]:
    """Resource bundles of the roles, in the order learner, samplers, reward actors (``sim_resource`` decided)."""
    use_sim = cluster_cfg.sim_resource == "require"
    def b(cpu, gpu=0.0, extra=None):
        d = {"CPU": float(cpu)}
        if gpu:
            d["GPU"] = float(gpu)
        d.update(extra or {})
        return d
    out = [b(cluster_cfg.learner_cpus, cluster_cfg.learner_gpus)]
    out += [b(cluster_cfg.sampler_cpus, cluster_cfg.sampler_gpus) for _ in range(cluster_cfg.num_samplers)]
    out += [b(cluster_cfg.reward_cpus, 0.0, {"sim": 1.0} if use_sim else None) for _ in range(cluster_cfg.num_reward_actors)]
    return out


def trial_bundles(cluster_cfg, trainable_cpus: float = 0.5) -> list[dict]:
    """What a Tune trial reserves: the trainable (driver of the loop) first, then the roles."""
    return [{"CPU": float(trainable_cpus)}] + role_bundles(cluster_cfg)


@dataclass
class RunPlacement:
    pg: object
    offset: int                 # index of the learner bundle in ``pg``
    bundles: list[dict]
    owned: bool                 # created here (and removed at the end) or borrowed from a Tune trial

    def options(self, index: int) -> dict:
        """Actor options for role bundle ``index`` (0 = learner, then samplers, then reward actors)."""
        bundle = self.bundles[index]
        opts = {"num_cpus": bundle.get("CPU", 0.0), "num_gpus": bundle.get("GPU", 0.0),
                "scheduling_strategy": PlacementGroupSchedulingStrategy(
                    self.pg, placement_group_bundle_index=self.offset + index)}
        extra = {k: v for k, v in bundle.items() if k not in ("CPU", "GPU")}
        if extra:
            opts["resources"] = extra
        return opts

    def remove(self) -> None:
        if self.owned:
            ray.util.remove_placement_group(self.pg)


def create_run_placement(cluster_cfg, strategy: str = "SPREAD", timeout_s: float | None = None) -> RunPlacement:
    """Inside a Tune trial: the trial's reserved bundles as they are. Otherwise a new group from the decided config
    (``auto`` is decided here only for callers that skipped :func:`decide_config`)."""
    n_roles = 1 + cluster_cfg.num_samplers + cluster_cfg.num_reward_actors
    current = get_current_placement_group()
    if current is not None and len(current.bundle_specs) >= n_roles + 1:
        return RunPlacement(current, 1, [dict(b) for b in current.bundle_specs[1:1 + n_roles]], owned=False)
    capacity = None
    if cluster_cfg.sim_resource == "auto":
        capacity = cluster_capacity()
        cluster_cfg = decide_resources(cluster_cfg, capacity)
    bundles = role_bundles(cluster_cfg)
    if timeout_s is None:  # launching nodes takes minutes; a fixed cluster answers at once
        capacity = capacity or cluster_capacity()
        timeout_s = 1800.0 if capacity.declared else 120.0
    pg = placement_group(bundles, strategy=strategy)
    ready, _ = ray.wait([pg.ready()], timeout=timeout_s)
    if not ready:
        ray.util.remove_placement_group(pg)
        raise UserError(f"the cluster cannot fit the run's resources {bundles} within {timeout_s:.0f} s; lower "
                        f"cluster.* CPU/GPU shares or add nodes (available: {ray.available_resources()})")
    return RunPlacement(pg, 0, bundles, owned=True)
