"""The sweep report: the base model and every trial measured with one held-out protocol, what changed with CIs, the
winner by a held-out objective among trials within the guardrails, a Pareto plot, the best model exported with its
card, and a side-by-side video of the best model against the base.

Every number comes from the trials' final held-out evaluation (dance_rl.compare: same music clips and noise for the
base model and every trial, paired 95% bootstrap CIs), stored as ``heldout.json`` in each trial's last checkpoint.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from dance_rl.eval.paired import HEADLINE as PAIRED_HEADLINE
from dance_rl.eval.paired import direction, label, verdict
from dance_rl.sweep import swept_values, trial_config

HEADLINE = PAIRED_HEADLINE + ("pelvis_height",)
TRAINING = ("reward/imitation", "reward/fgd", "reward/antifreeze")


def trial_rows(results, cfg) -> list[dict]:
    rows = []
    for r in results:
        params = {k: v for k, v in (r.config or {}).items() if k != "base"}
        tcfg = trial_config(r.config["base"], params) if r.config and "base" in r.config else cfg
        m = dict(r.metrics or {})
        name = Path(r.path).name if r.path else "?"
        best, best_metrics = best_checkpoint(r, cfg.tune.mode)
        ckpt = best.path if best else None
        record = None
        if ckpt and (Path(ckpt) / "heldout.json").is_file():
            record = json.loads((Path(ckpt) / "heldout.json").read_text())
        guard = (record or {}).get("guardrails") or {}
        rows.append({"trial": "_".join(name.split("_")[2:4]) if name.count("_") >= 3 else name,
                     "swept": swept_values(cfg, tcfg), "iterations": m.get("training_iteration", 0),
                     "status": "error" if r.error else "ok", "checkpoint": ckpt, "path": r.path, "heldout": record,
                     "guardrails_ok": bool(guard.get("ok", True)), "guardrails": guard.get("messages", []),
                     "objective": best_metrics.get("objective"), "training": {k: m.get(k) for k in TRAINING},
                     "placebo": bool(tcfg.rl.placebo)})
    return rows


def best_checkpoint(result, mode: str) -> tuple:
    """(checkpoint, its reported metrics) of the trial's best (guardrail-penalised) objective; the latest checkpoint
    and the last metrics when none is scored. The objective that ranks a trial is its kept checkpoint's, not its last
    report's: a run that left the guardrails after its best evaluation reports a penalised objective at the end."""
    try:
        best = result.get_best_checkpoint("objective", mode)
    except (RuntimeError, ValueError, KeyError):
        best = None
    if best is None:
        return result.checkpoint, dict(result.metrics or {})
    metrics = next((m for c, m in (result.best_checkpoints or []) if c.path == best.path), result.metrics)
    return best, dict(metrics or {})


def pick_best(rows: list[dict], mode: str) -> dict | None:
    """The trial with the best objective among those that finished, were evaluated and stayed within the guardrails;
    never a placebo (rl.placebo: a control, whatever it scores)."""
    sign = 1 if mode == "max" else -1
    ok = [r for r in rows if r["status"] == "ok" and r["heldout"] and r["guardrails_ok"] and not r.get("placebo")
          and r["objective"] is not None and np.isfinite(r["objective"])]
    return max(ok, key=lambda r: sign * r["objective"]) if ok else None


def _f(v, digits=4) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:.{digits}g}" if isinstance(v, float) else str(v)


def _cell(m: dict | None, key: str) -> str:
    """'value (+x% ✅)': mean of the trial and its relative change vs base; ✅/❌ where the CI excludes 0."""
    if m is None:
        return "–"
    mark = {"better": " ✅", "worse": " ❌", "changed": " *"}.get(verdict(m, key), "")
    rel = m.get("rel")
    return f"{_f(m['model'])} ({rel:+.0%}{mark})" if rel is not None and math.isfinite(rel) else _f(m["model"]) + mark


def verdicts(record: dict) -> tuple[list[str], list[str]]:
    """(metrics significantly better than base, metrics significantly worse) from a held-out record."""
    better, worse = [], []
    for k, m in record["metrics"].items():
        v = verdict(m, k)
        if v == "better":
            better.append(label(k))
        elif v == "worse":
            worse.append(label(k))
    return better, worse


def verdict_lines(rows: list[dict]) -> list[str]:
    """One line per trial: what is significantly better and worse than the base model, flagged when the guardrails
    suspect reward hacking, and where a placebo trial (rl.placebo) is better on the same metric too."""
    placebo_better = set().union(*(verdicts(r["heldout"])[0] for r in rows if r.get("placebo") and r["heldout"]))
    lines = []
    for r in rows:
        if not r["heldout"]:
            lines.append(f"- {r['trial']}: no held-out evaluation ({r['status']})")
            continue
        better, worse = verdicts(r["heldout"])
        note = "" if r["guardrails_ok"] else " — **reward hacking suspected**: " + "; ".join(r["guardrails"])
        if r.get("placebo"):
            note += " — **placebo** (random advantages): what the updates alone do; never the best trial"
        elif set(better) & placebo_better:
            note += " — the placebo is better on " + ", ".join(b for b in better if b in placebo_better) + " too"
        lines.append(f"- {r['trial']}: better on {', '.join(better) or 'nothing'}; worse on "
                     f"{', '.join(worse) or 'nothing'}{note}")
    return lines


