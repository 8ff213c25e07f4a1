"""Are a checkpoint's samples human-like? Ground contact, speed and bone-length statistics next to the mocap windows.

Samples one window per held-out music clip (config `eval.music`, `eval.num_music`, fixed seed) with full DDIM chains and
prints, for the samples and for the same number of real demo-corpus windows: the lowest joint's height (should sit
near 0), the share of frames whose lowest joint is within 5 cm of the ground, the 99th-percentile and maximum joint
speed (explosions show up here), the bone-length error (0 by construction: rotations + fixed skeleton) and the
evaluation metrics that the Tune reports use (PFC, FGD, motion magnitude and its low-pass form, PhyMotion, imitation),
and the root's median horizontal acceleration (mocap: ~3 m/s²; frame-to-frame jitter raises it tenfold).

    python scripts/sample_stats.py [--checkpoint ckpt.pt] [--config FILE] [--set k=v ...] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch

from dance_rl.config import add_config_args, load_config
from dance_rl.errors import cli_main


def motion_stats(joints: np.ndarray, fps: float) -> dict:
    """joints (B,T,24,3) → ground/speed/bone statistics (metres, m/s)."""
    from dance_rl.motion.skeleton import PARENTS, bone_lengths
    from dance_rl.rewards.root_smoothness import root_acceleration

    low = joints[..., 2].min(axis=-1)  # (B,T) lowest joint per frame
    speed = np.linalg.norm(np.diff(joints, axis=1), axis=-1) * fps
    bones = np.linalg.norm(joints[:, :, 1:] - joints[:, :, list(PARENTS[1:])], axis=-1)
    root_acc = root_acceleration(joints[:, :, 0, :2], fps)  # horizontal; jitter shows here
    return {"root_xy_accel_median": float(np.median(root_acc)),
            "lowest_joint_cm_mean": 100 * float(low.mean()), "lowest_joint_cm_std": 100 * float(low.std()),
            "frames_within_5cm": float((np.abs(low) < 0.05).mean()),
            "joint_speed_p99": float(np.percentile(speed, 99)), "joint_speed_max": float(speed.max()),
            "bone_length_err_mm": 1000 * float(np.abs(bones - bone_lengths()[1:]).max())}


def mean_metrics(features: np.ndarray, music: np.ndarray) -> dict:
    """Means of the held-out metric suite (dance_rl.eval.paired.sample_row) over 151-d motions."""
    from dance_rl.eval.paired import sample_row
    from dance_rl.eval.report import EvalOptions
    from dance_rl.motion.representation import features_to_motion

    poses, trans, _ = features_to_motion(torch.as_tensor(features))
    opts = EvalOptions(seconds=features.shape[1] / 30.0)
    rows = [sample_row(p.numpy(), t.numpy(), np.nonzero(m[:, -1] > 0.5)[0] * 2, opts)
            for p, t, m in zip(poses, trans, music)]
    keys = [k for k, v in rows[0].items() if isinstance(v, float)]
    return {f"eval/{k}": float(np.nanmean([r[k] for r in rows])) for k in keys}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_config_args(ap)
    ap.add_argument("--checkpoint", default=None, help="default: rl.base_checkpoint or the cached demo model")
    ap.add_argument("--json", default=None, help="also write the numbers here")
    args = ap.parse_args(argv)
    cfg = load_config(args.config, args.overrides + ([f"rl.base_checkpoint={args.checkpoint}"] if args.checkpoint else []))

    from dance_rl.cluster.inputs import load_base_model
    from dance_rl.compare import heldout_clips
    from dance_rl.data.dataset import dataset_from_config
    from dance_rl.diffusion.checkpoint import load_model
    from dance_rl.diffusion.sampler import ddim_sample
    from dance_rl.diffusion.schedule import NoiseSchedule
    from dance_rl.motion.fk import joints_np
    from dance_rl.motion.representation import features_to_motion

    path = load_base_model(cfg)["path"]
    model, normalizer, _ = load_model(path, use_ema=True)
    model.eval()
    music = np.stack([c.music for c in heldout_clips(cfg.eval.music, cfg, model.spec.seq_len / 30, cfg.eval.num_music)])
    with torch.inference_mode():
        schedule = NoiseSchedule(cfg.diffusion.timesteps, spacing=cfg.diffusion.ddim_spacing)
        res = ddim_sample(model, schedule, torch.as_tensor(music),
                          steps=cfg.diffusion.ddim_steps, eta=cfg.diffusion.eta,
                          guidance_weight=cfg.diffusion.guidance_weight, return_chain=False,
                          generator=torch.Generator().manual_seed(0))
        feats = normalizer.unnormalize(res.x0)
        poses, trans, _ = features_to_motion(feats)
    fps = 30.0
    out = {"checkpoint": path, "samples": len(music), "ddim_steps": cfg.diffusion.ddim_steps,
           "generated": {**motion_stats(joints_np(poses.numpy(), trans.numpy()), fps),
                         **mean_metrics(feats.numpy(), music)}}
    ds = dataset_from_config(cfg.data, "train", normalizer=normalizer)
    idx = np.random.default_rng(0).choice(len(ds), size=min(len(music), len(ds)), replace=False)
    real, real_music = (torch.stack(x) for x in zip(*(ds.raw_item(int(i)) for i in idx)))
    rp, rt, _ = features_to_motion(real)
    out["mocap"] = {**motion_stats(joints_np(rp.numpy(), rt.numpy()), fps),
                    **mean_metrics(real.numpy(), real_music.numpy())}
    keys = sorted(set(out["generated"]) | set(out["mocap"]))
    print(f"{path}: {len(music)} samples, {cfg.diffusion.ddim_steps} DDIM steps\n")
    print("| statistic | generated | mocap |\n|---|---|---|")
    for k in keys:
        print(f"| {k} | {out['generated'].get(k, float('nan')):.4g} | {out['mocap'].get(k, float('nan')):.4g} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(cli_main(main))
