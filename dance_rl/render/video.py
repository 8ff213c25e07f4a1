"""Write frames to MP4 (H.264 via the ffmpeg binary bundled with imageio-ffmpeg), with the music muxed in, or GIF.

Every output is written to a temporary file in the target folder and renamed at the end, so a failure never leaves
a partial video. When no ffmpeg can be run, an ``.mp4`` request falls back to a GIF next to it (and says so).
"""
from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from dance_rl.errors import UserError
from dance_rl.fileio import atomic_path


def ffmpeg_exe() -> str | None:
    """Path of a working ffmpeg binary (imageio-ffmpeg's bundled one first), or None."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # noqa: BLE001 - missing package or binary: no ffmpeg
        from shutil import which

        return which("ffmpeg")


def _even(frames: np.ndarray) -> np.ndarray:
    """H.264 with yuv420p needs even width and height: pad by one edge pixel where needed."""
    _, h, w, _ = frames.shape
    if h % 2 == 0 and w % 2 == 0:
        return frames
    return np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def _write_gif(frames: np.ndarray, path: Path, fps: float) -> Path:
    import imageio.v2 as iio

    with atomic_path(path, suffix=".gif") as tmp:
        iio.mimsave(tmp, list(frames), format="GIF", duration=1.0 / fps, loop=0)
    return path


def _encode_mp4(frames: np.ndarray, path: Path, fps: float, exe: str) -> None:
    frames = np.ascontiguousarray(_even(frames))
    _, h, w, _ = frames.shape
    cmd = [exe, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", f"{fps}",
           "-i", "-", "-an", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "20", "-preset", "veryfast",
           "-f", "mp4", str(path)]
    proc = subprocess.run(cmd, input=frames.tobytes(), capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or "ffmpeg failed")


def _mux_audio(video: Path, audio: Path, out: Path, exe: str) -> None:
    cmd = [exe, "-y", "-loglevel", "error", "-i", str(video), "-i", str(audio), "-map", "0:v:0", "-map", "1:a:0",
           "-c:v", "copy", "-c:a", "aac", "-b:a", "160k", "-shortest", "-f", "mp4", str(out)]
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        raise UserError(f"{audio}: ffmpeg could not mux this audio ({msg[-1] if msg else 'unknown error'}); "
                        "pass a .wav/.mp3 file or render without --audio")


def write_video(frames: np.ndarray, path: str | os.PathLike, fps: float = 30.0,
                audio: str | os.PathLike | None = None) -> Path:
    """Write (T,H,W,3) uint8 frames to ``path`` (.mp4 or .gif); returns the path actually written.

    ``audio`` (mp4 only) is muxed with AAC and the result cut to the shorter stream. Without a runnable ffmpeg an
    .mp4 request becomes ``<path>.gif`` (no sound).
    """
    path = Path(path)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(f"frames must be (T,H,W,3) uint8 with T >= 1, got {frames.shape} {frames.dtype}")
    suffix = path.suffix.lower()
    if suffix not in (".mp4", ".gif"):
        raise UserError(f"{path}: output must end in .mp4 or .gif")
    if audio is not None and not Path(audio).is_file():
        raise UserError(f"{audio}: audio file not found; check the path")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".gif":
        return _write_gif(frames, path, fps)
    exe = ffmpeg_exe()
    if exe is None:
        return _write_gif(frames, path.with_suffix(".gif"), fps)
    try:
        with atomic_path(path, suffix=".mp4") as final:
            if audio is None:
                _encode_mp4(frames, final, fps, exe)
            else:
                with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.stem[:32]}.") as scratch:
                    silent = Path(scratch) / "silent.mp4"
                    _encode_mp4(frames, silent, fps, exe)
                    _mux_audio(silent, Path(audio), final, exe)
    except (OSError, RuntimeError):  # binary present but unusable: fall back to GIF
        return _write_gif(frames, path.with_suffix(".gif"), fps)
    return path
