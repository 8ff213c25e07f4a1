"""Multi-node placement on a simulated cluster (ray.cluster_utils.Cluster): head + two sampler nodes + a `sim` node.
Reward actors land on the sim node, samplers spread over nodes, and the same run completes."""
import pytest
import ray
from ray.cluster_utils import Cluster

from dance_rl.cluster.inputs import load_base_model, load_conditions
from dance_rl.cluster.run import RLRun
from dance_rl.train import load_run_config
from tests.conftest import REPO, smoke_overrides

pytestmark = [pytest.mark.ray, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    nodes = {"a": c.add_node(num_cpus=2), "b": c.add_node(num_cpus=2),
             "sim": c.add_node(num_cpus=2, resources={"sim": 4})}
    c.wait_for_nodes()
    ray.init(address=c.address, log_to_driver=False)
    yield c, nodes
    ray.shutdown()
    c.shutdown()


def test_roles_placed_by_resources_and_run_completes(cluster, tiny_base):
    _, nodes = cluster
    cfg = load_run_config(REPO / "tune_configs" / "smoke.yaml", smoke_overrides(
        tiny_base, "cluster.num_samplers=2", "cluster.num_reward_actors=2", "cluster.sim_resource=require",
        "cluster.sampler_cpus=1", "cluster.reward_cpus=1", "rl.conditions_per_iter=2"))
    base = load_base_model(cfg, log=lambda *_: None)
    music, keys = load_conditions(cfg, log=lambda *_: None)
    run = RLRun(cfg, base, music, keys)
    try:
        reward_nodes = set(ray.get([r.node_id.remote() for r in run.rewarders]))
        sampler_nodes = set(ray.get([s.node_id.remote() for s in run.samplers]))
        assert reward_nodes == {nodes["sim"].node_id}
        assert len(sampler_nodes) == 2  # SPREAD placement group: one replica per node
        m = run.iteration(0)
        assert m["train/version"] == 1 and m["samples"] == 4
    finally:
        run.shutdown()
