"""Reward throughput next to the bare MuJoCo cost of the same physics, measured in one run.

For each thread count: clips/s of the imitation reward (retarget, inverse-dynamics setpoints, tracking, scoring), of
``physics_probe`` (the simulator part of PhyMotion) and of the whole
PhyMotion reward; next to the bare cost of exactly the MuJoCo work they contain: the identical tracking trajectories
replayed with ``mujoco.batch.Batch.rollout`` (one C call, no Python per step) plus the same number of ``mj_inverse``
calls (for PhyMotion: ``mj_inverse`` + ``mj_collision`` per frame) in a tight loop on the same
number of threads. ratio = bare time / reward time (1.0 = no overhead; target >= 0.7). Every timing is the best of
``--repeat`` calls, interleaved, so that load from other processes hits both sides alike; still, run it on an idle machine.

    python scripts/bench_rewards.py [--clips 16] [--threads 1 2] [--seconds 5] [--repeat 15]

``--learned rm.pt`` also times the learned reward (E3D2 reward model: FK of a fresh batch + the network, torch on k
threads) on the same clips; ``--skip-sim`` leaves the MuJoCo rewards out.

    python scripts/bench_rewards.py --learned rm.pt --skip-sim --clips 64

``--policy DIR`` times the imitation reward with its two controllers on the same clips: the PD tracker and the
trained RLlib policy (``rewards.imitation.controller=policy``, DIR = `python -m dance_rl.imitation_policy train --out`).

    python scripts/bench_rewards.py --policy runs/ip_demo --skip-sim
"""
from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import mujoco
import numpy as np
from mujoco import batch as mj_batch

from dance_rl.config import SimConfig
from dance_rl.errors import cli_main
from dance_rl.rewards.imitation import imitation_reward
from dance_rl.rewards.imitation_policy import policy_imitation_reward
from dance_rl.sim.dynamics import _contact_free, _without_floor, physics_probe
from dance_rl.sim.humanoid import humanoid_model
from dance_rl.sim.retarget import motion_to_qpos
from dance_rl.sim.tracker import Tracker


def clips(n: int, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """n real clips (demo corpus sources, cycled) of ``seconds`` at 30 fps."""
    from dance_rl.data import demo
    names = ("dance_a", "dance_b", "jump", "walk", "punch", "spin")
    src = [demo.clip_motion(demo.source_clip(name), seconds=seconds) for name in names]
    poses = np.stack([src[i % len(src)][0] for i in range(n)])
    trans = np.stack([src[i % len(src)][1] for i in range(n)])
    return poses, trans


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    """Best of ``repeat`` wall times (the first call also warms caches)."""
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _split(n: int, k: int) -> list[range]:
    return [range(i, n, k) for i in range(min(k, n))]


def bare_inverse(model: mujoco.MjModel, qpos: np.ndarray, threads: int, collide: bool = False):
    """A call running one contact-free mj_inverse (and optionally mj_collision on its kinematics, as
    ``physics_probe`` does) per frame of qpos (N,T,nq)."""
    flat = qpos.reshape(-1, qpos.shape[-1])
    free, no_floor = _contact_free(model), _without_floor(model)

    def work(rows):
        d = mujoco.MjData(model)
        for r in rows:
            d.qpos[:] = flat[r]
            mujoco.mj_inverse(free, d)
            if collide:
                mujoco.mj_collision(no_floor, d)

    def run():
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(work, _split(len(flat), threads)))
    return run


def bare_tracking(tracker: Tracker, qpos_ref: np.ndarray, steps: np.ndarray, threads: int):
    """A call replaying the tracker's setpoints from the same start states in one rollout; it runs max(steps) per
    clip, so its time is charged pro rata (terminated clips stop early in the tracker)."""
    m = tracker.model(30.0)
    _, nsub = tracker.rates(30.0)
    ctrl, qvel = tracker.setpoints(qpos_ref, 30.0)
    n = int(steps.max())
    per_step = np.ascontiguousarray(np.repeat(ctrl[:, 1:], nsub, axis=1)[:, :n])  # setpoint of each physics step
    batch = mj_batch.Batch(m, nsim=len(qpos_ref), nthread=threads)

    def run():
        batch.reset(stage=mujoco.mjtStage.mjSTAGE_NONE)
        batch.bind("qpos")[:] = qpos_ref[:, 0]
        batch.bind("qvel")[:] = qvel[:, 0]
        batch.rollout(n, control=per_step, record=())
    return run, steps.sum() / (n * len(steps))


