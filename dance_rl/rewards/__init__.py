"""Rewards: pure functions of a `MotionBatch` returning {"per_sample", "per_frame", "diagnostics"}.

Names → functions in `registry`; weighted scoring of several at once in `composite.score`.
"""
from dance_rl.rewards.batch import MotionBatch
from dance_rl.rewards.composite import score, summary, weights_from_config
from dance_rl.rewards.registry import available, get_reward, register

__all__ = ["MotionBatch", "score", "summary", "weights_from_config", "available", "get_reward", "register"]
