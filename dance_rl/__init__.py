"""dance_rl: RL fine-tuning of music-to-dance diffusion models for physical plausibility (Skeleton2Stage)."""
__version__ = "0.1.0"
