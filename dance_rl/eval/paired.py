"""Paired comparison of models on the same samples: the metric suite per sample, then differences to a baseline.

This is the arithmetic behind ``python -m dance_rl.compare``, the held-out evaluation during training and sweeps,
and the sweep report, so their numbers mean the same thing. Inputs are per-sample rows (one dict per generated
motion, from :func:`sample_row`) for each model, in the same sample order (same music window, same noise).

Metrics and their better direction: physical errors (PFC, FGD, Pen. rate, skating) lower; realism against the
training mocap (FID_k, FID_g) lower; motion (magnitude, Div) and scores (BAS, PhyMotion, imitation) higher; posture
statistics have no better direction (guardrails bound their shift). The *physical error index* of a sample is the
mean over PFC, FGD, Pen. rate and skating of its value divided by the baseline model's mean: 1.0 for the baseline
on average, 0.7 = 30% fewer physical errors. No reward optimises it directly.
"""
from __future__ import annotations

import numpy as np

from dance_rl.eval.fid import fid_div
from dance_rl.eval.posture import posture_stats
from dance_rl.eval.report import EvalOptions, motion_metrics
from dance_rl.eval.stats import paired_difference, paired_set_difference, significant

# name -> (label, direction: -1 lower is better, +1 higher is better, 0 no direction)
PER_SAMPLE = {
    "pfc": ("PFC", -1), "fgd": ("FGD", -1), "pen_rate": ("Pen. rate", -1), "skating_ratio": ("Skating ratio", -1),
    "fgd_floor": ("FGD floor", -1), "physical_error": ("Physical error index", -1),
    "motion_magnitude": ("Motion magnitude", +1), "motion_lowpass": ("Motion magnitude, low-pass", +1),
    "bas": ("BAS", +1), "phymotion": ("PhyMotion", +1),
    "imitation_reward": ("Imitation reward", +1), "imitation_success": ("Imitation success", +1),
    "pelvis_height": ("Pelvis height (m)", 0), "knee_flexion": ("Knee flexion (deg)", 0),
    "trunk_lean": ("Trunk lean (deg)", 0),
}
SET_LEVEL = {"fid_k": ("FID_k", -1), "fid_g": ("FID_g", -1), "div_k": ("Div_k", +1), "div_g": ("Div_g", +1)}
PHYSICAL_ERRORS = ("pfc", "fgd", "pen_rate", "skating_ratio")
# What every summary of a comparison shows first (training log, sweep report, model card; each may append more): the
# physical errors the rewards target, then the motion and realism metrics that no reward optimises.
HEADLINE = ("physical_error", *PHYSICAL_ERRORS, "motion_magnitude", "motion_lowpass", "fid_k", "fid_g")


def sample_row(poses: np.ndarray, trans: np.ndarray, beats_60: np.ndarray | None, opts: EvalOptions) -> dict:
    """Every per-sample metric of one generated motion ((T,24,3) axis-angle, (T,3) z-up root) + its AIST++ features."""
    from dance_rl.motion.fk import joints_np
    from dance_rl.motion.io import Motion

    row = motion_metrics(Motion(poses=np.asarray(poses, np.float32), trans=np.asarray(trans, np.float32), fps=30.0),
                         opts, beats_60)
    n = opts.max_frames
    row.update(posture_stats(joints_np(np.asarray(poses, np.float64)[:n], np.asarray(trans, np.float64)[:n])))
    return row


def add_physical_error(rows_by_model: dict[str, list[dict]], baseline: str) -> None:
    """Fill ``physical_error`` in every row, relative to the baseline model's means (in place)."""
    scale = {}
    for k in PHYSICAL_ERRORS:
        vals = np.array([r.get(k, np.nan) for r in rows_by_model[baseline]], dtype=np.float64)
        m = np.nanmean(vals) if np.isfinite(vals).any() else np.nan
        scale[k] = m if np.isfinite(m) and m > 0 else np.nan
    for rows in rows_by_model.values():
        for r in rows:
            parts = [r.get(k, np.nan) / scale[k] for k in PHYSICAL_ERRORS if np.isfinite(scale[k])]
            parts = [p for p in parts if np.isfinite(p)]
            r["physical_error"] = float(np.mean(parts)) if parts else float("nan")


