"""Reward throughput next to the bare MuJoCo cost of the same physics, measured in one run.

For each thread count: clips/s of the imitation reward (retarget, inverse-dynamics setpoints, tracking, scoring) and,
when ``dance_rl.rewards.phymotion`` exists, of PhyMotion scoring; then the bare cost of exactly the MuJoCo work they
contain: the identical tracking trajectories replayed with ``mujoco.batch.Batch.rollout`` (one C call, no Python
per step) plus the same number of ``mj_inverse`` calls (and, for PhyMotion, ``mj_kinematics`` + ``mj_collision``)
in a tight loop on the same number of threads. ratio = bare time / reward time (1.0 = no overhead; target ≥ 0.7).

    python scripts/bench_rewards.py [--clips 16] [--threads 1 2] [--seconds 5]
"""
from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import mujoco
import numpy as np
from mujoco import batch as mj_batch

from dance_rl.errors import cli_main
from dance_rl.rewards.imitation import imitation_reward
from dance_rl.sim.dynamics import physics_probe
from dance_rl.sim.humanoid import humanoid_model
from dance_rl.sim.retarget import motion_to_qpos
from dance_rl.sim.tracker import Tracker, TrackerConfig


def clips(n: int, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """n real clips (demo corpus sources, cycled) of ``seconds`` at 30 fps."""
    from dance_rl.data import demo
    names = ("dance_a", "dance_b", "jump", "walk", "punch", "spin")
    src = [demo.clip_motion(demo.source_clip(name), seconds=seconds) for name in names]
    poses = np.stack([src[i % len(src)][0] for i in range(n)])
    trans = np.stack([src[i % len(src)][1] for i in range(n)])
    return poses, trans


def timed(fn, repeat: int = 2) -> tuple[float, object]:
    """Best of ``repeat`` wall times (the first call also warms caches)."""
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _split(n: int, k: int) -> list[range]:
    return [range(i, n, k) for i in range(min(k, n))]


def bare_inverse(model: mujoco.MjModel, qpos: np.ndarray, threads: int, collide: bool = False) -> float:
    """Time of one mj_inverse (and optionally mj_kinematics + mj_collision) per frame of qpos (N,T,nq)."""
    flat = qpos.reshape(-1, qpos.shape[-1])

    def work(rows):
        d = mujoco.MjData(model)
        for r in rows:
            d.qpos[:] = flat[r]
            mujoco.mj_inverse(model, d)
            if collide:
                mujoco.mj_kinematics(model, d)
                mujoco.mj_collision(model, d)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, _split(len(flat), threads)))
    return time.perf_counter() - t0


def bare_tracking(tracker: Tracker, qpos_ref: np.ndarray, steps: np.ndarray, threads: int) -> float:
    """Replay the tracker's setpoints for the same number of physics steps per clip, in one rollout call."""
    m = tracker.model(30.0)
    cpf, nsub = tracker.rates(30.0)
    ctrl, qvel = tracker.setpoints(qpos_ref, 30.0)
    per_step = np.repeat(ctrl[:, 1:], nsub, axis=1)  # setpoint of each physics step
    batch = mj_batch.Batch(m, nsim=len(qpos_ref), nthread=threads)
    batch.reset(stage=mujoco.mjtStage.mjSTAGE_NONE)
    batch.bind("qpos")[:] = qpos_ref[:, 0]
    batch.bind("qvel")[:] = qvel[:, 0]
    n = int(steps.max())
    t0 = time.perf_counter()
    batch.rollout(n, control=per_step[:, :n], record=())
    elapsed = time.perf_counter() - t0
    return elapsed * steps.sum() / (n * len(steps))  # charge only the steps the tracker ran


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=int, default=16)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args(argv)
    poses, trans = clips(args.clips, args.seconds)
    qpos = motion_to_qpos(poses, trans)
    try:
        from dance_rl.rewards.batch import MotionBatch
        from dance_rl.rewards.phymotion import phymotion
    except ImportError:
        phymotion = None
    model = humanoid_model()
    print(f"{args.clips} clips x {args.seconds:g} s at 30 fps, MuJoCo {mujoco.__version__}")
    for k in args.threads:
        tracker = Tracker(TrackerConfig(num_threads=k))
        t_imit, out = timed(lambda: imitation_reward(poses, trans, 30.0, sim=tracker))
        res = tracker.track(qpos, 30.0)  # step counts of the same rollouts
        t_step = bare_tracking(tracker, qpos, res.steps, k)
        t_inv = bare_inverse(tracker.model(30.0), qpos, k)
        bare = t_step + t_inv
        print(f"threads={k} imitation: {args.clips / t_imit:7.2f} clips/s | bare MuJoCo ({res.steps.sum()} mj_step "
              f"+ {qpos.shape[0] * qpos.shape[1]} mj_inverse): {args.clips / bare:7.2f} clips/s | "
              f"ratio {bare / t_imit:.2f} | mean reward {out['per_sample'].mean():.3f}")
        bare_p = bare_inverse(model, qpos, k, collide=True)
        t_probe, _ = timed(lambda: physics_probe(poses, trans, 30.0, nthread=k))
        line = (f"threads={k} %s: {args.clips:d} clips / %.3f s = %7.2f clips/s | bare MuJoCo "
                f"({qpos.shape[0] * qpos.shape[1]} mj_inverse + mj_collision): {args.clips / bare_p:7.2f} clips/s | "
                f"ratio %.2f")
        print(line % ("physics_probe (sim part of PhyMotion)", t_probe, args.clips / t_probe, bare_p / t_probe))
        if phymotion is not None:
            t_phy, _ = timed(lambda: phymotion(MotionBatch(poses, trans, 30.0), nthread=k))
            print(line % ("phymotion (whole reward)", t_phy, args.clips / t_phy, bare_p / t_phy))
    return 0


if __name__ == "__main__":
    sys.exit(cli_main(main))
