"""Videos of motions: fast numpy skeleton frames (also for TensorBoard), MP4/GIF writing, MuJoCo offscreen body."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dance_rl.render.skeleton import Camera, fit_camera, foot_contacts, render_frames
from dance_rl.render.video import write_video

__all__ = ["Camera", "fit_camera", "foot_contacts", "render_frames", "write_video", "render_motion"]


def render_motion(poses, trans, path: str | os.PathLike, contacts=None, width: int = 480, height: int = 360,
                  fps: float = 30.0, audio: str | os.PathLike | None = None, labels: list[str] | None = None,
                  follow: bool = True) -> Path:
    """Skeleton video of one motion (poses (T,24,3), trans (T,3)), or of several side by side when ``poses``/``trans``
    (and ``contacts``) are lists, each panel ``width`` wide and titled with its label. Returns the path written (GIF
    without ffmpeg). The camera follows each dancer unless ``follow=False``."""
    from dance_rl.motion.fk import joints_np

    if not isinstance(poses, (list, tuple)):
        poses, trans, contacts = [poses], [trans], [contacts]
    contacts = contacts if isinstance(contacts, (list, tuple)) else [None] * len(poses)
    n = min(len(p) for p in poses)
    panels = [render_frames(joints_np(p[:n], t[:n]), None if c is None else c[:n], width, height, follow=follow)
              for p, t, c in zip(poses, trans, contacts)]
    if labels is not None:
        panels = [label_frames(f, text) for f, text in zip(panels, labels)]
    return write_video(np.concatenate(panels, axis=2), path, fps, audio)


def label_frames(frames: np.ndarray, text: str) -> np.ndarray:
    """Write ``text`` in the top-left corner of every frame (the label is drawn once and pasted)."""
    from PIL import Image, ImageDraw

    h = 22
    strip = Image.fromarray(frames[0, :h].copy())
    draw = ImageDraw.Draw(strip)
    draw.rectangle([0, 0, min(frames.shape[2], 8 + 7 * len(text)), h], fill=(255, 255, 255))
    draw.text((5, 5), text, fill=(20, 20, 20))
    box = np.asarray(strip)
    out = frames.copy()
    w = min(frames.shape[2], 8 + 7 * len(text) + 1)
    out[:, :h, :w] = box[:, :w]
    return out
