"""RewardActor: owns the MuJoCo models and threads, and scores chunks of generated motions.

Idempotent per batch id: a retried or duplicated ``score`` call for a batch it already scored returns the stored result
(and scoring itself is deterministic, so a restarted actor recomputes the same numbers). Declared with
``max_restarts``/``max_task_retries`` by the loop, so a killed reward process costs a retry, not the iteration.
"""
from __future__ import annotations

import dataclasses
import os
import time
from collections import OrderedDict

import numpy as np
import ray
import torch

from dance_rl.motion.representation import ROT_SLICE
from dance_rl.rewards.antifreeze import motion_magnitude, motion_magnitude_lowpass
from dance_rl.rewards.batch import MotionBatch
from dance_rl.rewards.composite import score as composite_score


class RewardWorker:
    def __init__(self, weights: dict[str, float], fps: float = 30.0, reward_params: dict | None = None,
                 num_threads: int = 1, cache_size: int = 256):
        torch.set_num_threads(1)
        self.weights = {k: float(v) for k, v in weights.items() if float(v) > 0}
        self.fps = fps
        # per-reward keyword arguments; only the rewards being computed take them
        self.params = {k: v for k, v in (reward_params or {}).items() if k in self.weights}
        self.num_threads = num_threads
        self._done: OrderedDict = OrderedDict()
        self.cache_size = cache_size
        self.calls = 0  # how many batches this process actually scored (for tests)

    def score(self, batch_id, motions: dict) -> dict:
        if batch_id in self._done:
            return self._done[batch_id]
        t0 = time.perf_counter()
        self.calls += 1
        features = np.asarray(motions["features"])
        music = motions.get("music")  # the music windows the motions were sampled for (the learned reward reads them)
        batch = MotionBatch.from_features(features, fps=self.fps, music=None if music is None else np.array(music))
        result = composite_score(batch, self.weights, params=self.params)
        magnitude = np.array([motion_magnitude(f[:, ROT_SLICE], self.fps) for f in features])
        lowpass = np.array([motion_magnitude_lowpass(f[:, ROT_SLICE], self.fps) for f in features])
        out = {"batch_id": batch_id, "keys": list(motions["keys"]), "components": _plain(result["components"]),
               "motion_magnitude": magnitude, "motion_lowpass": lowpass, "seconds": time.perf_counter() - t0,
               "pid": os.getpid()}
        self._done[batch_id] = out
        while len(self._done) > self.cache_size:
            self._done.popitem(last=False)
        return out

    def settings(self) -> dict:
        """What this actor scores with (tests compare the Ray and the serial path)."""
        params = {name: {k: dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v for k, v in kw.items()}
                  for name, kw in self.params.items()}
        return {"weights": self.weights, "fps": self.fps, "params": params, "num_threads": self.num_threads}

    def num_calls(self) -> int:
        return self.calls

    def pid(self) -> int:
        return os.getpid()

    def node_id(self) -> str:
        return ray.get_runtime_context().get_node_id()


def _plain(components: dict) -> dict:
    """Keep arrays only (per_sample, per_frame, diagnostics) so results are cheap to ship."""
    out = {}
    for name, res in components.items():
        out[name] = {"per_sample": np.asarray(res["per_sample"], dtype=np.float64),
                     "per_frame": None if res.get("per_frame") is None else np.asarray(res["per_frame"], np.float64),
                     "diagnostics": {k: np.asarray(v) for k, v in (res.get("diagnostics") or {}).items()}}
    return out


RewardActor = ray.remote(RewardWorker)
