"""Fast skeleton rendering by direct numpy rasterisation: (T,24,3) z-up joints -> (T,H,W,3) uint8 frames.

A perspective camera looks from the front (dance_rl bodies face -y). By default it follows the dancer: it frames the
body around its root and slides with the root's smoothed horizontal path, so a dancer who travels stays the same size
and the moving checkered floor shows the travel; ``follow=False`` (or an explicit ``camera``) frames the whole clip
from one place. The ground plane and the sky are ray-cast once; a following camera only shifts the checker pattern. Per frame: a flat shadow of the skeleton on z = 0 (shows
floating and sinking at a glance), then bones as anti-aliased capsules drawn back to front, left side blue, right
side orange, and foot joints red while in contact. Only the pixels inside each bone's bounding box are touched, so a
600-frame clip renders in a few seconds on one core.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dance_rl.motion.skeleton import CONTACT_SPEED_M_PER_FRAME, FOOT_JOINTS, JOINT_NAMES, PARENTS

BONES = tuple((PARENTS[j], j) for j in range(1, len(PARENTS)))
_LEFT = tuple(i for i, n in enumerate(JOINT_NAMES) if n.startswith("l"))
_RIGHT = tuple(i for i, n in enumerate(JOINT_NAMES) if n.startswith("r") and n != "root")
COLORS = {"left": (66, 133, 244), "right": (244, 160, 0), "center": (90, 90, 100), "contact": (220, 40, 40),
          "foot": (40, 170, 80), "shadow": (0, 0, 0)}


def foot_contacts(joints: np.ndarray) -> np.ndarray:
    """(T,24,3) -> (T,4) bool for joints (7, 8, 10, 11): speed < 1 cm/frame; the last frame repeats the previous."""
    feet = np.asarray(joints)[:, list(FOOT_JOINTS)]
    if len(feet) < 2:
        return np.ones((len(feet), 4), dtype=bool)
    v = np.linalg.norm(feet[1:] - feet[:-1], axis=-1)
    return np.concatenate([v, v[-1:]]) < CONTACT_SPEED_M_PER_FRAME


@dataclass
class Camera:
    eye: np.ndarray  # (3,)
    target: np.ndarray  # (3,)
    fov_deg: float = 40.0
    width: int = 480
    height: int = 360

    def basis(self):
        f = self.target - self.eye
        f = f / np.linalg.norm(f)
        r = np.cross(f, [0.0, 0.0, 1.0])
        r = r / np.linalg.norm(r)
        u = np.cross(r, f)
        focal = 0.5 * self.height / np.tan(np.radians(self.fov_deg) / 2)
        return f, r, u, focal

    def project(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(...,3) world points -> (...,2) pixel (x right, y down) and (...,) depth along the view axis."""
        f, r, u, focal = self.basis()
        d = np.asarray(p, dtype=np.float64) - self.eye
        z = d @ f
        zs = np.maximum(z, 1e-3)
        x = self.width / 2 + focal * (d @ r) / zs
        y = self.height / 2 - focal * (d @ u) / zs
        return np.stack([x, y], -1), z


def fit_camera(joints: np.ndarray, width: int = 480, height: int = 360, fov_deg: float = 40.0) -> Camera:
    """A front camera (from -y, slightly above) that keeps every joint of the clip in view."""
    j = np.asarray(joints, dtype=np.float64).reshape(-1, 3)
    lo, hi = j.min(0), j.max(0)
    lo[2], hi[2] = min(lo[2], 0.0), max(hi[2], 1.0)
    center = (lo + hi) / 2
    half_w = max(hi[0] - lo[0], 0.5) / 2 + 0.3
    half_h = (hi[2] - lo[2]) / 2 + 0.3
    t = np.tan(np.radians(fov_deg) / 2)
    dist = max(half_h / t, half_w / (t * width / height)) + (hi[1] - lo[1]) / 2 + 0.5
    direction = np.array([0.0, -np.cos(np.radians(12)), np.sin(np.radians(12))])  # from the front, 12° above
    return Camera(center + dist * direction, center, fov_deg, width, height)


def smooth_root_path(joints: np.ndarray, fps: float = 30.0, sigma_s: float = 0.5) -> np.ndarray:
    """(T,3) camera offsets: the root's horizontal path smoothed with a Gaussian (σ = ``sigma_s``), z = 0, so the
    camera follows travel but not every sway of the hips."""
    root = np.asarray(joints, dtype=np.float64)[:, 0, :2]
    sigma = max(sigma_s * fps, 1e-6)
    r = int(3 * sigma)
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    padded = np.pad(root, ((r, r), (0, 0)), mode="edge")
    path = np.stack([np.convolve(padded[:, i], k, mode="valid") for i in range(2)], axis=-1)
    return np.concatenate([path, np.zeros((len(path), 1))], axis=-1)


def background(cam: Camera, tile: float = 0.5) -> np.ndarray:
    """(H,W,3) uint8: sky gradient above the horizon, checkered ground plane z = 0 below, fading with distance."""
    return background_maker(cam, tile)(0.0, 0.0)


