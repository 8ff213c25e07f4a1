"""Videos of motions: fast numpy skeleton frames (also for TensorBoard), MP4/GIF writing, MuJoCo offscreen body."""
from dance_rl.render.skeleton import Camera, fit_camera, foot_contacts, render_frames
from dance_rl.render.video import write_video

__all__ = ["Camera", "fit_camera", "foot_contacts", "render_frames", "write_video"]
