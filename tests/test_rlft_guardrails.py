"""Guardrails inside the shared RLFT loop: a run whose held-out metrics leave the bounds is stopped ('stop') or keeps
its best evaluation within them ('keep_best', with a penalised objective so no sweep ranks it); the sweep report
ranks only trials within the guardrails and flags the others."""
import math

import pytest

from dance_rl import rlft
from dance_rl.config import load_config
from dance_rl.tune_report import pick_best, verdict_lines, verdicts

BASE = {"motion_magnitude": 0.14, "motion_lowpass": 0.05, "fid_k": 100.0, "fid_g": 50.0, "pelvis_height": 0.80}


def _record(it, mm, pelvis=0.80, phys=0.8, fid_k=100.0):
    vals = {"motion_magnitude": mm, "motion_lowpass": 0.05, "fid_k": fid_k, "fid_g": 50.0, "pelvis_height": pelvis, "physical_error": phys}
    metrics = {k: {"base": 1.0 if k == "physical_error" else BASE[k], "model": v, "diff": v - BASE.get(k, 1.0),
                   "ci": [v - BASE.get(k, 1.0) - 0.01, v - BASE.get(k, 1.0) + 0.01], "p": 0.01,
                   "rel": v / BASE.get(k, 1.0) - 1} for k, v in vals.items()}
    flat = {f"eval/{k}": v for k, v in vals.items()}
    flat["vs_base/physical_error"] = phys - 1.0
    return flat, {"iteration": it, "metrics": metrics}


class _Run:
    def iteration(self, it):
        return {"train/loss": 0.0}


def _loop(monkeypatch, script, **overrides):
    """Run the loop with held-out evaluations scripted per iteration: {iteration: (motion magnitude, pelvis)}."""
    monkeypatch.setattr(rlft, "evaluate_run", lambda run, held, n: _record(n, *script[n]))
    cfg = load_config(None, [f"rl.{k}={v}" for k, v in {"iterations": 4, "eval_every": 1, **overrides}.items()])
    guard = rlft.make_guard(cfg)
    return list(rlft.iterate(_Run(), cfg, 0, cfg.rl.iterations, held=object(), guard=guard)), guard


def test_keep_best_runs_on_and_marks_the_best_evaluation_within_the_bounds(monkeypatch):
    # iteration 2 is the best physical error within the bounds; 3 and 4 crouch (pelvis -10 cm, motion -40%)
    script = {1: (0.14, 0.80, 0.9), 2: (0.135, 0.79, 0.7), 3: (0.08, 0.70, 0.5), 4: (0.08, 0.70, 0.4)}
    steps, guard = _loop(monkeypatch, script)
    assert [s.iteration for s in steps] == [1, 2, 3, 4]
    assert [s.new_best for s in steps] == [True, True, False, False]
    assert guard.best_iteration == 2 and not any(s.stop for s in steps)
    hacked = steps[3]
    assert hacked.heldout["guardrails"]["ok"] is False and any("pelvis_height" in m for m in hacked.notes)
    # outside the guardrails the objective is penalised: a better raw physical error must not rank
    assert steps[1].metrics["objective"] == pytest.approx(0.3)
    assert hacked.metrics["objective"] == pytest.approx(0.6 - rlft.PENALTY)
    assert hacked.metrics["guardrails/within"] == 0.0


def test_stop_action_ends_the_run_at_the_first_violation(monkeypatch):
    script = {1: (0.14, 0.80, 0.9), 2: (0.10, 0.80, 0.7), 3: (0.14, 0.80, 0.6), 4: (0.14, 0.80, 0.6)}
    steps, guard = _loop(monkeypatch, script, **{"guardrails.motion_magnitude_action": "stop"})
    assert [s.iteration for s in steps] == [1, 2] and steps[-1].stop
    assert guard.best_iteration == 1


def test_warn_action_only_reports(monkeypatch):
    script = {n: (0.10, 0.80, 0.8) for n in range(1, 5)}
    steps, guard = _loop(monkeypatch, script, **{"guardrails.motion_magnitude_action": "warn"})
    assert len(steps) == 4 and all(s.heldout["guardrails"]["ok"] for s in steps) and steps[0].notes
    assert not math.isnan(steps[-1].metrics["objective"]) and steps[-1].metrics["objective"] > -1


def _row(name, objective, ok, record):
    return {"trial": name, "status": "ok", "heldout": record, "guardrails_ok": ok, "objective": objective,
            "guardrails": [] if ok else ["pelvis_height=0.7 not within ..."], "checkpoint": f"/x/{name}"}


def test_the_sweep_objective_skips_hacked_trials():
    rec = _record(4, 0.14)[1]
    rows = [_row("honest", 0.1, True, rec), _row("crouch", 0.6 - rlft.PENALTY, False, rec),
            _row("crouch_raw", 0.6, False, rec), _row("unevaluated", 0.9, True, None)]
    assert pick_best(rows, "max")["trial"] == "honest"
    assert pick_best([rows[1], rows[2]], "max") is None  # nothing within the guardrails: no best model
    placebo = {**_row("placebo", 0.9, True, rec), "placebo": True}  # a control is never the best trial
    assert pick_best(rows + [placebo], "max")["trial"] == "honest"
    better_rec = _record(4, 0.10, pelvis=0.70, phys=0.5)[1]
    lines = verdict_lines([_row("honest", 0.1, True, better_rec), {**_row("placebo", 0.9, True, better_rec),
                                                                   "placebo": True}])
    assert "the placebo is better on Physical error index" in lines[0] and "**placebo**" in lines[1]
    assert "placebo" not in verdict_lines([_row("honest", 0.1, True, better_rec)])[0]
    better, worse = verdicts(_record(4, 0.10, pelvis=0.70, phys=0.5)[1])
    assert "Physical error index" in better and "Motion magnitude" in worse


def test_a_trial_is_ranked_by_its_kept_checkpoint_not_its_last_penalised_report():
    """Both trials left the guardrails after iteration 5 (last reports penalised by PENALTY); the ranking must use
    the objective of each trial's kept checkpoint (Tune's best_checkpoints), as the table cells do."""
    from types import SimpleNamespace

    from dance_rl.tune_report import best_checkpoint

    def trial(kept_objective, last_objective):
        kept, last = SimpleNamespace(path="c5"), SimpleNamespace(path="c40")
        return SimpleNamespace(metrics={"objective": last_objective, "training_iteration": 40}, checkpoint=last,
                               best_checkpoints=[(last, {"objective": last_objective}),
                                                 (kept, {"objective": kept_objective})],
                               get_best_checkpoint=lambda metric, mode: kept)

    a, b = trial(0.30, 0.05 - rlft.PENALTY), trial(0.02, 0.40 - rlft.PENALTY)
    assert best_checkpoint(a, "max")[0].path == "c5" and best_checkpoint(a, "max")[1]["objective"] == 0.30
    assert best_checkpoint(b, "max")[1]["objective"] == 0.02
    unscored = SimpleNamespace(metrics={"objective": 0.1}, checkpoint=SimpleNamespace(path="c1"), best_checkpoints=[],
                               get_best_checkpoint=lambda metric, mode: None)
    assert best_checkpoint(unscored, "max") == (unscored.checkpoint, {"objective": 0.1})