def write_pareto_plot(rows: list[dict], path: Path) -> None:
    """Physical error index (↓) vs motion magnitude (↑), each trial with its paired 95% CI; the base model at (·, 1)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.8), dpi=100)
    base_drawn = False
    for i, r in enumerate(rows):
        rec = r["heldout"]
        if not rec or "physical_error" not in rec["metrics"] or "motion_magnitude" not in rec["metrics"]:
            continue
        x, y = rec["metrics"]["motion_magnitude"], rec["metrics"]["physical_error"]
        if not base_drawn:
            ax.plot(x["base"], y["base"], "k*", ms=15, label="base model")
            base_drawn = True
        ax.errorbar(x["model"], y["model"], xerr=[[x["diff"] - x["ci"][0]], [x["ci"][1] - x["diff"]]],
                    yerr=[[y["diff"] - y["ci"][0]], [y["ci"][1] - y["diff"]]], fmt="o" if r["guardrails_ok"] else "x",
                    capsize=3, color=f"C{i % 10}", label=r["trial"] + ("" if r["guardrails_ok"] else " (guardrail)"))
    ax.set_xlabel("motion magnitude (held-out) →")
    ax.set_ylabel("physical error index (base = 1) ↓")
    ax.set_title("sweep: every trial vs the base model (paired 95% CI)")
    if base_drawn:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_report(results, cfg, exp_dir: Path, wall_s: float, base=None, held=None, log=print) -> Path:
    from dance_rl.export import export_model

    exp_dir.mkdir(parents=True, exist_ok=True)
    rows = trial_rows(results, cfg)
    best = pick_best(rows, cfg.tune.mode)
    write_pareto_plot(rows, exp_dir / "pareto.png")
    keys = list(rows[0]["swept"]) if rows else []
    base_metrics = next((r["heldout"]["metrics"] for r in rows if r["heldout"]), {})
    head = ["trial"] + keys + [label(k) + {-1: " ↓", 1: " ↑", 0: ""}[direction(k)] for k in HEADLINE] + \
        ["guardrails", "objective", "iters"]
    lines = [f"# Sweep report: {cfg.tune.name}", "",
             f"{len(rows)} trials, {sum(r['status'] == 'ok' for r in rows)} finished without error, "
             f"wall time {wall_s / 60:.1f} min.", "",
             f"**Held-out protocol:** {held.note if held is not None else '–'}; DDIM "
             f"{held.settings['steps'] if held is not None else '–'} steps. Row 0 is the base model measured the same "
             "way. Cells: trial mean (change vs base; ✅ better / ❌ worse where the paired 95% CI excludes 0 and the signed-rank p < 0.05).", "",
             f"**Objective ({cfg.tune.mode}):** " + " + ".join(f"{w:g}·{k}" for k, w in cfg.tune.objective.items())
             + " — held-out, not a training reward; only trials within the guardrails are ranked.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head),
             "| **base model** | " + " | ".join(["–"] * len(keys)) + " | "
             + " | ".join(_f((base_metrics.get(k) or {}).get("base")) for k in HEADLINE) + " | – | – | 0 |"]
    for r in rows:
        rec = r["heldout"] or {"metrics": {}}
        cells = [r["trial"] + (" ★" if r is best else "") + (" (placebo)" if r.get("placebo") else "")]
        cells += [_f(r["swept"][k]) for k in keys]
        cells += [_cell(rec["metrics"].get(k), k) for k in HEADLINE]
        cells += ["ok" if r["guardrails_ok"] else "⚠ " + "; ".join(r["guardrails"]), _f(r["objective"]),
                  str(r["iterations"])]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Better than the base model?", ""] + verdict_lines(rows) + [""]
    report_json = {"rows": rows, "best": best and best["trial"], "best_checkpoint": best and best["checkpoint"],
                   "wall_s": wall_s, "objective": cfg.tune.objective, "protocol": held.note if held else None}
    if best is not None:
        lines += [f"**Best trial:** {best['trial']} ({', '.join(f'{k}={v}' for k, v in best['swept'].items())}): "
                  f"objective {_f(best['objective'])}, the best among "
                  f"{sum(1 for r in rows if r['guardrails_ok'] and r['heldout'])} trials within the guardrails.", ""]
        try:
            export_model(best["checkpoint"], exp_dir / "best_model.pt",
                         extra={"selected_by": f"sweep {cfg.tune.name}: best {cfg.tune.mode} objective "
                                               f"{cfg.tune.objective} = {best['objective']:.4g} within the guardrails"})
            lines += ["Exported: [best_model.pt](best_model.pt) with its card [best_model.md](best_model.md).", ""]
            if held is not None:
                video = render_best_vs_base(exp_dir / "best_model.pt", base, held, exp_dir / "best_vs_base.mp4")
                lines += [f"Side by side with the base model on held-out music: [{video.name}]({video.name})", ""]
        except Exception as e:  # noqa: BLE001 - the report must not be lost to an export or rendering problem
            log(f"could not export/render the best trial: {type(e).__name__}: {e}")
    else:
        lines += ["**No trial qualifies** (none finished within the guardrails with a held-out evaluation); "
                  "no model exported.", ""]
    lines += ["![Pareto plot](pareto.png)", "", "TensorBoard: `tensorboard --logdir " + str(exp_dir) + "`", ""]
    path = exp_dir / "report.md"
    path.write_text("\n".join(lines))
    (exp_dir / "report.json").write_text(json.dumps(report_json, indent=2, default=str))
    return path


def render_best_vs_base(best_path: Path, base: dict, held, out: Path) -> Path:
    """The base model and the best model dancing to the first held-out clip (seed 0), side by side, with music."""
    from dance_rl.compare import generate, side_by_side
    from dance_rl.diffusion.checkpoint import load_model
    from dance_rl.heldout import model_from_state

    clip = held.clips[0]
    base_model, base_norm = model_from_state(base)
    best_model, best_norm, _ = load_model(best_path)
    motions = {"base": generate(base_model, base_norm, clip, 0, held.settings),
               "best": generate(best_model, best_norm, clip, 0, held.settings)}
    return side_by_side(motions, clip, out, len(clip.music) / 30.0)
