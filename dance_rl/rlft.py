"""The one RLFT iteration loop, shared by ``python -m dance_rl.train`` and every Tune trial.

Per iteration: one pipelined RLFT step (sample → score → update), then on schedule a held-out evaluation of the EMA
weights against the base model (dance_rl.compare: same clips, same noise, paired CIs) and the guardrails' verdict.
The caller decides what to do with each yielded step (TensorBoard and checkpoints in ``train``, ``tune.report`` in a
trial); the loop itself holds no I/O, so both drivers evaluate, check and checkpoint on exactly the same schedule.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from dance_rl.errors import UserError
from dance_rl.eval.paired import summary_metrics
from dance_rl.heldout import HeldoutSet, heldout_record, model_from_state
from dance_rl.rl.guardrails import BOUNDS, GuardrailTracker

GUARDED = tuple(key for key, _ in BOUNDS)  # the held-out metrics the guardrails bound
PENALTY = 1000.0  # subtracted from the objective of an evaluation outside the guardrails (it must never rank)


@dataclass
class Step:
    iteration: int                      # 1-based number of the iteration just finished
    metrics: dict                       # training metrics + the latest held-out metrics (eval/*, vs_base/*)
    checkpoint: bool                    # a checkpoint is due after this iteration
    final: bool
    heldout: dict | None = None         # this iteration's held-out record (None when it did not evaluate)
    stop: bool = False                  # the guardrails ask to stop the run here
    new_best: bool = False              # this evaluation is the best so far within the guardrails: keep it
    notes: list = field(default_factory=list)


def objective(weights: dict, metrics: dict) -> float:
    """sum(weight * metric); NaN before the first held-out evaluation. A key no evaluation reports is an error (a
    typo or a metric that is not computed must not silently count as 0)."""
    if not any(k.startswith(("eval/", "vs_base/")) for k in metrics):
        return float("nan")
    missing = [k for k in weights if k not in metrics]
    if missing:
        raise UserError(f"tune.objective: metric {missing[0]!r} is not reported (see eval/* and vs_base/* in "
                        "TensorBoard); fix the key")
    return float(sum(w * float(metrics[k]) for k, w in weights.items()))


def make_guard(cfg, state: dict | None = None) -> GuardrailTracker | None:
    """The run's guardrail tracker (rl.guardrails), restored from a checkpoint's state when resuming."""
    if not cfg.rl.guardrails.enabled:
        return None
    guard = GuardrailTracker({}, cfg.rl.guardrails)
    if state:
        guard.load_state_dict(state)
    return guard


def evaluate_run(run, held: HeldoutSet, iteration: int) -> tuple[dict, dict]:
    """Held-out metrics of the run's current EMA weights: (flat metrics, record for the checkpoint)."""
    model, normalizer = model_from_state({"spec": run.base["spec"], "state_dict": run.ema_weights(),
                                          "normalizer": run.base["normalizer"]})
    comparison = held.compare(held.rows(model, normalizer))
    return summary_metrics(comparison, "model"), heldout_record(comparison, iteration, held)


def iterate(run, cfg, start: int, total: int, held: HeldoutSet | None, guard: GuardrailTracker | None = None):
    """Run iterations ``start`` … ``total``-1 of ``run`` and yield a :class:`Step` after each.

    At every held-out evaluation the objective (tune.objective, higher = better for mode max) is computed and the
    ``guard`` checks the base-relative bounds: an evaluation outside the guardrails gets its objective lowered by
    ``PENALTY`` (so no sweep ranks it), ``step.new_best`` marks the best evaluation within them, and a violated 'stop'
    bound ends the loop after its step. The record in ``step.heldout`` carries the verdict for checkpoints and reports.
    """
    every = cfg.rl.eval_every or total
    sign = 1.0 if cfg.tune.mode == "max" else -1.0
    last_eval: dict = {}
    for it in range(start, total):
        metrics = run.iteration(it)
        n = it + 1
        final = n == total
        step = Step(n, metrics, checkpoint=(n % cfg.rl.checkpoint_every == 0) or final, final=final)
        if held is not None and (n % every == 0 or final):
            last_eval, step.heldout = evaluate_run(run, held, n)
            last_eval["objective"] = objective(cfg.tune.objective, last_eval)
            if guard is not None:
                m = step.heldout["metrics"]
                guard.base_metrics = {k: m[k]["base"] for k in GUARDED if k in m}
                score = sign * last_eval["objective"]
                d = guard.update(n, {k: m[k]["model"] for k in GUARDED if k in m},
                                 score if math.isfinite(score) else None)
                step.stop, step.new_best, step.notes = d.stop, d.new_best, d.messages()
                step.heldout["guardrails"] = {"ok": d.within, "messages": d.messages(), "stop": d.stop,
                                              "best_iteration": d.best_iteration}
                last_eval.update(d.scalars())
                if not d.within:
                    last_eval["objective"] -= sign * PENALTY
        metrics.update(last_eval)
        yield step
        if step.stop:
            return
