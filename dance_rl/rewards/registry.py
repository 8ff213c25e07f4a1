"""Reward names → reward functions ``fn(batch: MotionBatch, **params) -> {"per_sample", "per_frame", "diagnostics"}``.

Rewards that need heavy imports (the MuJoCo tracker behind ``imitation``) are resolved on first use, so importing the
registry stays cheap and works where MuJoCo is absent.
"""
from __future__ import annotations

import importlib
from typing import Callable

from dance_rl.errors import UserError
from dance_rl.rewards.batch import MotionBatch

RewardFn = Callable[..., dict]

# name → "module:function" (resolved lazily); all take a MotionBatch first.
_ENTRIES: dict[str, "str | RewardFn"] = {
    "imitation": "dance_rl.rewards.registry:_imitation",
    "fgd": "dance_rl.rewards.fgd:fgd",
    "fgd_ground": "dance_rl.rewards.fgd:fgd_ground",
    "antifreeze": "dance_rl.rewards.antifreeze:antifreeze",
    "skating": "dance_rl.rewards.skating:skating",
    "root_smoothness": "dance_rl.rewards.root_smoothness:root_smoothness",
    "phymotion": "dance_rl.rewards.phymotion:phymotion",
    "phymotion_kinematic": "dance_rl.rewards.phymotion:phymotion_kinematic",
    "phymotion_contact": "dance_rl.rewards.phymotion:phymotion_contact",
    "phymotion_dynamic": "dance_rl.rewards.phymotion:phymotion_dynamic",
    "learned": "dance_rl.rewards.learned:learned",
}


def _imitation(batch: MotionBatch, controller: str = "pd", policy_checkpoint: str = "", **params) -> dict:
    """Adapter: the simulator helper on a MotionBatch (cached). ``controller`` (rewards.imitation.controller): "pd" =
    ``imitation_reward`` (PD tracker), "policy" = ``policy_imitation_reward`` (trained policy, ``policy_checkpoint``)."""
    if controller == "policy":
        from dance_rl.rewards.imitation_policy import policy_imitation_reward as fn
        params = {**params, "policy_checkpoint": policy_checkpoint}
    elif controller == "pd":
        from dance_rl.rewards.imitation import imitation_reward as fn
    else:
        raise UserError(f"rewards.imitation.controller: {controller!r} is not 'pd' or 'policy'")
    key = ("imitation", controller, tuple(sorted((k, repr(v)) for k, v in params.items())))
    return batch.cached(key, lambda: fn(batch.poses, batch.trans, batch.fps, **params))


def accepted_params(fn: RewardFn) -> set[str] | None:
    """Keyword parameters a reward accepts besides the batch, read from its signature: rewards spell their parameters
    out so that `composite.score` can reject unknown ones (None = the reward takes ``**kwargs``: cannot tell)."""
    import inspect

    if fn is _imitation:
        from dance_rl.rewards.imitation import imitation_reward
        return set(inspect.signature(imitation_reward).parameters) - {"poses", "trans", "fps"} | {"controller",
                                                                                              "policy_checkpoint"}
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return None
    return set(list(params)[1:])


def available() -> list[str]:
    """Registered reward names."""
    return sorted(_ENTRIES)


def register(name: str, target: str | RewardFn) -> None:
    """Add a reward: a function or a lazy ``"module:function"`` string."""
    _ENTRIES[name] = target


def get_reward(name: str) -> RewardFn:
    """The reward function registered as ``name``; unknown names raise UserError listing the known ones."""
    if name not in _ENTRIES:
        raise UserError(f"reward {name!r}: not registered; choose from {', '.join(available())}")
    target = _ENTRIES[name]
    if callable(target):
        return target
    module, _, attr = target.partition(":")
    fn = getattr(importlib.import_module(module), attr)
    if name == "imitation":  # the adapter imports the simulator lazily; import it now, before any work is done
        importlib.import_module("dance_rl.rewards.imitation")
    return fn
