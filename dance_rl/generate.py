"""Generate a dance for a song with a base (or fine-tuned) model.

    python -m dance_rl.generate --checkpoint ckpt.pt --audio song.wav --out DIR [--seconds S] [--fgd-guidance]

Writes DIR/<song>.npz (interchange format) and DIR/<song>.pkl (EDGE-style: smpl_poses, smpl_trans, full_pose), plus
DIR/<song>.mp4 with --render (skeleton video with the music). Everything is validated (checkpoint, audio, lengths) before
any file is written; files appear atomically.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from dance_rl.diffusion.device import add_device_args, autocast, model_device, resolve_device, resolve_precision
from dance_rl.errors import UserError, cli_main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m dance_rl.generate", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True,
                   help="model: a base, EDGE or exported .pt file, an RLFT checkpoint (runs/X/checkpoints/iter_N.pt), "
                        "a run directory, a Tune trial directory or a sweep directory (its best model)")
    p.add_argument("--audio", required=True, help="music file (.wav/.mp3/.ogg/.opus/.flac), at least 5 s")
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument("--seconds", type=float, default=None, help="length of the dance (default: the whole song)")
    p.add_argument("--fgd-guidance", action="store_true",
                   help="Skeleton2Stage test-time foot-ground guidance + contact post-processing")
    p.add_argument("--no-postprocess", action="store_true", help="with --fgd-guidance: skip the post-processing")
    p.add_argument("--steps", type=int, default=None, help="DDIM steps (default: the model card's, else 50)")
    p.add_argument("--guidance-weight", type=float, default=None, help="CFG weight w (default: config, else 2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-ema", action="store_true", help="use the raw weights instead of the EMA weights")
    p.add_argument("--render", action="store_true", help="also write a skeleton video (<song>.mp4, or .gif without ffmpeg)")
    add_device_args(p)
    return p


def _diffusion_settings(card: dict, args) -> dict:
    """The model card's sampling settings (what it was trained or fine-tuned with), with the CLI's overrides."""
    s = dict(card["sampling"])
    if args.steps:
        s["steps"] = args.steps
    if args.guidance_weight is not None:
        s["guidance_weight"] = args.guidance_weight
    if s["steps"] < 2:
        raise UserError(f"--steps: {s['steps']} is too few; use at least 2 DDIM steps (default 50)")
    return s


def generate_motion(model, normalizer, music: np.ndarray, *, steps: int = 50, eta: float = 1.0,
                    guidance_weight: float = 2.0, clip_denoised: bool = True, timesteps: int = 1000,
                    spacing: str = "uniform",
                    fgd_guidance: bool = False, postprocess_output: bool = True, seed: int = 0,
                    precision: str = "off") -> dict:
    """Music features (N, C) → {poses (N,24,3), trans (N,3), contacts (N,4), joints (N,24,3)} numpy arrays."""
    from dance_rl.diffusion.guidance import postprocess
    from dance_rl.diffusion.long_form import long_sample, split_windows, stitch
    from dance_rl.diffusion.schedule import NoiseSchedule
    from dance_rl.motion.fk import fk_axis_angle

    n = music.shape[0]
    seq = model.spec.seq_len
    # a copy: music from Ray's object store is read-only, which torch.as_tensor warns about
    windows = split_windows(torch.tensor(np.asarray(music), dtype=torch.float32), seq, seq // 2).to(model_device(model))
    gen = torch.Generator().manual_seed(seed)
    # FGD guidance differentiates through FK, so it cannot run under inference_mode (no_grad is enough).
    with (torch.no_grad() if fgd_guidance else torch.inference_mode()), autocast(model_device(model), precision):
        x = long_sample(model, NoiseSchedule(timesteps, spacing=spacing), windows, steps=steps, eta=eta,
                        guidance_weight=guidance_weight, clip_denoised=clip_denoised, generator=gen,
                        fgd_guidance=fgd_guidance, normalizer=normalizer)
    x = x.float().cpu()
    poses, trans, contacts = stitch(normalizer.unnormalize(x))
    poses, trans, contacts = poses[:n], trans[:n], contacts[:n]
    if fgd_guidance and postprocess_output:
        trans, joints = postprocess(poses, trans, contacts)
    else:
        joints = fk_axis_angle(poses, trans)
    return {k: v.detach().cpu().numpy().astype(np.float32)
            for k, v in {"poses": poses, "trans": trans, "contacts": contacts, "joints": joints}.items()}


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from dance_rl.diffusion.checkpoint import load_model
    from dance_rl.motion.io import Motion, save_edge_pkl, save_motion, validate_motion
    from dance_rl.music.features import extract_features

    device = resolve_device(args.device)
    precision = resolve_precision(args.precision, device)
    model, normalizer, meta = load_model(args.checkpoint, use_ema=not args.no_ema)
    model = model.to(device)
    settings = _diffusion_settings(meta, args)
    if model.spec.cond_dim != 35:
        raise UserError(f"--checkpoint: the model expects {model.spec.cond_dim}-d music features (Jukebox); "
                        "dance_rl extracts EDGE's 35-d baseline features: use a baseline-feature checkpoint")
    if args.seconds is not None and not args.seconds >= model.spec.seq_len / 30.0:
        raise UserError(f"--seconds: {args.seconds} is shorter than one {model.spec.seq_len / 30.0:g}-s window")
    audio = Path(args.audio)
    music = extract_features(audio)  # UserError on missing/undecodable/silent/short audio
    if args.seconds is not None:
        frames = int(round(args.seconds * 30))
        if frames > music.shape[0]:
            raise UserError(f"--seconds: {args.seconds:g} s is longer than the song ({music.shape[0] / 30:.1f} s); "
                            "pass a shorter length or omit --seconds")
        music = music[:frames]
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out: {out} exists and is not a folder; pass a folder path")

    m = generate_motion(model, normalizer, music, fgd_guidance=args.fgd_guidance,
                        postprocess_output=not args.no_postprocess, seed=args.seed, precision=precision, **settings)
    motion = validate_motion(Motion(m["poses"], m["trans"], 30.0, joints=m["joints"], contacts=m["contacts"],
                                    audio=str(audio.resolve())), "generated motion")
    out.mkdir(parents=True, exist_ok=True)
    written = [save_motion(motion, out / f"{audio.stem}.npz"), save_edge_pkl(motion, out / f"{audio.stem}.pkl")]
    if args.render:
        written += _render(motion, out / f"{audio.stem}.mp4", audio)
    for p in written:
        print(p)
    return 0


def _render(motion, path: Path, audio: Path) -> list[Path]:
    """Skeleton video with the music (GIF without ffmpeg)."""
    from dance_rl.render import render_frames, write_video

    return [Path(write_video(render_frames(motion.joints, motion.contacts), path, 30.0, audio))]


if __name__ == "__main__":
    sys.exit(cli_main(main))
