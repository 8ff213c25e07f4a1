"""What a sweep varies: the search space of ``tune.search_space`` / ``tune.points`` and each trial's config.

One home for search-space parsing: Tune's param_space (dance_rl.tune), the first point a single run uses
(dance_rl.train) and the swept settings a report shows (dance_rl.tune_report) all read the spec here.
"""
from __future__ import annotations

from dance_rl.config import Config, apply_dotted, config_from_dict
from dance_rl.errors import UserError

POINT_KEY = "__point__"  # param_space key of the index into tune.points
KINDS = ("grid", "choice", "uniform", "loguniform")


def _spec(key: str, spec) -> tuple[str, list]:
    """(kind, values) of one search-space entry; anything else is the user's error."""
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in KINDS:
        raise UserError(f"tune.search_space.{key}: expected one of {{grid: [...]}}, {{choice: [...]}}, "
                        "{uniform: [lo, hi]}, {loguniform: [lo, hi]}")
    (kind, values), = spec.items()
    return kind, values


def param_space(cfg: Config) -> dict:
    """tune.search_space ({key: {grid|choice|uniform|loguniform: ...}}) and tune.points → a Tune param_space."""
    from ray import tune

    kinds = {"grid": tune.grid_search, "choice": tune.choice,
             "uniform": lambda v: tune.uniform(*v), "loguniform": lambda v: tune.loguniform(*v)}
    space = {}
    for key, spec in cfg.tune.search_space.items():
        kind, values = _spec(key, spec)
        try:
            cfg.get(key)
        except AttributeError:
            raise UserError(f"tune.search_space: '{key}' is not a config key") from None
        space[key] = kinds[kind](values)
    if cfg.tune.points:
        space[POINT_KEY] = tune.grid_search(list(range(len(cfg.tune.points))))
    return space


def first_point(search_space: dict) -> dict:
    """The first point of a search space: a grid's or choice's first value, a range's lower end."""
    return {key: _spec(key, spec)[1][0] for key, spec in (search_space or {}).items()}


def trial_config(base: dict, params: dict) -> Config:
    """The validated config of one trial: the base config with the trial's dotted keys (and explicit point) set."""
    cfg = config_from_dict(base)
    overrides = {k: v for k, v in params.items() if k != POINT_KEY}
    if POINT_KEY in params:
        overrides.update(cfg.tune.points[params[POINT_KEY]])
    return apply_dotted(cfg, overrides) if overrides else cfg


def swept_keys(cfg: Config) -> list[str]:
    """Every dotted key a sweep varies: the search space's and the explicit points'."""
    keys = list(cfg.tune.search_space)
    for point in cfg.tune.points:
        keys += [k for k in point if k not in keys]
    return keys


def swept_values(cfg: Config, trial_cfg: Config) -> dict:
    """{swept key: the trial's value} — what the report table shows as the trial's setting."""
    return {k: trial_cfg.get(k) for k in swept_keys(cfg)}


def expected_trials(cfg: Config) -> int:
    """num_samples × grid sizes × explicit points (Tune creates grid trials lazily, so count them up front)."""
    n = cfg.tune.num_samples * max(1, len(cfg.tune.points))
    for spec in cfg.tune.search_space.values():
        if "grid" in spec:
            n *= len(spec["grid"])
    return n
