"""The GPU path in one run (≤ 5 min on one GPU): sampler, learner, pretraining and DanceDecoder vs EDGE's module.

    python scripts/bench_gpu.py [--device auto] [--small] [--parts sampler,learner,pretrain,edge] [--edge-src DIR]
                                [--no-ddp]

Prints, on the chosen device (auto = CUDA when present; on a CPU machine the small version runs by itself):
1. sampler frames/s, demo and EDGE presets, fp32 vs bf16 autocast, CFG on (w = 2), chains and log-probs stored;
2. learner update (REINFORCE, one policy_update) s/iteration and peak memory at 10 vs 50 DDIM steps, and with
   micro-batches. Peak memory: torch.cuda.max_memory_allocated on a GPU; on the CPU the peak of bytes saved for
   backward (autograd saved tensors alive at once), which is what grows if a learner keeps every step's graph;
3. pretraining optimiser steps/s with 1 worker (embedded loop) vs all GPUs (Ray Train DDP; 2 gloo workers on CPU);
4. forward time of our DanceDecoder next to EDGE's own module at the same config. EDGE's model code is fetched at
   benchmark time into a temp dir (never committed; needs `einops`); --edge-src DIR uses a local EDGE checkout.
Weights are random (cost does not depend on values); timings are the best of --repeats after a warm-up.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import torch

from dance_rl.config import load_config
from dance_rl.diffusion.device import autocast, resolve_device, resolve_precision
from dance_rl.diffusion.model import DanceDecoder, ModelSpec, count_parameters
from dance_rl.diffusion.sampler import ddim_sample
from dance_rl.diffusion.schedule import NoiseSchedule
from dance_rl.motion.representation import Normalizer
from dance_rl.rl.rollout import Rollout
from dance_rl.rl.update import policy_update

EDGE_COMMIT = "17c3428669ed6733edd9d8c66f7dc62060b8e46d"
EDGE_FILES = ("model/model.py", "model/utils.py", "model/rotary_embedding_torch.py")
EDGE_URL = "https://raw.githubusercontent.com/Stanford-TML/EDGE/{commit}/{path}"


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_time(fn, device, repeats: int) -> float:
    fn()  # warm-up: allocator, kernels, rotary cache
    sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return min(times)


def interleaved_best(fa, fb, device, repeats: int) -> tuple[float, float]:
    """Best times of two calls measured alternately, so load changes on a shared machine hit both alike."""
    ta, tb = [], []
    fa(), fb()
    for _ in range(repeats):
        for f, acc in ((fa, ta), (fb, tb)):
            sync(device)
            t0 = time.perf_counter()
            f()
            sync(device)
            acc.append(time.perf_counter() - t0)
    return min(ta), min(tb)


def make_model(preset: str, device, seq_len: int = 150) -> DanceDecoder:
    torch.manual_seed(0)
    return DanceDecoder(ModelSpec.preset(preset, dropout=0.0, seq_len=seq_len)).to(device).eval()


# -- 1. sampler -------------------------------------------------------------------------------------------------------
def bench_sampler(device, presets, batch: int, steps: int, precisions, repeats: int) -> list[dict]:
    rows = []
    for preset in presets:
        model = make_model(preset, device)
        cond = torch.randn(batch, 150, 35, device=device)
        for prec in precisions:
            def run():
                with torch.inference_mode(), autocast(device, prec):
                    ddim_sample(model, NoiseSchedule(1000), cond, steps=steps, guidance_weight=2.0,
                                generator=torch.Generator().manual_seed(0))
            s = best_time(run, device, repeats)
            rows.append({"preset": preset, "precision": prec, "batch": batch, "steps": steps, "s_per_chain": s,
                         "frames_per_s": batch * 150 / s, "params_M": count_parameters(model) / 1e6})
            print(f"sampler  {preset:5s} {prec:4s} batch {batch:3d} × {steps} steps, CFG: {s:7.3f} s/chain, "
                  f"{batch * 150 / s:9.1f} frames/s", flush=True)
    return rows


# -- 2. learner -------------------------------------------------------------------------------------------------------
class SavedTensorPeak:
    """Peak bytes of tensors saved for backward alive at once (CPU stand-in for max_memory_allocated)."""

    def __init__(self):
        self.live = self.peak = 0
        tracker = self

        class Box:
            def __init__(self, t):
                self.t, self.n = t, t.numel() * t.element_size()
                tracker.live += self.n
                tracker.peak = max(tracker.peak, tracker.live)

            def __del__(self):
                tracker.live -= self.n

        self._hooks = torch.autograd.graph.saved_tensors_hooks(Box, lambda box: box.t)

    def __enter__(self):
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc):
        self._hooks.__exit__(*exc)


def bench_learner(device, preset: str, batch: int, step_counts, micro_batches, precision: str) -> list[dict]:
    rows = []
    model = make_model(preset, device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-6)
    cond = torch.randn(batch, 150, 35, device=device)
    for steps in step_counts:
        with torch.no_grad(), autocast(device, precision):  # not inference_mode: the rotary cache is reused below
            res = ddim_sample(model, NoiseSchedule(1000), cond, steps=steps, guidance_weight=2.0,
                              generator=torch.Generator().manual_seed(0))
        rollout = Rollout(keys=[i // 4 for i in range(batch)], cond=cond.clone(), latents=res.latents.clone(),
                          timesteps=res.timesteps, next_timesteps=res.next_timesteps, log_probs=res.log_probs.clone(),
                          guidance_weights=res.guidance_weights, version=0)
        adv = torch.randn(batch, 150, device=device)
        for mb in micro_batches:
            def run():
                policy_update(model, NoiseSchedule(1000), opt, rollout, adv, micro_batch=mb, precision=precision)
            run()  # warm-up (optimizer state allocated)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
                torch.cuda.reset_peak_memory_stats(device)
                base = torch.cuda.memory_allocated(device)
                t0 = time.perf_counter()
                run()
                torch.cuda.synchronize(device)
                s = time.perf_counter() - t0
                peak = torch.cuda.max_memory_allocated(device) - base
                what = "cuda max_memory_allocated above resident"
            else:
                with SavedTensorPeak() as tr:
                    t0 = time.perf_counter()
                    run()
                    s = time.perf_counter() - t0
                peak, what = tr.peak, "peak saved-for-backward bytes"
            rows.append({"preset": preset, "steps": steps, "batch": batch, "micro_batch": mb or batch,
                         "s_per_iter": s, "peak_MiB": peak / 2 ** 20, "memory": what})
            print(f"learner  {preset:5s} {precision:4s} batch {batch:3d} micro {mb or batch:3d} {steps:3d} steps: "
                  f"{s:7.2f} s/iter, peak {peak / 2 ** 20:8.1f} MiB ({what})", flush=True)
    return rows


# -- 3. pretraining ---------------------------------------------------------------------------------------------------
class RandomWindows(torch.utils.data.Dataset):
    normalizer = Normalizer(-torch.ones(151), torch.ones(151))

    def __init__(self, n: int):
        g = torch.Generator().manual_seed(0)
        self.x, self.music = torch.rand(n, 150, 151, generator=g) * 2 - 1, torch.randn(n, 150, 35, generator=g)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.music[i], str(i)


def _steps_per_s(history: list) -> float:
    a, b = history[0], history[-1]  # logged every 10 steps with seconds since the loop started (no start-up)
    return (b["step"] - a["step"]) / max(b["seconds"] - a["seconds"], 1e-9)


def bench_pretrain(device, preset: str, batch: int, steps: int, workers: int, use_gpu: bool, tmp: Path) -> list[dict]:
    from dance_rl.diffusion.trainer import pretrain

    over = [f"model.preset={preset}", "model.dropout=0.0", f"pretrain.batch_size={batch}", "pretrain.max_minutes=0",
            f"pretrain.checkpoint_every={steps}", f"pretrain.device={device}"]
    data = RandomWindows(max(4 * batch, 64))
    res = pretrain(load_config(None, over), tmp / "one.pt", dataset=data, progress=False, steps=steps)
    rows = [{"preset": preset, "workers": 1, "batch": batch, "steps_per_s": _steps_per_s(res["history"])}]
    print(f"pretrain {preset:5s} batch {batch:3d}, 1 worker (embedded): {rows[0]['steps_per_s']:6.2f} steps/s",
          flush=True)
    if workers > 1:
        import ray

        from dance_rl.cluster.pretrain_ray import pretrain_distributed

        ray.init(address="local", num_cpus=max(workers + 1, 3), include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"OMP_WAIT_POLICY": "PASSIVE"}})
        try:
            cfg = load_config(None, over[:-1] + [f"pretrain.num_workers={workers}", f"pretrain.use_gpu={use_gpu}",
                                                 f"pretrain.storage_path={tmp / 'ray'}"])
            res = pretrain_distributed(cfg, tmp / "ddp.pt", steps=steps, dataset=data, run_name="bench")
        finally:
            ray.shutdown()
        rows.append({"preset": preset, "workers": workers, "batch": batch, "steps_per_s": _steps_per_s(res["history"])})
        print(f"pretrain {preset:5s} batch {batch:3d}, {workers} workers (Ray Train DDP, "
              f"{'nccl' if use_gpu else 'gloo'}): {rows[-1]['steps_per_s']:6.2f} steps/s", flush=True)
    return rows


# -- 4. DanceDecoder vs EDGE's module ---------------------------------------------------------------------------------
def fetch_edge(dest: Path, src: str | None) -> Path:
    """EDGE's model package in dest/model (copied from --edge-src, else downloaded at the pinned commit)."""
    if (dest / "model" / "model.py").is_file():
        return dest
    (dest / "model").mkdir(parents=True, exist_ok=True)
    (dest / "model" / "__init__.py").write_text("")
    for rel in EDGE_FILES:
        if src:
            text = (Path(src) / rel).read_text()
        else:
            with urllib.request.urlopen(EDGE_URL.format(commit=EDGE_COMMIT, path=rel), timeout=20) as r:
                text = r.read().decode()
        (dest / rel).write_text(text)
    return dest


