"""Plot TensorBoard scalars of one or more runs side by side (PNG) and print a start/end table.

    python scripts/plot_runs.py RUN_DIR [RUN_DIR ...] --tags reward/imitation reward/fgd motion/magnitude \
        [--labels a b] [--smooth 5] --out curves.png

RUN_DIR is a `python -m dance_rl.train --out` directory (its tb/ folder is read) or a TensorBoard folder. Raw values
are drawn thin, a centred moving average of --smooth iterations thick; the table compares the mean of the first and
last --smooth iterations, which is what "the reward rose" means on noisy per-iteration batches.

--baseline RUN_DIR (e.g. the same config with rl.lr=0: the frozen base model) plots every run *minus* the baseline
at the same iteration. Runs with the same seed sample the same music and noise each iteration, so this paired
difference removes the batch-to-batch variation of the music and shows what training changed.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from dance_rl.errors import UserError, cli_main


def read_scalars(run: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    folder = run / "tb" if (run / "tb").is_dir() else run
    if not list(folder.glob("events.out.tfevents.*")):
        raise UserError(f"{run}: no TensorBoard event files (expected a train --out directory or a tb folder)")
    ea = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    ea.Reload()
    return {tag: (np.array([e.step for e in ea.Scalars(tag)]), np.array([e.value for e in ea.Scalars(tag)]))
            for tag in ea.Tags()["scalars"]}


def smooth(y: np.ndarray, k: int) -> np.ndarray:
    if k <= 1 or len(y) < k:
        return y
    pad = np.pad(y, (k // 2, k - 1 - k // 2), mode="edge")
    return np.convolve(pad, np.ones(k) / k, mode="valid")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--tags", nargs="+", required=True)
    ap.add_argument("--labels", nargs="+", default=None)
    ap.add_argument("--smooth", type=int, default=5)
    ap.add_argument("--baseline", type=Path, default=None, help="plot runs minus this run, iteration by iteration")
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args(argv)
    labels = args.labels or [r.name for r in args.runs]
    if len(labels) != len(args.runs):
        raise UserError(f"--labels: {len(labels)} labels for {len(args.runs)} runs")
    data = [read_scalars(r) for r in args.runs]
    if args.baseline is not None:
        base = read_scalars(args.baseline)
        for scalars in data:
            for tag in list(scalars):
                if tag not in base:
                    continue
                x, y = scalars[tag]
                ref = dict(zip(*base[tag]))
                keep = np.array([s in ref for s in x], bool)
                scalars[tag] = (x[keep], y[keep] - np.array([ref[s] for s in x[keep]]))

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(args.tags), figsize=(4.2 * len(args.tags), 3.4), squeeze=False)
    k = args.smooth
    print(f"| run | tag | first {k} iters | last {k} iters | change |\n|---|---|---|---|---|")
    for ax, tag in zip(axes[0], args.tags):
        for i, (label, scalars) in enumerate(zip(labels, data)):
            if tag not in scalars:
                continue
            x, y = scalars[tag]
            ax.plot(x, y, lw=0.7, alpha=0.4, color=f"C{i}")  # one colour per run in every panel
            ax.plot(x, smooth(y, k), lw=2.0, color=f"C{i}", label=label)
            a, b = y[:k].mean(), y[-k:].mean()
            rel = f" ({(b - a) / abs(a) * 100:+.1f}%)" if args.baseline is None and a else ""
            print(f"| {label} | {tag} | {a:.4g} | {b:.4g} | {b - a:+.3g}{rel} |")
        ax.set_title(tag if args.baseline is None else f"{tag} − base model")
        if args.baseline is not None:
            ax.axhline(0.0, color="k", lw=0.8)
        ax.set_xlabel("iteration")
        ax.legend(fontsize=8)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=90)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(cli_main(main))
