"""Render a motion file to a video.

    python -m dance_rl.render --motion FILE.npz --out FILE.mp4 [--audio song.wav] [--renderer skeleton|mujoco]

The skeleton renderer (default) needs no OpenGL; ``mujoco`` renders the simulator body offscreen (MUJOCO_GL=egl or
osmesa). Music: --audio, else the motion's ``audio`` field when that file exists; --no-audio for a silent video.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from dance_rl.errors import UserError, cli_main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m dance_rl.render", description=__doc__.split("\n\n")[0])
    p.add_argument("--motion", required=True, help="motion file (.npz interchange, AIST++/EDGE .pkl, .bvh)")
    p.add_argument("--out", required=True, help="output video (.mp4, or .gif)")
    p.add_argument("--audio", default=None, help="music to mux into the mp4 (default: the motion's audio field)")
    p.add_argument("--no-audio", action="store_true", help="ignore the motion's audio field")
    p.add_argument("--renderer", default="skeleton", choices=("skeleton", "mujoco"))
    p.add_argument("--size", default="480x360", help="WIDTHxHEIGHT in pixels (default 480x360)")
    p.add_argument("--seconds", type=float, default=None, help="render only the first N seconds")
    return p


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UserError(f"--size {text!r}: expected WIDTHxHEIGHT, e.g. 640x480") from None
    if not (16 <= w <= 4096 and 16 <= h <= 4096):
        raise UserError(f"--size {text!r}: width and height must be between 16 and 4096")
    return w, h


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Path(args.out)
    if out.suffix.lower() not in (".mp4", ".gif"):
        raise UserError(f"--out {out}: must end in .mp4 or .gif")
    width, height = _size(args.size)
    if args.seconds is not None and args.seconds <= 0:
        raise UserError(f"--seconds {args.seconds}: must be > 0")
    if args.renderer == "mujoco":  # choose the GL backend before anything imports mujoco
        from dance_rl.render.mujoco_render import select_gl_backend

        backend = select_gl_backend()
        print(f"MuJoCo OpenGL backend: {backend}", file=sys.stderr)

    from dance_rl.motion.io import load_any, resample

    motion = load_any(args.motion)
    if float(motion.fps) != 30.0:
        motion = resample(motion, 30.0)
    audio = None if args.no_audio else args.audio
    if audio is None and not args.no_audio and motion.audio and Path(motion.audio).is_file():
        audio = motion.audio
    if audio is not None:
        from dance_rl.music.audio import load_audio

        load_audio(audio, min_seconds=0.0)  # validate before rendering (clear error on a bad file)
    n = None if args.seconds is None else max(2, int(round(args.seconds * 30)))
    poses, trans = motion.poses[:n], motion.trans[:n]

    from dance_rl.render.video import write_video

    if args.renderer == "mujoco":
        from dance_rl.render.mujoco_render import mujoco_frames

        frames = mujoco_frames(poses, trans, width, height)
        written = write_video(frames, out, 30.0, audio)
    else:
        from dance_rl.render import render_motion

        contacts = None if motion.contacts is None else motion.contacts[:n]
        written = render_motion(poses, trans, out, contacts, width, height, 30.0, audio)
    note = "" if written == out else " (no ffmpeg: GIF fallback, no sound)"
    print(f"wrote {written}: {len(poses)} frames{' with ' + str(audio) if audio and written == out else ''}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(cli_main(main))
