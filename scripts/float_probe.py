"""Which rewards pay the policy to float? Raise whole motions rigidly and score them with the run's rewards.

Every reward's batch mean at each raise (metres; negative = sink), on the demo corpus's mocap clips, or with
``--checkpoint`` on a model's samples for ``--music`` songs (a rigid raise of its own output, which is what a policy can
learn cheaply). A reward that rises with the raise pays for floating; after session 12 only ``fgd_ground`` should move
(and fall). Reward settings are the run's (``--config/--set``: rewards.* and sim.*), e.g.
``--set rewards.phymotion.floor=ground`` shows the PhyMotion term that paid for floating. docs/results.md ("Session
12") holds what it measured.

    python scripts/float_probe.py [--rewards skating,fgd_ground,imitation,phymotion] [--raise 0 0.05 0.1 0.2 0.3]
                                  [--checkpoint M --music DIR [--clips 12]] [--config cfg.yaml] [--set KEY=VALUE]
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from dance_rl.errors import UserError, cli_main

CLIPS = ("dance_a", "dance_b", "walk", "punch")  # the demo corpus's source mocap (retargeted DeepMimic clips)
SECONDS = 5.0


def raised_batch(poses: np.ndarray, trans: np.ndarray, raises) -> tuple[np.ndarray, np.ndarray]:
    """(N,T,24,3), (N,T,3) → every motion at every raise, motion-major: index = motion · len(raises) + raise."""
    r = np.asarray(raises, dtype=np.float64)
    p = np.repeat(np.asarray(poses), len(r), axis=0)
    t = np.repeat(np.asarray(trans, dtype=np.float64), len(r), axis=0)
    t[..., 2] += np.tile(r, len(poses))[:, None]
    return p, t


def reward_table(poses, trans, raises, weights: dict, params: dict, fps: float = 30.0) -> dict[str, np.ndarray]:
    """{reward: (len(raises),) batch mean per raise} of every weighted reward."""
    from dance_rl.rewards.batch import MotionBatch
    from dance_rl.rewards.composite import score

    p, t = raised_batch(poses, trans, raises)
    out = score(MotionBatch(p, t.astype(np.float32), fps=fps), weights, params=params)
    return {k: v["per_sample"].reshape(len(poses), len(raises)).mean(axis=0) for k, v in out["components"].items()}


def _motions(args, cfg) -> tuple[np.ndarray, np.ndarray, str]:
    if args.checkpoint is None:
        from dance_rl.data import demo

        clips = [demo.clip_motion(demo.source_clip(n), seconds=SECONDS) for n in CLIPS]
        return np.stack([c[0] for c in clips]), np.stack([c[1] for c in clips]), f"{len(CLIPS)} demo mocap clips"
    if not args.music:
        raise UserError("--checkpoint needs --music (a folder of songs to sample the model on)")
    if args.clips < 1:
        raise UserError(f"--clips {args.clips}: sample at least 1 song")
    from dance_rl.compare import generate, heldout_clips
    from dance_rl.diffusion.checkpoint import load_model, sampling_settings

    model, normalizer, _ = load_model(args.checkpoint, use_ema=True)
    model.eval()
    clips = heldout_clips(args.music, cfg, model.spec.seq_len / 30.0, args.clips, clips_per_song=1)
    settings = sampling_settings(cfg.to_dict(), rlft=True)
    ms = [generate(model, normalizer, c, 0, settings) for c in clips]
    return (np.stack([m["poses"] for m in ms]), np.stack([m["trans"] for m in ms]),
            f"{len(ms)} samples of {args.checkpoint} on {args.music}")


def main(argv=None) -> int:
    from dance_rl.cluster.roles import reward_kwargs
    from dance_rl.config import add_config_args, load_config

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_config_args(p)
    p.add_argument("--rewards", default="skating,fgd_ground,imitation,phymotion,antifreeze,fgd",
                   help="comma-separated reward names")
    p.add_argument("--raise", dest="raises", type=float, nargs="+", default=[0.0, 0.05, 0.1, 0.2, 0.3],
                   help="rigid vertical shifts in metres")
    p.add_argument("--checkpoint", default=None, help="score this model's samples instead of the demo mocap")
    p.add_argument("--music", default=None, help="with --checkpoint: a folder of songs to sample on")
    p.add_argument("--clips", type=int, default=12, help="with --checkpoint: songs to sample (one clip each)")
    args = p.parse_args(argv)
    cfg = load_config(args.config, args.overrides)
    names = [n.strip() for n in args.rewards.split(",") if n.strip()]
    params = reward_kwargs(cfg)["reward_params"]
    unknown = [n for n in names if n not in params]
    if unknown or not names:
        raise UserError(f"--rewards {args.rewards}: unknown {unknown}; choose from {sorted(params)}")
    poses, trans, what = _motions(args, cfg)
    table = reward_table(poses, trans, args.raises, {n: 1.0 for n in names}, {n: params[n] for n in names})
    print(f"Batch mean of each reward with the whole motion raised rigidly ({what}):\n")
    print("| reward | " + " | ".join(f"{r:+.2f} m" for r in args.raises) + " |")
    print("|---|" + "---|" * len(args.raises))
    for n in names:
        print(f"| {n} | " + " | ".join(f"{v:.4f}" for v in table[n]) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(cli_main(main))