def bench_vs_edge(device, preset: str, batch: int, repeats: int, edge_src: str | None, tmp: Path) -> list[dict]:
    try:
        root = fetch_edge(tmp / "edge", edge_src)
        sys.path.insert(0, str(root))
        from model.model import DanceDecoder as EdgeDecoder  # EDGE's own module, imported from the temp dir
    except Exception as e:  # no network / no einops: say so, measure the rest
        print(f"edge     skipped: EDGE's module unavailable ({type(e).__name__}: {e}); "
              "pass --edge-src DIR (an EDGE checkout) and pip install einops", flush=True)
        return []
    ours = make_model(preset, device)
    s = ours.spec
    torch.manual_seed(0)
    theirs = EdgeDecoder(nfeats=151, seq_len=150, latent_dim=s.latent_dim, ff_size=s.ff_size, num_layers=s.num_layers,
                         num_heads=s.num_heads, dropout=0.0, cond_feature_dim=35).to(device).eval()
    x, cond = torch.randn(batch, 150, 151, device=device), torch.randn(batch, 150, 35, device=device)
    t = torch.full((batch,), 500, device=device, dtype=torch.long)
    rows = []
    for name, fn in (("forward", lambda m: m(x, cond, t)), ("guided w=2", lambda m: m.guided_forward(x, cond, t, 2.0))):
        with torch.inference_mode():
            a, b = interleaved_best(lambda: fn(ours), lambda: fn(theirs), device, repeats)
        rows.append({"preset": preset, "call": name, "batch": batch, "ours_ms": 1e3 * a, "edge_ms": 1e3 * b,
                     "params_ours_M": count_parameters(ours) / 1e6, "params_edge_M": count_parameters(theirs) / 1e6})
        print(f"edge     {preset:5s} {name:10s} batch {batch:3d}: DanceDecoder {1e3 * a:8.2f} ms, EDGE {1e3 * b:8.2f} ms "
              f"(ratio {b / a:4.2f}; params {rows[-1]['params_ours_M']:.2f} M vs {rows[-1]['params_edge_M']:.2f} M)",
              flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--small", action="store_true", help="the CPU-sized version (default on a CPU)")
    ap.add_argument("--edge-src", default=None, help="local EDGE checkout (folder with model/model.py)")
    ap.add_argument("--no-ddp", action="store_true", help="skip the Ray Train run")
    ap.add_argument("--parts", default="sampler,learner,pretrain,edge", help="comma-separated subset to run")
    ap.add_argument("--repeats", type=int, default=0, help="timed repeats (0 = the version's default)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    args = ap.parse_args()
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    gpu = device.type == "cuda"
    small = args.small or not gpu
    low = "bf16" if gpu or small else "off"  # bf16 autocast runs on CPUs too (slowly without AMX)
    print(f"device {device} ({torch.cuda.get_device_name(device) if gpu else 'CPU'}), torch {torch.__version__}, "
          f"{'small' if small else 'full'} version, {torch.get_num_threads()} threads; auto precision here: "
          f"{resolve_precision('auto', device)}", flush=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        parts, r = set(args.parts.split(",")), args.repeats
        if small:
            if "sampler" in parts:
                bench_sampler(device, ["demo"], 8, 10, ["off", low], r or 2)
                bench_sampler(device, ["edge"], 2, 2, ["off"], r or 1)  # bf16 on a CPU without AMX: ~12× slower
            if "learner" in parts:
                bench_learner(device, "demo", 8, [10, 50], [0, 2], "off")
            if "pretrain" in parts:
                bench_pretrain(device, "demo", 8, 30, 1 if args.no_ddp else 2, False, tmp)
            if "edge" in parts:
                bench_vs_edge(device, "demo", 8, r or 5, args.edge_src, tmp)
                bench_vs_edge(device, "edge", 2, r or 2, args.edge_src, tmp)
        else:
            n_gpu, auto = torch.cuda.device_count(), resolve_precision("auto", device)
            if "sampler" in parts:
                bench_sampler(device, ["demo", "edge"], 64, 50, ["off", "bf16"], r or 3)
            if "learner" in parts:
                bench_learner(device, "edge", 16, [10, 50], [0, 4], auto)
                bench_learner(device, "edge", 64, [50], [0, 16], auto)  # EDGE-size batch, micro-batched
            if "pretrain" in parts:
                bench_pretrain(device, "edge", 64, 60, 1 if args.no_ddp else n_gpu, n_gpu > 1, tmp)
            if "edge" in parts:
                bench_vs_edge(device, "edge", 64, r or 10, args.edge_src, tmp)
    print(f"total {time.perf_counter() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
