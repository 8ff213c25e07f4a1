"""Guardrails: held-out realism bounds relative to the base model, and what to do when one is crossed.

Rewards measure what they measure; a policy can raise them by changing *how* it dances (issue 13: a deep crouch is
easy to track and keeps the arms clear of the body, so imitation and PhyMotion rose while motion magnitude fell 35%
and FID_g rose 5x). Metrics that no reward optimises (FID_k, FID_g, motion magnitude, pelvis height) are therefore
compared with the base model's values at every held-out evaluation. Motion is bounded twice: as Skeleton2Stage
measures it, and low-pass (rewards/antifreeze.py), which jitter cannot inflate.

Each bound (``GuardrailsConfig`` in dance_rl/config.py) has a kind and an action:

* ``min_ratio``: value >= limit x base;  ``max_ratio``: value <= limit x base;  ``max_shift``: |value - base| <= limit;
* ``warn``: reported only; ``stop``: the run ends once such a bound has been violated ``patience`` evaluations in a
  row; ``keep_best``: the run goes on, and the checkpoint kept is the best evaluation that satisfied every bound;
  ``ignore``: not checked.

An evaluation is *within the guardrails* when no ``stop`` or ``keep_best`` bound is violated (``warn`` bounds only
inform). `check` is a pure function; `GuardrailTracker` holds the little state a training loop needs (best evaluation
so far, consecutive violations) and is saved with the run (`state_dict`). No Ray, no I/O.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Mapping, Optional

# (metric key, kind); the config holds "<metric>_<kind>" (the limit) and "<metric>_action".
BOUNDS = (("motion_magnitude", "min_ratio"), ("motion_lowpass", "min_ratio"), ("fid_k", "max_ratio"),
          ("fid_g", "max_ratio"),
          ("pelvis_height", "max_shift"))
BLOCKING = ("stop", "keep_best")  # actions whose violation puts an evaluation outside the guardrails


@dataclass(frozen=True)
class Violation:
    metric: str  # metric key (without the config's prefix)
    value: float  # the evaluated model's value
    bound: float  # the allowed limit in the metric's own units (e.g. 0.9 x base motion magnitude)
    base: float  # the base model's value
    kind: str  # min_ratio | max_ratio | max_shift
    action: str  # warn | stop | keep_best

    def describe(self) -> str:
        rel = {"min_ratio": ">=", "max_ratio": "<=", "max_shift": "within +-"}[self.kind]
        ref = f"{self.bound:.4g}" if self.kind != "max_shift" else f"{self.bound:.4g} of base {self.base:.4g}"
        return f"{self.metric}={self.value:.4g} not {rel} {ref} (base {self.base:.4g}; action {self.action})"


def _lookup(metrics: Mapping[str, float], key: str, prefix: str, which: str) -> float:
    for k in (prefix + key, key):
        if k in metrics:
            return float(metrics[k])
    raise KeyError(f"guardrails: the {which} metrics have no '{prefix + key}'; compute it in the held-out evaluation "
                   f"or set rl.guardrails.{key}_action=ignore")


def check(base_metrics: Mapping[str, float], metrics: Mapping[str, float], cfg) -> list[Violation]:
    """Violated bounds of ``metrics`` against ``base_metrics`` under ``cfg`` (a GuardrailsConfig); [] = all satisfied.

    A bound whose action is 'ignore' is not checked. A non-finite value (a diverged evaluation) violates its bound.
    A metric an enabled bound needs but the evaluation lacks raises KeyError: a guardrail must never pass silently.
    """
    if not cfg.enabled:
        return []
    out = []
    for key, kind in BOUNDS:
        action = getattr(cfg, f"{key}_action")
        if action == "ignore":
            continue
        limit = float(getattr(cfg, f"{key}_{kind}"))
        base = _lookup(base_metrics, key, cfg.metric_prefix, "base model's")
        value = _lookup(metrics, key, cfg.metric_prefix, "evaluated model's")
        tol = 1e-9 * max(abs(base), 1.0)  # a value exactly on the bound passes despite float rounding
        if kind == "min_ratio":
            bound, ok = limit * base, value >= limit * base - tol
        elif kind == "max_ratio":
            bound, ok = limit * base, value <= limit * base + tol
        else:  # max_shift
            bound, ok = limit, abs(value - base) <= limit + tol
        if not (ok and math.isfinite(value)):
            out.append(Violation(key, value, bound, base, kind, action))
    return out


def within(violations: list[Violation]) -> bool:
    """True when no stop/keep_best bound is violated (what a sweep's objective may rank)."""
    return not any(v.action in BLOCKING for v in violations)


@dataclass
class Decision:
    iteration: int
    violations: list[Violation]
    within: bool  # no stop/keep_best bound violated
    stop: bool  # end the run now
    new_best: bool  # this evaluation is the best one within the guardrails so far: keep its checkpoint
    best_iteration: Optional[int]  # best evaluation within the guardrails so far (None = none yet: the base model)

    def messages(self) -> list[str]:
        return [v.describe() for v in self.violations]

    def scalars(self) -> dict[str, float]:
        """Numbers for TensorBoard / tune.report: within (0/1), stop (0/1), best iteration (-1 = the base model) and,
        per violated bound, its value over the bound (ratios) or shift minus the bound (metres)."""
        out = {"guardrails/within": float(self.within), "guardrails/stop": float(self.stop),
               "guardrails/best_iteration": float(-1 if self.best_iteration is None else self.best_iteration)}
        for v in self.violations:
            if v.kind == "max_shift":
                excess = abs(v.value - v.base) - v.bound
            else:
                excess = v.value / v.bound if v.bound else math.inf
            out[f"guardrails/{v.metric}"] = float(excess)
        return out


@dataclass
class GuardrailTracker:
    """Per-evaluation decisions for one run: continue or stop, and which iteration is the best within guardrails.

    ``score`` (higher is better, e.g. the sweep objective) ranks evaluations within the guardrails; without one the
    latest evaluation within the guardrails is the best (it has trained longest without crossing a bound). When no
    evaluation was ever within the guardrails, ``best_iteration`` stays None: the base model is the one to keep.
    """

    base_metrics: dict
    cfg: object
    best_iteration: Optional[int] = None
    best_score: Optional[float] = None
    streak: int = 0  # consecutive evaluations violating a 'stop' bound
    history: list = field(default_factory=list)  # (iteration, within, [stop/keep_best metrics violated])

    def update(self, iteration: int, metrics: Mapping[str, float], score: float | None = None) -> Decision:
        violations = check(self.base_metrics, metrics, self.cfg)
        ok = within(violations)
        self.streak = self.streak + 1 if any(v.action == "stop" for v in violations) else 0
        stop = self.streak >= self.cfg.patience
        new_best = False
        if ok:
            s = float(score) if score is not None and math.isfinite(score) else None
            # unscored evaluations: the latest within the guardrails wins, unless scored ones are being ranked
            new_best = self.best_score is None if s is None else (self.best_score is None or s > self.best_score)
            if new_best:
                self.best_iteration, self.best_score = int(iteration), s
        self.history.append((int(iteration), ok, [v.metric for v in violations if v.action in BLOCKING]))
        return Decision(int(iteration), violations, ok, stop, new_best, self.best_iteration)

    @property
    def ever_violated(self) -> list[str]:
        """Metric names that tripped a stop/keep_best bound at least once (for "reward hacking suspected" reports)."""
        return sorted({m for _, _, names in self.history for m in names})

    def state_dict(self) -> dict:
        return {"base_metrics": dict(self.base_metrics), "best_iteration": self.best_iteration,
                "best_score": self.best_score, "streak": self.streak, "history": [list(h) for h in self.history]}

    def load_state_dict(self, state: Mapping) -> None:
        self.base_metrics = dict(state["base_metrics"])
        self.best_iteration, self.best_score = state["best_iteration"], state["best_score"]
        self.streak = int(state["streak"])
        self.history = [(int(i), bool(ok), list(names)) for i, ok, names in state["history"]]


def violation_dicts(violations: list[Violation]) -> list[dict]:
    """Plain dicts (JSON / tune.report friendly)."""
    return [asdict(v) for v in violations]