def background_maker(cam: Camera, tile: float = 0.5):
    """Ray-cast once; returns ``frame(dx, dy)``: the background seen by the camera translated by (dx, dy)."""
    f, r, u, focal = cam.basis()
    ys, xs = np.mgrid[0:cam.height, 0:cam.width].astype(np.float64)
    rays = (f[None, None] * focal + r[None, None] * (xs - cam.width / 2)[..., None]
            - u[None, None] * (ys - cam.height / 2)[..., None])
    sky = np.array([235.0, 240.0, 248.0]) - 40.0 * (1 - ys / cam.height)[..., None] * np.array([1.0, 0.8, 0.3])
    img = sky.copy()
    dz = rays[..., 2]
    hit = dz < -1e-9
    s = np.where(hit, -cam.eye[2] / np.where(hit, dz, -1.0), 0.0)
    gx, gy = cam.eye[0] + s * rays[..., 0], cam.eye[1] + s * rays[..., 1]
    dist = s * np.linalg.norm(rays, axis=-1)
    fade = np.clip((dist - 4.0) / 16.0, 0.0, 1.0)[..., None]

    def frame(dx: float, dy: float) -> np.ndarray:
        checker = (np.floor((gx + dx) / tile) + np.floor((gy + dy) / tile)) % 2
        ground = np.where(checker[..., None] > 0, [200.0, 200.0, 196.0], [170.0, 172.0, 168.0])
        ground = ground * (1 - fade) + sky * fade
        return np.clip(np.where(hit[..., None], ground, img), 0, 255).astype(np.uint8)

    return frame


def _draw_capsule(img: np.ndarray, a: np.ndarray, b: np.ndarray, radius: float, color, alpha: float = 1.0) -> None:
    """Anti-aliased thick segment a->b (pixel coords) blended into img (H,W,3) float32, in place."""
    H, W = img.shape[:2]
    x0 = int(max(np.floor(min(a[0], b[0]) - radius - 1), 0))
    x1 = int(min(np.ceil(max(a[0], b[0]) + radius + 2), W))
    y0 = int(max(np.floor(min(a[1], b[1]) - radius - 1), 0))
    y1 = int(min(np.ceil(max(a[1], b[1]) + radius + 2), H))
    if x0 >= x1 or y0 >= y1:
        return
    ys, xs = np.mgrid[y0:y1, x0:x1]
    px, py = xs + 0.5 - a[0], ys + 0.5 - a[1]
    d = b - a
    L2 = float(d @ d)
    t = np.clip((px * d[0] + py * d[1]) / L2, 0.0, 1.0) if L2 > 1e-12 else np.zeros_like(px)
    dist = np.hypot(px - t * d[0], py - t * d[1])
    cover = np.clip(radius + 0.5 - dist, 0.0, 1.0)[..., None] * alpha
    patch = img[y0:y1, x0:x1]
    patch += (np.asarray(color, dtype=np.float32) - patch) * cover


def _bone_color(j: int) -> tuple:
    return COLORS["left"] if j in _LEFT else COLORS["right"] if j in _RIGHT else COLORS["center"]


def render_frames(joints: np.ndarray, contacts: np.ndarray | None = None, width: int = 480, height: int = 360,
                  camera: Camera | None = None, follow: bool = True) -> np.ndarray:
    """(T,24,3) z-up joints [+ (T,4) contacts for joints 7, 8, 10, 11] -> (T,H,W,3) uint8 RGB frames.

    ``follow``: the camera tracks the smoothed root path (ignored when ``camera`` is given).
    Frames are what TensorBoard's ``add_video`` wants after ``torch.from_numpy(f).permute(0, 3, 1, 2)[None]``.
    """
    j = np.asarray(joints, dtype=np.float64)
    if j.ndim != 3 or j.shape[1:] != (24, 3):
        raise ValueError(f"joints must be (T, 24, 3), got {j.shape}")
    if not np.isfinite(j).all():
        raise ValueError("joints contain NaN/inf")
    c = foot_contacts(j) if contacts is None else np.asarray(contacts) > 0.5
    offset = smooth_root_path(j) if camera is None and follow else np.zeros((len(j), 3))
    j = j - offset[:, None, :]  # draw in the camera's frame: the floor (z = 0) is unchanged by an xy shift
    cam = camera or fit_camera(j, width, height)
    moving = camera is None and follow
    bg_at = background_maker(cam)
    bg = bg_at(0.0, 0.0).astype(np.float32)
    px, depth = cam.project(j)
    shadow = j.copy()
    shadow[..., 2] = 0.0
    spx, _ = cam.project(shadow)
    f, r, u, focal = cam.basis()
    scale = focal / np.maximum(depth, 1e-3)  # pixels per metre at each joint
    out = np.empty((len(j), cam.height, cam.width, 3), dtype=np.uint8)
    for t in range(len(j)):
        img = bg_at(offset[t, 0], offset[t, 1]).astype(np.float32) if moving else bg.copy()
        for p, q in BONES:
            _draw_capsule(img, spx[t, p], spx[t, q], max(1.0, 0.02 * scale[t, q]), COLORS["shadow"], 0.25)
        order = sorted(BONES, key=lambda pq: -(depth[t, pq[0]] + depth[t, pq[1]]))
        for p, q in order:
            _draw_capsule(img, px[t, p], px[t, q], max(1.0, 0.025 * scale[t, q]), _bone_color(q))
        for k, fj in enumerate(FOOT_JOINTS):
            col = COLORS["contact"] if c[t, k] else COLORS["foot"]
            _draw_capsule(img, px[t, fj], px[t, fj], max(1.5, 0.035 * scale[t, fj]), col)
        head = 15
        _draw_capsule(img, px[t, head], px[t, head], max(2.0, 0.09 * scale[t, head]), COLORS["center"])
        out[t] = np.clip(img, 0, 255).astype(np.uint8)
    return out