def bench_learned(checkpoint: str, poses: np.ndarray, trans: np.ndarray, threads: int, repeat: int) -> float:
    """clips/s of the learned reward on fresh batches (FK included, as a reward actor pays it), torch on ``threads``."""
    import torch

    from dance_rl.rewards.batch import MotionBatch
    from dance_rl.rewards.learned import learned

    music = np.random.default_rng(0).standard_normal(poses.shape[:2] + (35,)).astype(np.float32)
    torch.set_num_threads(threads)
    best = timed(lambda: learned(MotionBatch(poses, trans, 30.0, music=music), checkpoint=checkpoint, device="cpu"),
                 repeat)[0]
    return len(poses) / best


def bench_policy(policy: str, poses: np.ndarray, trans: np.ndarray, threads: int, repeat: int) -> tuple[float, float]:
    """clips/s of the imitation reward with the PD tracker and with the trained policy (best of ``repeat``,
    interleaved; torch on one thread, as in a reward actor)."""
    import torch
    torch.set_num_threads(1)
    sim = SimConfig(num_threads=threads)
    policy_imitation_reward(poses[:1], trans[:1], 30.0, policy_checkpoint=policy)  # load once
    pd, pol = np.inf, np.inf
    for _ in range(repeat):
        pd = min(pd, timed(lambda: imitation_reward(poses, trans, 30.0, sim=sim), 1)[0])
        pol = min(pol, timed(lambda: policy_imitation_reward(poses, trans, 30.0, sim=sim,
                                                             policy_checkpoint=policy), 1)[0])
    return len(poses) / pd, len(poses) / pol


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=int, default=16)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--repeat", type=int, default=15, help="interleaved repeats; each timing is the best of them")
    ap.add_argument("--learned", default=None, metavar="CKPT", help="also time the learned reward of this model")
    ap.add_argument("--skip-sim", action="store_true", help="leave out the MuJoCo rewards")
    ap.add_argument("--policy", default=None, metavar="DIR", help="also time imitation with this trained policy")
    args = ap.parse_args(argv)
    poses, trans = clips(args.clips, args.seconds)
    if args.policy:
        for k in args.threads:
            pd, pol = bench_policy(args.policy, poses, trans, k, args.repeat)
            print(f"threads={k} imitation ({args.clips} clips x {args.seconds:g} s): PD tracker {pd:7.2f} clips/s | "
                  f"policy {pol:7.2f} clips/s | policy/PD {pol / pd:.2f}")
    if args.learned:
        for k in args.threads:
            print(f"threads={k} learned ({args.clips} clips x {args.seconds:g} s): "
                  f"{bench_learned(args.learned, poses, trans, k, args.repeat):8.1f} clips/s")
    if args.skip_sim:
        return 0
    qpos = motion_to_qpos(poses, trans)
    from dance_rl.rewards.batch import MotionBatch
    from dance_rl.rewards.phymotion import phymotion

    model = humanoid_model()
    print(f"{args.clips} clips x {args.seconds:g} s at 30 fps, MuJoCo {mujoco.__version__}")
    for k in args.threads:
        tracker = Tracker(SimConfig(num_threads=k))
        res = tracker.track(qpos, 30.0)  # step counts of the same rollouts
        replay, share = bare_tracking(tracker, qpos, res.steps, k)
        inverse, collide = bare_inverse(tracker.model(30.0), qpos, k), bare_inverse(model, qpos, k, collide=True)
        imit, step, inv, probe, coll, phy = (np.inf,) * 6
        for _ in range(args.repeat):  # interleaved best-of-N
            imit = min(imit, timed(lambda: imitation_reward(poses, trans, 30.0, sim=tracker), 1)[0])
            step, inv = min(step, timed(replay, 1)[0] * share), min(inv, timed(inverse, 1)[0])
            probe = min(probe, timed(lambda: physics_probe(poses, trans, 30.0, nthread=k), 1)[0])
            coll = min(coll, timed(collide, 1)[0])
            phy = min(phy, timed(lambda: phymotion(MotionBatch(poses, trans, 30.0), nthread=k), 1)[0])
        n, frames = args.clips, qpos.shape[0] * qpos.shape[1]
        print(f"threads={k} imitation: {n / imit:7.2f} clips/s | bare MuJoCo ({res.steps.sum()} mj_step + {frames} "
              f"mj_inverse): {n / (step + inv):7.2f} clips/s | ratio {(step + inv) / imit:.2f}")
        for name, t in (("physics_probe", probe), ("phymotion", phy)):
            if np.isfinite(t):
                print(f"threads={k} {name}: {n / t:7.2f} clips/s | bare MuJoCo ({frames} mj_inverse + mj_collision): "
                      f"{n / coll:7.2f} clips/s | ratio {coll / t:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(cli_main(main))
