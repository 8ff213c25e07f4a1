"""Paired statistics on constructed data: a known shift is found with a CI that excludes 0, identical models give 0
with a CI that contains 0, p-values behave; the paired comparison, its verdicts and the report's objective."""
import math

import numpy as np
import pytest

from dance_rl.eval.paired import add_physical_error, compare_models, summary_metrics, verdict
from dance_rl.eval.stats import paired_difference, paired_set_difference, significant, wilcoxon_p
from dance_rl.rlft import objective


def test_known_shift_gives_a_ci_that_excludes_zero(rng):
    a = rng.normal(10.0, 1.0, 32)
    b = a - 3.0 + rng.normal(0, 0.3, 32)  # 30% lower, paired
    groups = np.repeat(np.arange(16), 2)  # 16 clips × 2 seeds
    s = paired_difference(a, b, groups, n_boot=2000, seed=1)
    assert s["ci"][0] <= s["diff"] <= s["ci"][1] < 0 and abs(s["diff"] + 3.0) < 0.2
    assert 0.1 < s["ci"][1] - s["ci"][0] < 0.6  # width ≈ 4 × 0.3 / sqrt(16 clips)
    assert s["p"] < 1e-4 and significant(s)
    assert s["rel"] == pytest.approx(s["diff"] / a.mean()) and -0.35 < s["rel"] < -0.25


def test_identical_models_give_zero_and_p_one(rng):
    a = rng.normal(5, 2, 20)
    s = paired_difference(a, a.copy(), np.repeat(np.arange(10), 2))
    assert s["diff"] == 0 and s["ci"][0] <= 0 <= s["ci"][1] and s["p"] == 1.0 and not significant(s)


def test_pure_noise_is_not_called_significant(rng):
    hits = 0
    for k in range(40):
        a = rng.normal(0, 1, 24)
        b = a + rng.normal(0, 1, 24)
        hits += significant(paired_difference(a, b, np.repeat(np.arange(12), 2), n_boot=400, seed=k))
    assert hits <= 6  # ~5% false positives expected at alpha 0.05 (each test needs CI and p to agree)


def test_tiny_sets_never_claim_a_result():
    # two clips: the cluster bootstrap can exclude 0, the signed-rank test cannot reach p < 0.05
    s = paired_difference([1.0, 2.0, 3.0, 4.0], [1.1, 2.1, 3.1, 4.1], [0, 0, 1, 1], n_boot=200)
    assert s["ci"][0] > 0 and s["p"] > 0.05 and not significant(s)


def test_wilcoxon_and_nonfinite_pairs():
    assert wilcoxon_p(np.zeros(5)) == 1.0
    assert wilcoxon_p(np.arange(1, 21, dtype=float)) < 1e-3
    s = paired_difference([1.0, np.nan, 3.0], [2.0, 5.0, np.inf])
    assert s["n"] == 1


def test_set_level_difference_uses_the_same_resamples():
    x = np.arange(10.0)
    s = paired_set_difference(lambda idx, which: float(np.mean(x[idx]) + 2.0 * which), 10, n_boot=100)
    assert s["diff"] == 2.0 and s["ci"] == pytest.approx([2.0, 2.0]) and s["p"] == 0.0


def _rows(pfc, mm, rng, n):
    return [{"pfc": pfc + rng.normal(0, 0.1), "fgd": 10.0, "pen_rate": 1.0, "skating_ratio": 0.5,
             "motion_magnitude": mm + rng.normal(0, 0.01),
             "features": {"kinetic": rng.normal(0, 1, 72), "manual": rng.normal(0, 1, 32)}} for _ in range(n)]


def test_compare_models_verdicts_and_physical_error(rng):
    rows = {"base": _rows(2.0, 0.14, rng, 24), "tuned": _rows(1.0, 0.14, rng, 24)}
    ref = {"kinetic": rng.normal(0, 1, (40, 72)), "manual": rng.normal(0, 1, (40, 32))}
    comp = compare_models(rows, list(np.repeat(np.arange(12), 2)), ref, n_boot=300)
    assert verdict(comp["pfc"]["tuned"], "pfc") == "better"
    assert verdict(comp["pfc"]["base"], "pfc") == ""
    # physical error index: the base averages 1 by construction; PFC halved → (0.5 + 1 + 1 + 1) / 4
    assert np.mean([r["physical_error"] for r in rows["base"]]) == pytest.approx(1.0)
    assert comp["physical_error"]["tuned"]["mean_b"] == pytest.approx(0.875, abs=0.02)
    assert set(comp) >= {"fid_k", "fid_g", "div_k", "div_g"}
    flat = summary_metrics(comp, "tuned")
    assert flat["vs_base/pfc"] == pytest.approx(-0.5, abs=0.05) and "eval/fid_k" in flat
    with pytest.raises(ValueError):
        compare_models({"a": rows["base"], "b": rows["tuned"][:3]}, [0] * 24, None)


def test_physical_error_skips_metrics_the_base_does_not_have():
    rows = {"base": [{"pfc": 2.0, "fgd": 0.0, "pen_rate": 1.0, "skating_ratio": 1.0}],
            "m": [{"pfc": 1.0, "fgd": 5.0, "pen_rate": 1.0, "skating_ratio": 1.0}]}
    add_physical_error(rows, "base")
    assert rows["m"][0]["physical_error"] == pytest.approx((0.5 + 1 + 1) / 3)  # fgd: base mean 0, no scale


def test_objective_is_nan_before_evaluation_and_errors_on_missing_keys():
    from dance_rl.errors import UserError

    assert math.isnan(objective({"vs_base/physical_error": -1.0}, {"reward/imitation": 0.5}))
    assert objective({"vs_base/physical_error": -1.0}, {"vs_base/physical_error": -0.3}) == pytest.approx(0.3)
    with pytest.raises(UserError, match="not reported"):
        objective({"eval/nope": 1.0}, {"eval/pfc": 1.0})