def _set_stat(rows_a, rows_b, reference: dict, key: str):
    feats = {0: _stack(rows_a), 1: _stack(rows_b)}

    def stat(idx, which):
        gen = {k: v[idx] for k, v in feats[which].items()}
        if len(np.unique(idx)) < 2:
            return float("nan")
        return fid_div(gen, reference)[key]
    return stat


def _stack(rows) -> dict[str, np.ndarray]:
    return {k: np.stack([r["features"][k] for r in rows]) for k in ("kinetic", "manual")}


def compare_models(rows_by_model: dict[str, list[dict]], groups: list, reference: dict | None,
                   baseline: str | None = None, n_boot: int = 1000, seed: int = 0) -> dict:
    """{metric: {model: {mean, diff, ci, p, rel}}} for every model against ``baseline`` (default: the first model).

    ``groups`` names each sample's music clip (bootstrap unit); ``reference`` = stacked AIST++ features of the
    training mocap for FID/Div (None skips them).
    """
    names = list(rows_by_model)
    baseline = baseline or names[0]
    n = len(rows_by_model[baseline])
    if any(len(r) != n for r in rows_by_model.values()):
        raise ValueError("every model needs the same number of samples (paired comparison)")
    add_physical_error(rows_by_model, baseline)
    base_rows = rows_by_model[baseline]
    out: dict = {}
    for key in PER_SAMPLE:
        a = np.array([r.get(key, np.nan) for r in base_rows], dtype=np.float64)
        if not np.isfinite(a).any():
            continue
        out[key] = {}
        for name in names:
            b = np.array([r.get(key, np.nan) for r in rows_by_model[name]], dtype=np.float64)
            out[key][name] = paired_difference(a, b, groups, n_boot=n_boot, seed=seed)
    if reference is not None and n >= 2:
        for key in SET_LEVEL:
            out[key] = {name: paired_set_difference(_set_stat(base_rows, rows_by_model[name], reference, key), n,
                                                    groups, n_boot=max(100, n_boot // 4), seed=seed)
                        for name in names}
    return out


def summary_metrics(comparison: dict, model: str, prefix: str = "eval") -> dict:
    """Flat scalars for TensorBoard / tune.report: ``eval/<m>`` (mean), ``vs_base/<m>`` (relative change),
    ``vs_base_ci_lo/<m>``, ``vs_base_ci_hi/<m>`` (CI of the absolute difference)."""
    out = {}
    for key, per_model in comparison.items():
        s = per_model.get(model)
        if s is None:
            continue
        out[f"{prefix}/{key}"] = s["mean_b"]
        out[f"vs_base/{key}"] = s["rel"]
        out[f"vs_base_ci_lo/{key}"], out[f"vs_base_ci_hi/{key}"] = s["ci"]
    return out


def label(key: str) -> str:
    return {**PER_SAMPLE, **SET_LEVEL}.get(key, (key, 0))[0]


def direction(key: str) -> int:
    return {**PER_SAMPLE, **SET_LEVEL}.get(key, (key, 0))[1]


def verdict(stat: dict, key: str) -> str:
    """'better' / 'worse' when the difference is significant (CI excludes 0 and p < 0.05) in a direction that
    matters, 'changed' for a significant shift of a metric without a better direction, else ''."""
    if not significant(stat):
        return ""
    d = direction(key)
    if d == 0:
        return "changed"
    return "better" if (stat["ci"][0] > 0) == (d > 0) else "worse"


def public_row(row: dict) -> dict:
    """A per-sample row without feature vectors and private sums (for CSV/JSON)."""
    return {k: v for k, v in row.items() if not k.startswith("_") and k != "features"}
