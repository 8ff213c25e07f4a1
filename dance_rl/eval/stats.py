"""Paired statistics for "model B vs model A on the same music and noise": bootstrap CIs and signed-rank p-values.

Samples are paired (sample i of both models used the same music window and the same initial noise), so differences
are taken per pair. The bootstrap resamples *groups* (music clips) rather than single pairs: the seeds of one clip
share its music and are not independent. Set-level metrics (FID, Div) have no per-sample value; their CI comes from
recomputing the metric on the same resampled groups for both models.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np


def _group_index(groups: Sequence | None, n: int) -> list[np.ndarray]:
    if groups is None:
        return [np.array([i]) for i in range(n)]
    groups = np.asarray(groups)
    return [np.nonzero(groups == g)[0] for g in dict.fromkeys(groups.tolist())]


def bootstrap_indices(groups: Sequence | None, n: int, n_boot: int, seed: int = 0) -> list[np.ndarray]:
    """``n_boot`` resamples of sample indices, drawing whole groups with replacement."""
    members = _group_index(groups, n)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(members), size=(n_boot, len(members)))
    return [np.concatenate([members[g] for g in row]) for row in picks]


def wilcoxon_p(diff: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired differences (1.0 when every difference is 0)."""
    from scipy.stats import wilcoxon

    d = np.asarray(diff, dtype=np.float64)
    d = d[np.isfinite(d)]
    if len(d) == 0 or np.all(d == 0):
        return 1.0
    return float(wilcoxon(d, zero_method="wilcox", alternative="two-sided").pvalue)


def paired_difference(a: np.ndarray, b: np.ndarray, groups: Sequence | None = None, n_boot: int = 2000,
                      seed: int = 0, level: float = 0.95) -> dict:
    """Per-sample metric of two models on the same samples → mean(b − a), its bootstrap CI, Wilcoxon p, and the
    relative change mean(b − a) / |mean(a)|. Pairs with a non-finite value in either model are dropped."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    g = None if groups is None else np.asarray(groups)[ok]
    a, b = a[ok], b[ok]
    if len(a) == 0:
        return {"n": 0, "mean_a": float("nan"), "mean_b": float("nan"), "diff": float("nan"), "ci": [float("nan")] * 2,
                "p": float("nan"), "rel": float("nan")}
    d = b - a
    boots = np.array([d[idx].mean() for idx in bootstrap_indices(g, len(d), n_boot, seed)])
    alpha = (1 - level) / 2
    lo, hi = np.quantile(boots, [alpha, 1 - alpha])
    base = abs(a.mean())
    return {"n": int(len(d)), "mean_a": float(a.mean()), "mean_b": float(b.mean()), "diff": float(d.mean()),
            "ci": [float(lo), float(hi)], "p": wilcoxon_p(d), "rel": float(d.mean() / base) if base > 0 else float("nan")}


def paired_set_difference(stat: Callable[[np.ndarray], float], n: int, groups: Sequence | None = None,
                          n_boot: int = 500, seed: int = 0, level: float = 0.95) -> dict:
    """Set-level metric: ``stat(indices, which)`` evaluated for model a (which=0) and b (which=1) on all samples and on
    group-bootstrap resamples (the same indices for both). p = two-sided bootstrap p-value of the difference."""
    va, vb = stat(np.arange(n), 0), stat(np.arange(n), 1)
    diffs = []
    for idx in bootstrap_indices(groups, n, n_boot, seed):
        diffs.append(stat(idx, 1) - stat(idx, 0))
    diffs = np.asarray(diffs)
    diffs = diffs[np.isfinite(diffs)]
    alpha = (1 - level) / 2
    lo, hi = np.quantile(diffs, [alpha, 1 - alpha]) if len(diffs) else (float("nan"), float("nan"))
    p = float(min(1.0, 2 * min((diffs <= 0).mean(), (diffs >= 0).mean()))) if len(diffs) else float("nan")
    if len(diffs) and np.all(diffs == 0):
        p = 1.0
    return {"n": int(n), "mean_a": float(va), "mean_b": float(vb), "diff": float(vb - va), "ci": [float(lo), float(hi)],
            "p": p, "rel": float((vb - va) / abs(va)) if va not in (0.0,) and np.isfinite(va) else float("nan")}


def excludes_zero(ci: Sequence[float]) -> bool:
    lo, hi = ci
    return bool(np.isfinite(lo) and np.isfinite(hi) and (lo > 0 or hi < 0))


def significant(stat: dict, alpha: float = 0.05) -> bool:
    """A difference we call real: the bootstrap CI excludes 0 *and* the paired test agrees (p < alpha). With few
    music clips the cluster bootstrap can exclude 0 by chance (2 clips give 2 possible resamples per draw); the
    signed-rank test cannot reach p < 0.05 with fewer than 6 pairs, so tiny sets never claim a result."""
    return excludes_zero(stat["ci"]) and np.isfinite(stat.get("p", np.nan)) and stat["p"] < alpha
