"""The held-out evaluation of a run or sweep: ``compare``'s protocol applied inside training.

The driver builds one :class:`HeldoutSet` (held-out clips × seeds, training-mocap reference, the run's sampling
settings) and scores the base model on it once; every evaluation of the fine-tuned weights is then a paired comparison
against those base rows (same clips, same noise), so training curves, the sweep report and the model card use the
numbers ``python -m dance_rl.compare`` would give.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dance_rl.compare import FPS, generate, heldout_clips, reference_features


@dataclass
class HeldoutSet:
    """The fixed held-out evaluation of a run or sweep: clips × seeds, the training-mocap reference, the sampling
    settings of the run, and the base model's rows on it (computed once by the driver, shipped to trials)."""
    clips: list
    seeds: int
    reference: dict
    settings: dict
    opts: object
    base_rows: list
    n_boot: int = 1000
    note: str = ""

    @property
    def groups(self) -> list:
        return [c.key for c in self.clips for _ in range(self.seeds)]

    def rows(self, model, normalizer) -> list[dict]:
        from dance_rl.eval.paired import sample_row

        return [sample_row(**_pose_args(generate(model, normalizer, c, s, self.settings)), beats_60=c.beats_60,
                           opts=self.opts) for c in self.clips for s in range(self.seeds)]

    def compare(self, rows: list[dict]) -> dict:
        """Paired comparison of ``rows`` against the base rows: {metric: {"base": stats, "model": stats}}."""
        from dance_rl.eval.paired import compare_models

        return compare_models({"base": [dict(r) for r in self.base_rows], "model": rows}, self.groups,
                              self.reference, n_boot=self.n_boot)


def _pose_args(m: dict) -> dict:
    return {"poses": m["poses"], "trans": m["trans"]}


def build_heldout(cfg, base: dict, log=print) -> HeldoutSet:
    """The held-out set of ``cfg.eval`` for fine-tuning ``base`` ({spec, state_dict, normalizer}), with base rows."""
    from dance_rl.diffusion.checkpoint import sampling_settings
    from dance_rl.eval.report import EvalOptions

    model, normalizer = model_from_state(base)
    seconds = cfg.eval.clip_seconds or model.spec.seq_len / FPS
    clips = heldout_clips(cfg.eval.music, cfg, seconds, cfg.eval.num_music, clips_per_song=2)
    settings = sampling_settings(cfg.to_dict(), rlft=True)
    opts = EvalOptions(seconds=seconds, imitation=cfg.eval.imitation)
    small = len(clips) * cfg.eval.seeds < 16
    note = (f"{len(clips)} held-out clips × {cfg.eval.seeds} seeds ({cfg.eval.music}, {seconds:g} s)"
            + (" — a small set: differences need a larger eval.num_music/eval.seeds to carry a conclusion" if small else ""))
    log(f"held-out evaluation: {note}; scoring the base model once ...")
    held = HeldoutSet(clips, cfg.eval.seeds, reference_features(cfg, seconds), settings, opts, [], cfg.eval.n_boot, note)
    held.base_rows = held.rows(model, normalizer)
    return held


def model_from_state(m: dict):
    """{spec, state_dict (numpy or torch), normalizer} → (DanceDecoder in eval mode, Normalizer)."""
    import torch

    from dance_rl.diffusion.model import DanceDecoder, ModelSpec
    from dance_rl.motion.representation import Normalizer

    model = DanceDecoder(ModelSpec(**m["spec"]))
    model.load_state_dict({k: torch.as_tensor(np.array(v)) for k, v in m["state_dict"].items()})
    return model.eval(), Normalizer.from_state_dict(m["normalizer"])


def heldout_record(comparison: dict, iteration: int, held: HeldoutSet) -> dict:
    """What a checkpoint stores of its latest held-out evaluation (read by export's model card and the report)."""
    return {"iteration": iteration, "protocol": held.note, "sampling": held.settings,
            "metrics": {k: {"base": v["model"]["mean_a"], "model": v["model"]["mean_b"], "diff": v["model"]["diff"],
                            "ci": v["model"]["ci"], "p": v["model"]["p"], "rel": v["model"]["rel"]}
                        for k, v in comparison.items()}}
