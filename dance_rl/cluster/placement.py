"""One placement group per run: [learner, samplers…, reward actors…], on a laptop or a cluster.

Inside a Tune trial the trial's own placement group (reserved by ``tune.with_resources(PlacementGroupFactory)``) is
reused: bundle 0 is the trainable, the roles take bundles 1… . Reward-actor bundles ask for the custom ``sim``
resource when the cluster advertises it (``cluster.sim_resource: auto``), so they land on simulation nodes.
"""
from __future__ import annotations

from dataclasses import dataclass

import ray
from ray.util.placement_group import get_current_placement_group, placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from dance_rl.errors import UserError


def wants_sim_resource(cluster_cfg, available: dict | None = None) -> bool:
    if cluster_cfg.sim_resource == "off":
        return False
    has = (available if available is not None else ray.cluster_resources()).get("sim", 0) > 0
    if cluster_cfg.sim_resource == "require" and not has:
        raise UserError("cluster.sim_resource=require but no node advertises the 'sim' resource; start workers with "
                        "`ray start --resources='{\"sim\": N}'` or set cluster.sim_resource=auto")
    return has


def role_bundles(cluster_cfg, use_sim: bool) -> list[dict]:
    """Resource bundles of the roles, in the order learner, samplers, reward actors."""
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


def trial_bundles(cluster_cfg, use_sim: bool, trainable_cpus: float = 0.5) -> list[dict]:
    """What a Tune trial reserves: the trainable (driver of the loop) first, then the roles."""
    return [{"CPU": trainable_cpus}] + role_bundles(cluster_cfg, use_sim)


@dataclass
class RunPlacement:
    pg: object
    offset: int                 # index of the learner bundle in ``pg``
    bundles: list[dict]
    owned: bool                 # created here (and removed at the end) or borrowed from a Tune trial

    def options(self, index: int) -> dict:
        """Actor options for role bundle ``index`` (0 = learner, then samplers, then reward actors)."""
        bundle = self.bundles[index]
        opts = {"num_cpus": bundle["CPU"], "num_gpus": bundle.get("GPU", 0.0),
                "scheduling_strategy": PlacementGroupSchedulingStrategy(
                    self.pg, placement_group_bundle_index=self.offset + index)}
        extra = {k: v for k, v in bundle.items() if k not in ("CPU", "GPU")}
        if extra:
            opts["resources"] = extra
        return opts

    def remove(self) -> None:
        if self.owned:
            ray.util.remove_placement_group(self.pg)


def create_run_placement(cluster_cfg, strategy: str = "SPREAD", timeout_s: float = 120.0) -> RunPlacement:
    use_sim = wants_sim_resource(cluster_cfg)
    bundles = role_bundles(cluster_cfg, use_sim)
    current = get_current_placement_group()
    if current is not None and len(current.bundle_specs) >= len(bundles) + 1:
        return RunPlacement(current, 1, bundles, owned=False)
    pg = placement_group(bundles, strategy=strategy)
    ready, _ = ray.wait([pg.ready()], timeout=timeout_s)
    if not ready:
        ray.util.remove_placement_group(pg)
        raise UserError(f"the cluster cannot fit the run's resources {bundles} within {timeout_s:.0f} s; lower "
                        f"cluster.* CPU/GPU shares or add nodes (available: {ray.available_resources()})")
    return RunPlacement(pg, 0, bundles, owned=True)
