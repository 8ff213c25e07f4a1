"""Diffusion base model: EDGE-compatible DanceDecoder, cosine schedule, DDIM with log-probs, long-form, FGD guidance.

Main entry points (see each module's docstring):
- model.DanceDecoder / ModelSpec           the denoiser (x0 prediction), presets "demo" and "edge"
- schedule.NoiseSchedule                   cosine schedule, DDIM coefficients
- sampler.ddim_sample / step_logprob       sampling with per-step log-probs; log-prob recomputation for RL
- long_form.long_sample / stitch           any-length generation
- guidance.fgd_guidance / postprocess      test-time foot-ground guidance and contact post-processing
- checkpoint.load_model, trainer.default_demo_checkpoint, edge_checkpoint.load_edge_checkpoint
"""
from dance_rl.diffusion.edge_checkpoint import load_edge_checkpoint
from dance_rl.diffusion.model import DanceDecoder, ModelSpec
from dance_rl.diffusion.schedule import NoiseSchedule

__all__ = ["DanceDecoder", "ModelSpec", "NoiseSchedule", "load_edge_checkpoint"]
