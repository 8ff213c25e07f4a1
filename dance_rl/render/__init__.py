"""Videos of motions: fast numpy skeleton frames (also for TensorBoard), MP4/GIF writing, MuJoCo offscreen body."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dance_rl.render.skeleton import Camera, fit_camera, foot_contacts, render_frames
from dance_rl.render.video import write_video

__all__ = ["Camera", "fit_camera", "foot_contacts", "render_frames", "write_video", "render_motion"]


def render_motion(poses: np.ndarray, trans: np.ndarray, path: str | os.PathLike, contacts: np.ndarray | None = None,
                  width: int = 480, height: int = 360, fps: float = 30.0,
                  audio: str | os.PathLike | None = None) -> Path:
    """Skeleton video of one motion (poses (T,24,3), trans (T,3)); returns the path written (GIF without ffmpeg)."""
    from dance_rl.motion.fk import joints_np

    return write_video(render_frames(joints_np(poses, trans), contacts, width, height), path, fps, audio)
