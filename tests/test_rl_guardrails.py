"""Guardrails: each bound kind, each action, the tracker's stop / keep-best decisions and its saved state."""
import math

import pytest

from dance_rl.config import load_config
from dance_rl.errors import UserError
from dance_rl.rl.guardrails import GuardrailTracker, check, within

BASE = {"motion_magnitude": 0.14, "motion_lowpass": 0.05, "fid_k": 100.0, "fid_g": 50.0, "pelvis_height": 0.90}
GOOD = {"motion_magnitude": 0.135, "motion_lowpass": 0.05, "fid_k": 105.0, "fid_g": 52.0, "pelvis_height": 0.87}
# issue 13's fine-tuned model: slower, FID_g 5x, crouched 12 cm lower
HACKED = {"motion_magnitude": 0.091, "motion_lowpass": 0.05, "fid_k": 106.0, "fid_g": 261.0, "pelvis_height": 0.78}


def cfg(*overrides):
    return load_config(overrides=list(overrides)).rl.guardrails


def test_defaults_are_the_issue_bounds():
    g = cfg()
    assert (g.motion_magnitude_min_ratio, g.motion_lowpass_min_ratio, g.fid_k_max_ratio, g.fid_g_max_ratio,
            g.pelvis_height_max_shift) == (0.9, 0.9, 1.1, 1.1, 0.05)
    assert g.motion_magnitude_action == g.motion_lowpass_action == g.fid_k_action == g.fid_g_action == \
        g.pelvis_height_action == "keep_best"
    with pytest.raises(UserError, match="rl.guardrails.fid_k_action"):
        cfg("rl.guardrails.fid_k_action=rollback")


def test_check_passes_good_and_names_each_tripped_bound():
    assert check(BASE, GOOD, cfg()) == []
    v = {x.metric: x for x in check(BASE, HACKED, cfg())}
    assert set(v) == {"motion_magnitude", "fid_g", "pelvis_height"}  # FID_k 106 <= 110 holds
    assert v["motion_magnitude"].bound == pytest.approx(0.126) and v["motion_magnitude"].value == 0.091
    assert v["fid_g"].bound == pytest.approx(55.0)
    assert v["pelvis_height"].kind == "max_shift" and v["pelvis_height"].bound == 0.05
    assert all(x.action == "keep_best" for x in v.values())
    assert "motion_magnitude=0.091" in v["motion_magnitude"].describe()


def test_low_pass_motion_tells_removed_jitter_from_freezing():
    """A fine-tune that removes jitter lowers Skeleton2Stage's motion magnitude but keeps the low-pass one; a frozen
    dancer loses both. With the raw bound at warn, only freezing leaves the guardrails."""
    g = cfg("rl.guardrails.motion_magnitude_action=warn")
    dejittered = {**GOOD, "motion_magnitude": 0.08, "motion_lowpass": 0.049}
    frozen = {**GOOD, "motion_magnitude": 0.08, "motion_lowpass": 0.03}
    assert within(check(BASE, dejittered, g))
    v = check(BASE, frozen, g)
    assert not within(v) and [x.metric for x in v] == ["motion_magnitude", "motion_lowpass"]
    assert v[1].bound == pytest.approx(0.045)
    assert not within(check(BASE, dejittered, cfg()))  # the default also holds the raw metric


def test_bound_edges_shift_is_two_sided_and_nan_violates():
    g = cfg()
    assert check(BASE, {**GOOD, "motion_magnitude": 0.126}, g) == []  # exactly 0.9x is allowed
    assert [x.metric for x in check(BASE, {**GOOD, "pelvis_height": 0.96}, g)] == ["pelvis_height"]  # rising too
    assert [x.metric for x in check(BASE, {**GOOD, "fid_k": math.nan}, g)] == ["fid_k"]


def test_prefix_off_and_missing_metric():
    pref = {f"eval/{k}": v for k, v in HACKED.items()}
    assert len(check(BASE, pref, cfg("rl.guardrails.metric_prefix=eval/"))) == 3
    g = cfg("rl.guardrails.fid_g_action=ignore", "rl.guardrails.pelvis_height_action=ignore")
    assert [x.metric for x in check(BASE, HACKED, g)] == ["motion_magnitude"]
    assert check(BASE, HACKED, cfg("rl.guardrails.enabled=false")) == []
    with pytest.raises(KeyError, match="fid_g"):
        check(BASE, {k: v for k, v in GOOD.items() if k != "fid_g"}, cfg())


def test_warn_informs_but_stays_within():
    g = cfg(*[f"rl.guardrails.{k}_action=warn" for k in ("motion_magnitude", "fid_k", "fid_g", "pelvis_height")])
    v = check(BASE, HACKED, g)
    assert len(v) == 3 and within(v)
    t = GuardrailTracker(BASE, g)
    d = t.update(10, HACKED)
    assert d.within and not d.stop and d.new_best and d.best_iteration == 10 and len(d.messages()) == 3


def test_stop_action_stops_after_patience():
    g = cfg("rl.guardrails.fid_g_action=stop", "rl.guardrails.patience=2")
    t = GuardrailTracker(BASE, g)
    assert not t.update(5, GOOD).stop
    d = t.update(10, HACKED)
    assert not d.stop and not d.within  # first violation: patience 2
    assert not t.update(15, GOOD).stop  # streak reset
    assert not t.update(20, HACKED).stop
    d = t.update(25, HACKED)
    assert d.stop and d.best_iteration == 15
    assert t.ever_violated == ["fid_g", "motion_magnitude", "pelvis_height"]
    sc = d.scalars()
    assert sc["guardrails/stop"] == 1.0 and sc["guardrails/within"] == 0.0 and sc["guardrails/best_iteration"] == 15
    assert sc["guardrails/fid_g"] == pytest.approx(261 / 55) and sc["guardrails/pelvis_height"] == pytest.approx(0.07)


def test_keep_best_rolls_back_to_best_within():
    t = GuardrailTracker(BASE, cfg())
    seq = [(10, GOOD, 1.0), (20, {**GOOD, "fid_k": 103.0}, 2.0), (30, HACKED, 9.0), (40, GOOD, 1.5)]
    decisions = [t.update(i, m, score=s) for i, m, s in seq]
    assert [d.new_best for d in decisions] == [True, True, False, False]
    assert not any(d.stop for d in decisions)  # keep_best never stops
    assert t.best_iteration == 20 and t.best_score == 2.0  # the hacked iteration 30 scores highest but is excluded
    # without scores, the latest evaluation within the guardrails is kept
    u = GuardrailTracker(BASE, cfg())
    for i, m, _ in seq:
        u.update(i, m)
    assert u.best_iteration == 40


def test_never_within_keeps_the_base_and_state_round_trips():
    t = GuardrailTracker(BASE, cfg())
    assert t.update(10, HACKED, score=5.0).best_iteration is None  # nothing fine-tuned qualifies: keep the base
    t.update(20, GOOD, score=1.0)
    u = GuardrailTracker({}, cfg())
    u.load_state_dict(t.state_dict())
    assert (u.best_iteration, u.best_score, u.history) == (20, 1.0, t.history)
    assert not u.update(30, GOOD, score=0.5).new_best
