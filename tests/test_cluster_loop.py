"""The Ray RLFT loop on a local cluster: streaming iteration, fault tolerance (kill -9 of reward and sampler
processes mid-iteration), placement, lag mode, and equality with the serial loop."""
import os
import signal
import threading
import time

import numpy as np
import pytest
import ray

from dance_rl.cluster.inputs import load_base_model, load_conditions
from dance_rl.cluster.roles import serial_loop, serial_roles
from dance_rl.cluster.run import RLRun
from dance_rl.train import load_run_config
from tests.conftest import REPO, smoke_overrides

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def local_ray():
    ray.init(address="local", num_cpus=4, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _cfg(tiny_base, *extra):
    return load_run_config(REPO / "tune_configs" / "smoke.yaml", smoke_overrides(tiny_base, *extra))


def _inputs(cfg):
    base = load_base_model(cfg, log=lambda *_: None)
    music, keys = load_conditions(cfg, log=lambda *_: None)
    return base, music, keys


def test_iteration_streams_and_learns(local_ray, tiny_base):
    cfg = _cfg(tiny_base, "rl.conditions_per_iter=2", "cluster.chunk_size=2", "cluster.num_reward_actors=2")
    run = RLRun(cfg, *_inputs(cfg))
    try:
        m1 = run.iteration(0)
        m2 = run.iteration(1)
        assert m1["train/version"] == 1 and m2["train/version"] == 2
        assert m1["samples"] == 4 and m2["train/staleness"] == 0
        assert m1["train/logp_drift"] < 1e-4  # samplers and learner agree on the chain's log-probs
        assert set(k for k in m1 if k.startswith("reward/")) == {"reward/imitation", "reward/fgd", "reward/antifreeze"}
        assert m1["motion/magnitude"] > 0  # logged whatever the weights: the freezing indicator
        assert 0 < m2["time/overlap_efficiency"] <= 1.0 + 1e-6
        # both reward actors got work (round-robin dispatch in arrival order)
        calls = ray.get([r.num_calls.remote() for r in run.rewarders])
        assert sum(calls) == 4 and min(calls) >= 1
    finally:
        run.shutdown()


def test_draft_iterations_run_on_the_actors(local_ray, tiny_base):
    """rl.algorithm=draft through the Ray roles: the learner gets the normaliser, replays the chains it is sent and
    logs the errors relative to the base; the reward actors' scores are still logged."""
    cfg = _cfg(tiny_base, "rl.algorithm=draft", "rl.draft_steps=2", "rl.lr=1e-3")
    run = RLRun(cfg, *_inputs(cfg))
    try:
        m1, m2 = run.iteration(0), run.iteration(1)
        assert m1["train/rel_pen"] == pytest.approx(1.0) and m1["train/steps_trained"] == 2.0
        assert m2["train/version"] == 2 and m2["train/grad_norm"] > 0 and "reward/fgd" in m2
    finally:
        run.shutdown()


def _kill_during(run, it, pid, delay):
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("m", run.iteration(it)))
    t.start()
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)
    t.join(timeout=240)
    assert not t.is_alive(), "iteration did not finish after the kill"
    return out["m"]


def test_reward_actor_killed_mid_iteration(local_ray, tiny_base):
    cfg = _cfg(tiny_base, "rl.conditions_per_iter=4", "cluster.chunk_size=2")
    run = RLRun(cfg, *_inputs(cfg))
    try:
        run.iteration(0)
        pid = ray.get(run.rewarders[0].pid.remote())
        m = _kill_during(run, 1, pid, delay=0.3)
        # every sample scored exactly once: the learner checks each chunk's keys against its rollout
        assert m["samples"] == 8 and m["train/version"] == 2
        assert ray.get(run.rewarders[0].pid.remote()) != pid  # restarted process
        assert run.iteration(2)["train/version"] == 3  # and the run goes on
    finally:
        run.shutdown()


def test_sampler_killed_mid_iteration_restarts_with_latest_weights(local_ray, tiny_base):
    cfg = _cfg(tiny_base, "rl.conditions_per_iter=4", "cluster.chunk_size=2")
    run = RLRun(cfg, *_inputs(cfg))
    try:
        run.iteration(0)
        pid = ray.get(run.samplers[0].pid.remote())
        m = _kill_during(run, 1, pid, delay=0.2)
        assert m["train/version"] == 2 and m["train/staleness"] == 0  # sampled with the latest weights (version 1)
        assert ray.get(run.samplers[0].pid.remote()) != pid
        assert run.iteration(2)["train/staleness"] == 0
    finally:
        run.shutdown()


