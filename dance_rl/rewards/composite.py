"""Score a batch with several named rewards and their weights.

Returns every component (per-sample, per-frame where the reward has one, diagnostics) under its name, plus the
weighted sums. Skeleton2Stage combines *advantages* (α·A_imit + β·A_anti + γ·A_FGD), normalising each component per
music before weighting; that normalisation belongs to rl/, which reads the components from here. The raw weighted sum
is for logging and for Tune objectives.

per_frame of the total: components without a per-frame signal are broadcast over frames, so
mean_t(total per_frame) == total per_sample whenever each per-frame component averages to its per-sample value
(true for fgd and imitation).
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from dance_rl.errors import UserError
from dance_rl.rewards.batch import MotionBatch
from dance_rl.rewards.registry import accepted_params, get_reward


def weights_from_config(rewards_cfg) -> dict[str, float]:
    """``Config.rewards`` (one ``RewardTerm(weight=…)`` per name) → {name: weight}."""
    from dataclasses import fields

    return {f.name: float(getattr(rewards_cfg, f.name).weight) for f in fields(rewards_cfg)}


def _check(name: str, result: dict, batch: MotionBatch) -> dict:
    b, t = batch.batch_size, batch.num_frames
    per_sample = np.asarray(result["per_sample"], dtype=np.float64)
    if per_sample.shape != (b,):
        raise ValueError(f"reward {name!r} returned per_sample of shape {per_sample.shape}, expected ({b},)")
    per_frame = result.get("per_frame")
    if per_frame is not None:
        per_frame = np.asarray(per_frame, dtype=np.float64)
        if per_frame.shape != (b, t):
            raise ValueError(f"reward {name!r} returned per_frame of shape {per_frame.shape}, expected ({b}, {t})")
    diagnostics = {k: np.asarray(v) for k, v in (result.get("diagnostics") or {}).items()}
    return {"per_sample": per_sample, "per_frame": per_frame, "diagnostics": diagnostics}


def score(batch: MotionBatch, weights: Mapping[str, float], params: Mapping[str, dict] | None = None,
          skip_zero: bool = True) -> dict:
    """Compute each named reward and the weighted totals.

    weights: {reward name: weight}; with ``skip_zero`` a weight of 0 means "not computed" (the config convention).
    params: optional {reward name: keyword arguments for that reward}.
    Returns {"components": {name: {"per_sample" (B,), "per_frame" (B,T)|None, "diagnostics" {..}}},
             "weights": {name: w}, "per_sample": (B,) Σ w·per_sample, "per_frame": (B,T) Σ w·per_frame (broadcast),
             "valid": (B,) False for non-finite samples, whose rewards are all 0}.
    """
    params = dict(params or {})
    unknown = set(params) - set(weights)
    if unknown:
        raise UserError(f"reward params: {sorted(unknown)} have no weight; add them to the weights or drop the params")
    chosen = {name: float(w) for name, w in weights.items() if not (skip_zero and w == 0)}
    for name, w in chosen.items():
        if not np.isfinite(w):
            raise UserError(f"reward weight {name}={w}: not a finite number")
    components = {}
    total = np.zeros(batch.batch_size)
    total_frame = np.zeros((batch.batch_size, batch.num_frames))
    fns = {name: get_reward(name) for name in chosen}
    for name, kwargs in params.items():
        allowed = accepted_params(fns[name]) if name in fns else None
        if allowed is not None and set(kwargs) - allowed:
            raise UserError(f"reward params {name}: unknown {sorted(set(kwargs) - allowed)}; "
                            f"{name} accepts {sorted(allowed)}")
    for name, w in chosen.items():
        fn = fns[name]
        result = _check(name, fn(batch, **params.get(name, {})), batch)
        if not batch.valid.all():  # non-finite samples (non-strict batches) score 0
            result["per_sample"] = np.where(batch.valid, result["per_sample"], 0.0)
            if result["per_frame"] is not None:
                result["per_frame"] = np.where(batch.valid[:, None], result["per_frame"], 0.0)
        components[name] = result
        total += w * result["per_sample"]
        frame = result["per_frame"] if result["per_frame"] is not None else result["per_sample"][:, None]
        total_frame += w * frame
    return {"components": components, "weights": chosen, "per_sample": total, "per_frame": total_frame,
            "valid": batch.valid.copy()}


def summary(result: dict) -> dict[str, float]:
    """Flat {"<name>": batch mean, "<name>/<diagnostic>": batch mean, "total": …} for logging and Tune reports."""
    out = {"total": float(np.mean(result["per_sample"]))}
    for name, comp in result["components"].items():
        out[name] = float(np.mean(comp["per_sample"]))
        for k, v in comp["diagnostics"].items():
            v = np.asarray(v)
            if v.size and v.dtype.kind in "biuf":  # skip text diagnostics (e.g. simulator messages)
                out[f"{name}/{k}"] = float(np.nanmean(v.astype(np.float64)))
    return out
