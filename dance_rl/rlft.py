"""The one RLFT iteration loop, shared by ``python -m dance_rl.train`` and every Tune trial.

Per iteration: one pipelined RLFT step (sample → score → update), then on schedule a held-out evaluation of the EMA
weights against the base model (dance_rl.compare: same clips, same noise, paired CIs) and the guardrails' verdict.
The caller decides what to do with each yielded step (TensorBoard and checkpoints in ``train``, ``tune.report`` in a
trial); the loop itself holds no I/O, so both drivers evaluate, check and checkpoint on exactly the same schedule.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from dance_rl.compare import HeldoutSet, heldout_record, model_from_state
from dance_rl.eval.paired import summary_metrics


@dataclass
class Step:
    iteration: int                      # 1-based number of the iteration just finished
    metrics: dict                       # training metrics + the latest held-out metrics (eval/*, vs_base/*)
    checkpoint: bool                    # a checkpoint is due after this iteration
    final: bool
    heldout: dict | None = None         # this iteration's held-out record (None when it did not evaluate)
    stop: bool = False                  # the guardrails ask to stop the run here
    notes: list = field(default_factory=list)


def evaluate_run(run, held: HeldoutSet, iteration: int) -> tuple[dict, dict]:
    """Held-out metrics of the run's current EMA weights: (flat metrics, record for the checkpoint)."""
    model, normalizer = model_from_state({"spec": run.base["spec"], "state_dict": run.ema_weights(),
                                          "normalizer": run.base["normalizer"]})
    comparison = held.compare(held.rows(model, normalizer))
    return summary_metrics(comparison, "model"), heldout_record(comparison, iteration, held)


def iterate(run, cfg, start: int, total: int, held: HeldoutSet | None, guard=None):
    """Run iterations ``start`` … ``total``-1 of ``run`` and yield a :class:`Step` after each.

    ``guard`` (dance_rl.rl.guardrails.GuardrailTracker or None) sees every held-out evaluation; its decision is
    folded into the step (``stop``, ``metrics["guardrails/ok"]``) so the caller can stop or keep the best checkpoint.
    """
    every = cfg.rl.eval_every or total
    last_eval: dict = {}
    for it in range(start, total):
        metrics = run.iteration(it)
        n = it + 1
        final = n == total
        step = Step(n, metrics, checkpoint=(n % cfg.rl.checkpoint_every == 0) or final, final=final)
        if held is not None and (n % every == 0 or final):
            last_eval, step.heldout = evaluate_run(run, held, n)
            if guard is not None:
                decision = guard.update(n, last_eval)
                step.stop, step.notes = decision.stop, decision.messages
                step.heldout["guardrails"] = decision.to_dict()
                step.checkpoint = True  # every evaluated iteration is a candidate for "best within the guardrails"
        metrics.update(last_eval)
        if guard is not None:
            metrics["guardrails/ok"] = float(guard.ok)
        yield step
        if step.stop:
            return