def test_lag_mode_overlaps_learner_with_next_sampling(local_ray, tiny_base):
    cfg = _cfg(tiny_base, "rl.algorithm=ppo_clip", "rl.lag=true")
    run = RLRun(cfg, *_inputs(cfg))
    try:
        staleness = [run.iteration(i)["train/staleness"] for i in range(3)]
        assert staleness == [0, 1, 1]  # after the first, each batch was sampled one version behind
    finally:
        run.shutdown()


def test_ray_loop_equals_serial_loop(local_ray, tiny_base):
    cfg = _cfg(tiny_base, "rl.conditions_per_iter=2", "cluster.chunk_size=2")
    base, music, keys = _inputs(cfg)
    run = RLRun(cfg, base, music, keys)
    try:
        ray_m = [run.iteration(i) for i in range(2)]
        ray_w = ray.get(run.learner.get_weights.remote())
    finally:
        run.shutdown()
    loop = serial_loop(cfg, base, music, keys)
    ser_m = [loop.iteration(i) for i in range(2)]
    # iteration 1: same seeds and weights → the same samples (float-level differences between processes only)
    for k in ("reward/fgd", "reward/antifreeze"):
        assert ray_m[0][k] == pytest.approx(ser_m[0][k], rel=1e-4, abs=1e-6), k
    # later iterations inherit the simulator's amplification through the update (imitation → advantages → weights)
    for a, b in zip(ray_m, ser_m):
        for k in ("reward/fgd", "reward/antifreeze"):
            assert a[k] == pytest.approx(b[k], rel=2e-3), k
        # contact-rich simulation amplifies float-level differences between processes (BLAS thread layout)
        assert a["reward/imitation"] == pytest.approx(b["reward/imitation"], rel=0.05, abs=1e-3)
    ser_w = loop.learner.get_weights()
    # same samples, same update: weights agree up to how the imitation term perturbs the advantages
    assert max(float(np.abs(ray_w[k] - ser_w[k]).max()) for k in ser_w) < 1e-3


def test_actor_and_serial_roles_get_identical_settings(local_ray, tiny_base):
    """One config, two wirings: the Ray actors and the in-process roles are built with the same settings, including
    those the hand-built serial copies used to miss (rl.ddim_steps, timesteps, clip_denoised, reward weights, the
    simulator's threads)."""
    cfg = _cfg(tiny_base, "rl.ddim_steps=3", "diffusion.timesteps=500", "diffusion.clip_denoised=false",
               "diffusion.eta=0.5", "rewards.fgd.weight=0.3", "rewards.skating.weight=0.2", "cluster.reward_threads=2",
               "sim.kp_scale=2.5", "rl.lr=3e-5", "rl.kl_weight=0.1", "rl.adv_std_floor={imitation: 0.01}",
               "rewards.antifreeze.root=all", "rewards.antifreeze.weight=0.49", "rewards.skating.speed_scale=2.0")
    base, music, keys = _inputs(cfg)
    run = RLRun(cfg, base, music, keys)
    try:
        actors = {"sampler": ray.get(run.samplers[0].settings.remote()),
                  "reward": ray.get(run.rewarders[0].settings.remote()),
                  "learner": ray.get(run.learner.settings.remote())}
    finally:
        run.shutdown()
    sampler, rewarder, learner = serial_roles(cfg, base)
    serial = {"sampler": sampler.settings(), "reward": rewarder.settings(), "learner": learner.settings()}
    assert serial == actors
    s, r, lrn = actors["sampler"], actors["reward"], actors["learner"]
    assert (s["steps"], s["timesteps"], s["clip_denoised"], s["eta"]) == (3, 500, False, 0.5)
    assert r["weights"] == {"imitation": 0.51, "antifreeze": 0.49, "fgd": 0.3, "skating": 0.2}
    assert r["fps"] == cfg.data.fps and r["num_threads"] == 2
    assert r["params"]["imitation"]["sim"]["num_threads"] == 2 and r["params"]["imitation"]["sim"]["kp_scale"] == 2.5
    assert r["params"]["antifreeze"] == {"root": "all"}
    assert r["params"]["skating"] == {"speed_scale": 2.0}
    assert lrn["reward_weights"] == r["weights"]
    assert lrn["rl"]["lr"] == 3e-5 and lrn["rl"]["kl_weight"] == 0.1 and lrn["rl"]["adv_std_floor"] == {"imitation": 0.01}
    assert lrn["diffusion"]["timesteps"] == 500 and lrn["diffusion"]["clip_denoised"] is False
