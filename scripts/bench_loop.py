"""Benchmark: samples/s of the Ray RLFT loop vs the same iteration run serially in one process (same seeds, same
work), and overlap efficiency (best possible pipelined time / measured time) with 1 and 2 reward actors.

    python scripts/bench_loop.py [--iterations 3] [--conditions 4] [--steps 10] [--base-checkpoint PATH]

Uses the cached demo base model (or --base-checkpoint) and the demo corpus. Prints one table; ratios come from one run.
"""
from __future__ import annotations

import argparse
import os
import statistics

import ray

from dance_rl.cluster.inputs import load_base_model, load_conditions
from dance_rl.cluster.roles import serial_loop
from dance_rl.cluster.run import RLRun, init_ray
from dance_rl.config import load_config


def measure(loop_or_run, iterations: int) -> dict:
    loop_or_run.iteration(0)  # warm-up: weights load, numba/JIT, MuJoCo model build
    ms = [loop_or_run.iteration(i) for i in range(1, iterations + 1)]
    return {"samples_per_s": statistics.median(m["time/samples_per_s"] for m in ms),
            "overlap": statistics.median(m["time/overlap_efficiency"] for m in ms),
            "iteration_s": statistics.median(m["time/iteration_s"] for m in ms)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--iterations", type=int, default=3)
    p.add_argument("--conditions", type=int, default=4)
    p.add_argument("--per-condition", type=int, default=4)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--chunk", type=int, default=4)
    p.add_argument("--base-checkpoint", default="")
    args = p.parse_args()
    over = [f"rl.conditions_per_iter={args.conditions}", f"rl.samples_per_condition={args.per_condition}",
            f"diffusion.ddim_steps={args.steps}", f"cluster.chunk_size={args.chunk}",
            "cluster.sampler_cpus=0.5", "cluster.learner_cpus=0.5", "cluster.reward_cpus=0.5",
            f"rl.base_checkpoint={args.base_checkpoint}"]
    cfg = load_config(None, over)
    base = load_base_model(cfg)
    music, keys = load_conditions(cfg)
    rows = {}
    # serial: one process, same seeds, same work, the roles a Ray run of this config builds (cluster/roles.py)
    serial = serial_loop(cfg, base, music, keys)
    rows["serial (1 process)"] = measure(serial, args.iterations)
    init_ray()
    for n_rew in (1, 2):
        c = load_config(None, over + [f"cluster.num_reward_actors={n_rew}"])
        run = RLRun(c, base, music, keys)
        try:
            rows[f"ray, 1 sampler, {n_rew} reward actor(s)"] = measure(run, args.iterations)
        finally:
            run.shutdown()
    ray.shutdown()
    ser = rows["serial (1 process)"]["samples_per_s"]
    print(f"\nloop benchmark: {args.conditions}×{args.per_condition} samples/iteration, {args.steps} DDIM steps, "
          f"chunk {args.chunk}, {os.cpu_count()} cores, median of {args.iterations} iterations")
    print("| setup | samples/s | vs serial | iteration s | overlap efficiency |")
    print("|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['samples_per_s']:.2f} | {r['samples_per_s'] / ser:.2f}× | {r['iteration_s']:.2f} | "
              f"{r['overlap']:.2f} |")


if __name__ == "__main__":
    main()
