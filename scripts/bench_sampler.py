"""DDIM sampling throughput (generated frames per second) of the base model on CPU; and the pretraining step.

    .venv/bin/python scripts/bench_sampler.py [--presets demo edge] [--batch 8] [--steps 50] [--threads 2]
    .venv/bin/python scripts/bench_sampler.py --pretrain        # eager vs torch.compile, side by side (batch 32)
    .venv/bin/python scripts/bench_sampler.py --pretrain --profile   # where an eager step spends its time

For each preset: one warm-up call, then `--repeats` timed calls of a DDIM chain of `--steps` steps (CFG on, x̂0
clipping, chain and log-probs stored as the RL sampler does) under torch.inference_mode. Every step costs the same,
so frames/s is reported for a full 50-step chain: batch × 150 / (50 × seconds per step); `--steps 10` keeps the EDGE
preset quick on a laptop. Randomly initialised weights: the cost does not depend on the values.
`--pretrain` times diffusion.trainer.train_step on the demo preset at the pretraining batch, eagerly and under
torch.compile (inductor), alternating the two so that a busy machine slows both alike.
"""
from __future__ import annotations

import argparse
import sys
import time

import torch

from dance_rl.diffusion.model import DanceDecoder, ModelSpec, count_parameters
from dance_rl.diffusion.sampler import ddim_sample
from dance_rl.diffusion.schedule import NoiseSchedule


def bench(preset: str, batch: int, steps: int, repeats: int, return_chain: bool) -> dict:
    torch.manual_seed(0)
    model = DanceDecoder(ModelSpec.preset(preset, dropout=0.0)).eval()
    sched = NoiseSchedule(1000)
    cond = torch.randn(batch, model.spec.seq_len, model.spec.cond_dim)
    run = lambda: ddim_sample(model, sched, cond, steps=steps, eta=1.0, guidance_weight=2.0, return_chain=return_chain)
    with torch.inference_mode():
        run()  # warm-up (allocator, rotary cache)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            run()
            times.append(time.perf_counter() - t0)
    per_step = min(times) / steps
    return {"preset": preset, "params": count_parameters(model), "chain50_s": 50 * per_step,
            "frames_per_s": batch * model.spec.seq_len / (50 * per_step), "ms_per_step": 1000 * per_step}


def bench_pretrain(batch: int, repeats: int, profile: bool = False) -> None:
    """Time diffusion.trainer.train_step (q_sample, forward, EDGE loss with FK in metres and Min-SNR weights,
    backward, grad clipping, AdamW) on the demo preset, eager and compiled, alternating; or profile the eager step."""
    from dance_rl.config import PretrainConfig
    from dance_rl.diffusion.device import grad_scaler
    from dance_rl.diffusion.trainer import loss_weights, train_step
    from dance_rl.motion.representation import Normalizer

    torch.manual_seed(0)
    p, sched = PretrainConfig(), NoiseSchedule(1000)
    x = torch.rand(batch, 150, 151) * 2 - 1
    cond, t = torch.randn(batch, 150, 35), torch.randint(0, 1000, (batch,))
    noise, keep = torch.randn_like(x), torch.rand(batch) > 0.25
    unnormalize = Normalizer(-torch.ones(151), torch.ones(151)).unnormalize
    variants = {}
    for name in (("eager",) if profile else ("eager", "compile")):
        model = DanceDecoder(ModelSpec.preset("demo"))
        opt = torch.optim.AdamW(model.parameters(), lr=p.lr, weight_decay=p.weight_decay)
        fwd = torch.compile(model) if name == "compile" else model

        def step(fwd=fwd, opt=opt):
            train_step(fwd, opt, grad_scaler("cpu", "off"), sched, x, cond, t, noise, keep, lr=p.lr, precision="off",
                       unnormalize=unnormalize, weights=loss_weights(p, sched, t))
        t0 = time.perf_counter()
        step()
        print(f"{name}: first step (incl. compilation) {time.perf_counter() - t0:.1f} s", flush=True)
        step()
        variants[name] = (step, [])
    if profile:
        from torch.profiler import ProfilerActivity
        from torch.profiler import profile as torch_profile

        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(repeats):
                variants["eager"][0]()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))
        return
    for _ in range(repeats):
        for step, times in variants.values():
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
    ms = {n: 1000 * sorted(ts)[len(ts) // 2] for n, (_, ts) in variants.items()}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {batch}, median of {repeats} steps")
    for n, v in ms.items():
        print(f"{n:>8}: {v:7.1f} ms per pretraining step")
    print(f"ratio compile/eager: {ms['compile'] / ms['eager']:.2f}x")


def main() -> int | None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--presets", nargs="+", default=["demo", "edge"])
    ap.add_argument("--batch", type=int, default=None, help="default: 8 (sampling), pretrain.batch_size (--pretrain)")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats (default: 2; 10 with --pretrain)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-chain", action="store_true", help="do not store latents/log-probs (plain generation)")
    ap.add_argument("--pretrain", action="store_true", help="time a demo pretraining step, eager vs torch.compile")
    ap.add_argument("--profile", action="store_true", help="with --pretrain: torch.profiler table of an eager step")
    args = ap.parse_args()
    if args.profile and not args.pretrain:
        print("error: --profile profiles the pretraining step: add --pretrain", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    if args.pretrain:
        from dance_rl.config import PretrainConfig

        return bench_pretrain(args.batch or PretrainConfig().batch_size, args.repeats or 10, args.profile)
    args.batch, args.repeats = args.batch or 8, args.repeats or 2
    rows = [bench(p, args.batch, args.steps, args.repeats, not args.no_chain) for p in args.presets]
    print(f"torch {torch.__version__}, {args.threads} threads, batch {args.batch}, timed {args.steps}-step chains, CFG on")
    for r in rows:
        print(f"{r['preset']:>5}: {r['params'] / 1e6:6.2f} M params  {r['chain50_s']:7.2f} s per 50-step chain  "
              f"{r['ms_per_step']:8.1f} ms/step  {r['frames_per_s']:8.1f} frames/s")
    if len(rows) > 1:
        print(f"ratio {rows[0]['preset']}/{rows[1]['preset']} frames/s: {rows[0]['frames_per_s'] / rows[1]['frames_per_s']:.1f}x")


if __name__ == "__main__":
    sys.exit(main())
