"""The RLFT loop: one call of :meth:`RLFTLoop.iteration` = one fine-tuning iteration, streamed across Ray actors.

    pick music windows ─► chunks ─► SamplerActors (round robin)            sampling chunks run in parallel
                                     │ each chunk's motions, as soon as it exists (ray.wait)
                                     ▼
                                RewardActors (round robin, arrival order)  scoring overlaps with sampling
                                     │ chains and scores by reference (never through the driver)
                                     ▼
                                Learner.update_and_publish ─► (version, [weights ref]) for the next iteration

With ``rl.lag`` the next iteration's sampling starts with the current weights while the learner updates (one version
stale; the PPO ratio corrects for it). The driver only moves object references, so it costs almost nothing.
The same iteration runs in one process with :class:`SerialLoop` (the benchmark baseline and a Ray-free debug path).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import ray


@dataclass
class ChunkPlan:
    chunk_id: int
    cond: np.ndarray   # (n, T, C)
    keys: list


def plan_chunks(conditions: np.ndarray, keys: list, iteration: int, seed: int, n_conditions: int,
                n_per_condition: int, chunk_size: int) -> list[ChunkPlan]:
    """Which music windows this iteration samples, grouped into chunks of at most ``chunk_size`` samples."""
    rng = np.random.default_rng([seed, iteration])
    idx = rng.choice(len(keys), size=n_conditions, replace=n_conditions > len(keys))
    per_chunk = max(1, chunk_size // n_per_condition)
    return [ChunkPlan(c, conditions[idx[i:i + per_chunk]], [keys[j] for j in idx[i:i + per_chunk]])
            for c, i in enumerate(range(0, len(idx), per_chunk))]


@dataclass
class _Pending:
    iteration: int
    weights: tuple
    motion_refs: list
    rollout_refs: list
    t_start: float
    score_refs: dict = field(default_factory=dict)


class RLFTLoop:
    def __init__(self, samplers, rewarders, learner, conditions: np.ndarray, keys: list, rl_cfg, weights: tuple,
                 chunk_size: int = 4):
        self.samplers, self.rewarders, self.learner = samplers, rewarders, learner
        self.chunk_size = chunk_size
        self.conditions, self.keys, self.rl = conditions, list(keys), rl_cfg
        self.weights = weights          # (version, [ref]) the samplers use
        self._prefetched: _Pending | None = None

    def _submit_sampling(self, iteration: int, weights: tuple) -> _Pending:
        plans = plan_chunks(self.conditions, self.keys, iteration, self.rl.seed, self.rl.conditions_per_iter,
                            self.rl.samples_per_condition, self.chunk_size)
        m_refs, r_refs = [], []
        for p in plans:
            s = self.samplers[p.chunk_id % len(self.samplers)]
            m, r = s.sample.remote(p.chunk_id, iteration, p.cond, p.keys, self.rl.samples_per_condition, weights)
            m_refs.append(m)
            r_refs.append(r)
        return _Pending(iteration, weights, m_refs, r_refs, time.perf_counter())

    def iteration(self, iteration: int) -> dict:
        t0 = time.perf_counter()
        pend = self._prefetched if self._prefetched is not None else self._submit_sampling(iteration, self.weights)
        self._prefetched = None
        # Stream: each chunk, as soon as it is sampled, goes to the next reward actor in turn (round robin in arrival
        # order, not by measured load: chunks hold the same number of samples, so equal counts are equal work, and
        # Ray queues the calls of a busy actor).
        chunk_of = {ref: c for c, ref in enumerate(pend.motion_refs)}
        remaining, sent = list(pend.motion_refs), 0
        while remaining:
            ready, remaining = ray.wait(remaining, num_returns=1)
            for ref in ready:
                c = chunk_of[ref]
                rewarder = self.rewarders[sent % len(self.rewarders)]
                sent += 1
                pend.score_refs[c] = rewarder.score.remote((pend.iteration, c), ref)
        t_sampled = time.perf_counter()
        score_refs = [pend.score_refs[c] for c in range(len(pend.motion_refs))]
        result_ref = self.learner.update_and_publish.remote(pend.rollout_refs, score_refs)
        if self.rl.lag:  # sample the next iteration with the current (soon one version old) weights
            self._prefetched = self._submit_sampling(iteration + 1, self.weights)
        ray.wait(score_refs, num_returns=len(score_refs))
        t_scored = time.perf_counter()
        metrics, self.weights = ray.get(result_ref)
        t_end = time.perf_counter()
        motions_meta = [m["seconds"] for m in ray.get(pend.motion_refs)]
        score_meta = [s["seconds"] for s in ray.get(score_refs)]
        metrics.update(stage_metrics(motions_meta, score_meta, metrics["time/learner_s"], len(self.samplers),
                                     len(self.rewarders), t_end - t0, self.rl.lag))
        metrics["time/sample_wall_s"] = t_sampled - t0
        metrics["time/score_wall_s"] = t_scored - t0
        metrics["samples"] = float(self.rl.conditions_per_iter * self.rl.samples_per_condition)
        metrics["time/samples_per_s"] = metrics["samples"] / (t_end - t0)
        return metrics


def stage_metrics(sample_s: list, score_s: list, learner_s: float, n_samplers: int, n_rewarders: int,
                  wall_s: float, lag: bool) -> dict:
    """Throughput and overlap efficiency.

    Busy time of a stage = its summed compute seconds / replicas. A perfect pipeline still has to fill and drain:
    scoring cannot start before the first chunk is sampled, and the last chunk's scoring follows its sampling. So the
    best possible on-policy iteration is max(sampling + last chunk's scoring, first chunk's sampling + scoring)
    + learner (with lag the learner overlaps the next sampling). overlap_efficiency = that bound / wall time
    (1.0 = the orchestration costs nothing).
    """
    sample_t = sum(sample_s) / max(1, n_samplers)
    score_t = sum(score_s) / max(1, n_rewarders)
    pipeline = max(sample_t + (score_s[-1] if score_s else 0.0), (sample_s[0] if sample_s else 0.0) + score_t)
    bound = max(pipeline, learner_s) if lag else pipeline + learner_s
    return {"time/sample_stage_s": sample_t, "time/score_stage_s": score_t, "time/learner_stage_s": learner_s,
            "time/iteration_s": wall_s, "time/overlap_efficiency": bound / wall_s if wall_s > 0 else 0.0}


class SerialLoop:
    """The same iteration in one process (no Ray): sample all chunks, score them, update. Same seeds, same work."""

    def __init__(self, sampler, rewarder, learner, conditions, keys, rl_cfg, chunk_size: int = 4):
        self.sampler, self.rewarder, self.learner = sampler, rewarder, learner
        self.conditions, self.keys, self.rl, self.chunk_size = conditions, list(keys), rl_cfg, chunk_size
        self.weights = (learner.version, learner.get_weights())

    def iteration(self, iteration: int) -> dict:
        t0 = time.perf_counter()
        plans = plan_chunks(self.conditions, self.keys, iteration, self.rl.seed, self.rl.conditions_per_iter,
                            self.rl.samples_per_condition, self.chunk_size)
        rollouts, scores, s_t, r_t = [], [], [], []
        for p in plans:
            motions, rollout = self.sampler.sample(p.chunk_id, iteration, p.cond, p.keys,
                                                   self.rl.samples_per_condition, self.weights)
            score = self.rewarder.score((iteration, p.chunk_id), motions)
            rollouts.append(rollout)
            scores.append(score)
            s_t.append(motions["seconds"])
            r_t.append(score["seconds"])
        metrics = self.learner.update(rollouts, scores)
        self.weights = (self.learner.version, self.learner.get_weights())
        wall = time.perf_counter() - t0
        metrics.update(stage_metrics(s_t, r_t, metrics["time/learner_s"], 1, 1, wall, False))
        metrics["samples"] = float(self.rl.conditions_per_iter * self.rl.samples_per_condition)
        metrics["time/samples_per_s"] = metrics["samples"] / wall
        return metrics
