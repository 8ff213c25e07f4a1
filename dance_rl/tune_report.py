"""The sweep report: a table of trials (reward weights → final metrics), the best trial by the configured objective,
a Pareto plot (physical plausibility vs motion magnitude) and a rendered clip from the best trial.

Physical plausibility here = mean of the evaluation-set imitation reward (the simulated humanoid can track the dance)
and the PhyMotion score; motion magnitude guards against the trivial "plausible because frozen" solution.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

COLUMNS = ["eval/imitation", "eval/phymotion", "eval/pfc", "eval/fgd", "eval/pen_rate", "eval/motion_magnitude",
           "eval/bas", "reward/imitation", "reward/fgd", "reward/antifreeze", "objective"]


def plausibility(m: dict) -> float:
    vals = [m.get("eval/imitation"), m.get("eval/phymotion")]
    vals = [float(v) for v in vals if v is not None and np.isfinite(v)]
    return float(np.mean(vals)) if vals else float("nan")


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of points not dominated in (x, y), both maximised."""
    front = []
    for i, (x, y) in enumerate(points):
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        if not any((x2 >= x and y2 >= y) and (x2 > x or y2 > y) for j, (x2, y2) in enumerate(points) if j != i):
            front.append(i)
    return front


def trial_rows(results, cfg) -> list[dict]:
    from dance_rl.tune import swept_values, trial_config

    rows = []
    for r in results:
        params = {k: v for k, v in (r.config or {}).items() if k != "base"}
        tcfg = trial_config(r.config["base"], params) if r.config and "base" in r.config else cfg
        m = dict(r.metrics or {})
        name = Path(r.path).name if r.path else "?"
        row = {"trial": "_".join(name.split("_")[2:4]) if name.count("_") >= 3 else name, **swept_values(cfg, tcfg),
               "iterations": m.get("training_iteration", 0), "status": "error" if r.error else "ok",
               "checkpoint": r.checkpoint.path if r.checkpoint else None, "path": r.path}
        row.update({c: m.get(c) for c in COLUMNS})
        row["plausibility"] = plausibility(m)
        rows.append(row)
    return rows


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def write_pareto_plot(rows: list[dict], path: Path) -> list[int]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = [(float(r.get("eval/motion_magnitude") or np.nan), float(r["plausibility"])) for r in rows]
    front = pareto_front(pts)
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    for i, (x, y) in enumerate(pts):
        ax.scatter(x, y, c="tab:red" if i in front else "tab:blue", s=40)
        ax.annotate(rows[i]["trial"], (x, y), fontsize=7,
                    xytext=(3, 3), textcoords="offset points")
    if front:
        fx, fy = zip(*sorted(pts[i] for i in front))
        ax.plot(fx, fy, "r--", lw=1, label="Pareto front")
        ax.legend()
    ax.set_xlabel("motion magnitude (mean |Δ6D|·fps) →")
    ax.set_ylabel("physical plausibility (imitation, PhyMotion) →")
    ax.set_title("reward-weight sweep")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return front


def render_best_clip(best: dict, eval_set, out_dir: Path, log=print) -> Path | None:
    """Sample one evaluation window with the best trial's EMA weights and render it (MP4, or GIF without ffmpeg)."""
    if not best.get("checkpoint"):
        return None
    import torch

    from dance_rl.cluster.run import load_run_checkpoint
    from dance_rl.diffusion.model import DanceDecoder, ModelSpec
    from dance_rl.diffusion.sampler import ddim_sample
    from dance_rl.diffusion.schedule import NoiseSchedule
    from dance_rl.motion.representation import Normalizer, features_to_motion

    ckpt = load_run_checkpoint(Path(best["checkpoint"]) / "run.pt")
    model = DanceDecoder(ModelSpec(**ckpt["spec"])).eval()
    model.load_state_dict(ckpt["ema"])
    normalizer = Normalizer.from_state_dict(ckpt["normalizer"])
    cfg = ckpt["config"]
    music = torch.as_tensor(eval_set[0][:1])
    with torch.inference_mode():
        res = ddim_sample(model, NoiseSchedule(cfg["diffusion"]["timesteps"]), music,
                          steps=cfg["rl"]["ddim_steps"] or cfg["diffusion"]["ddim_steps"], eta=cfg["diffusion"]["eta"],
                          guidance_weight=cfg["diffusion"]["guidance_weight"], return_chain=False,
                          generator=torch.Generator().manual_seed(0))
    poses, trans, contacts = features_to_motion(normalizer.unnormalize(res.x0))
    from dance_rl.render import render_motion

    return render_motion(poses[0].numpy(), trans[0].numpy(), out_dir / "best_clip.mp4", contacts[0].numpy())


def write_report(results, cfg, exp_dir: Path, wall_s: float, base=None, eval_set=None, log=print) -> Path:
    exp_dir.mkdir(parents=True, exist_ok=True)
    rows = trial_rows(results, cfg)
    sign = 1 if cfg.tune.mode == "max" else -1
    ok = [r for r in rows if r["objective"] is not None and np.isfinite(r["objective"])]
    best = max(ok, key=lambda r: sign * r["objective"]) if ok else None
    front = write_pareto_plot(rows, exp_dir / "pareto.png")
    clip = None
    if best is not None and eval_set is not None:
        try:
            clip = render_best_clip(best, eval_set, exp_dir, log=log)
        except Exception as e:  # the report must not be lost to a rendering problem
            log(f"could not render the best trial's clip: {type(e).__name__}: {e}")
    weight_cols = sorted(k for k in rows[0] if k.startswith("w_")) if rows else []
    head = ["trial"] + weight_cols + COLUMNS + ["plausibility", "iterations", "status"]
    lines = [f"# Sweep report: {cfg.tune.name}", "",
             f"{len(rows)} trials, {sum(r['status'] == 'ok' for r in rows)} finished without error, "
             f"wall time {wall_s / 60:.1f} min.", "",
             f"Objective ({cfg.tune.mode}): " + " + ".join(f"{w}·{k}" for k, w in cfg.tune.objective.items()), "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for i, r in enumerate(rows):
        mark = " ★" if best is r else (" (Pareto)" if i in front else "")
        lines.append("| " + " | ".join([r["trial"] + mark] + [_fmt(r.get(c)) for c in head[1:]]) + " |")
    lines += [""]
    if best is not None:
        lines += [f"**Best trial:** {best['trial']} — objective {_fmt(best['objective'])}, weights "
                  + ", ".join(f"{k[2:]}={best[k]:g}" for k in weight_cols), ""]
    lines += ["![Pareto plot](pareto.png)", "",
              "Physical plausibility = mean of the evaluation-set imitation reward and PhyMotion score; "
              "eval/* metrics are measured on a fixed set of music windows (one sample each, fixed noise). "
              "Pen. rate uses the simulator's capsule body unless SMPL files are configured.", ""]
    if clip is not None:
        lines += [f"Rendered clip from the best trial: [{Path(clip).name}]({Path(clip).name})", ""]
    lines += ["TensorBoard: `tensorboard --logdir " + str(exp_dir) + "`", ""]
    path = exp_dir / "report.md"
    path.write_text("\n".join(lines))
    (exp_dir / "report.json").write_text(json.dumps({"rows": rows, "best": best and best["trial"],
                                                     "wall_s": wall_s}, indent=2, default=str))
    return path
