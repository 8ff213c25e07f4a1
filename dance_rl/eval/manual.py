"""Manual / geometric (32-d, Müller-style) motion features, as the fixed AIST++ API computes them (docs/metrics.md).

Each feature is a boolean per frame (frames 1 … T-1, velocities against the previous frame); the feature value is
the fraction of frames where it holds. Vectorised over frames; primitives mirror the API's definitions.

Quirks kept on purpose (published FID_g / Div_g depend on them):

* body scales are constants from a fixed T-pose (hl, sw, hw below), not measured on the input skeleton;
* ``time_per_frame = 1/120`` although AIST++ data is 60 fps (and EDGE-style data 30 fps), so every velocity
  feature sees speeds 2× (4×) the true value;
* degenerate geometry (zero-length normals/directions, arccos of a value just above 1) gives NaN, and NaN
  comparisons are False, exactly as in the loop implementation;
* angles must lie *strictly* inside (lo, hi).
"""
from __future__ import annotations

import numpy as np

TIME_PER_FRAME = 1.0 / 120.0

# SMPL joint order used by the fixed API (commit 091f00b); same as dance_rl.motion.skeleton.JOINT_NAMES order.
SMPL_NAMES = ("root", "lhip", "rhip", "belly", "lknee", "rknee", "spine", "lankle", "rankle", "chest", "ltoes",
              "rtoes", "neck", "linshoulder", "rinshoulder", "head", "lshoulder", "rshoulder", "lelbow", "relbow",
              "lwrist", "rwrist", "lhand", "rhand")
_IDX = {n: i for i, n in enumerate(SMPL_NAMES)}

# T-pose reference coordinates (metres, y-up) the API measures its body scales from.
_LSHOULDER = np.array([1.99113488e-01, 2.36807942e-01, -1.80702247e-02])
_LELBOW = np.array([4.54445392e-01, 2.21158922e-01, -4.10167128e-02])
_RSHOULDER = np.array([-1.91692337e-01, 2.36928276e-01, -1.23055286e-02])
_LHIP = np.array([5.64076714e-02, -3.23069185e-01, 1.09197125e-02])
_RHIP = np.array([-6.24834076e-02, -3.31302464e-01, 1.50412619e-02])
HL = float(np.linalg.norm(_LSHOULDER - _LELBOW))  # humerus length ≈ 0.25684
SW = float(np.linalg.norm(_LSHOULDER - _RSHOULDER))  # shoulder width ≈ 0.39085
HW = float(np.linalg.norm(_LHIP - _RHIP))  # hip width ≈ 0.11925


class _Frames:
    """Current (frames 1..T-1) and previous (0..T-2) positions, with the API's special point names."""

    def __init__(self, positions: np.ndarray):
        self.cur = positions[1:]
        self.prev = positions[:-1]
        n = self.cur.shape[0]
        y_min = np.zeros((n, 3))
        y_min[:, 1] = self.cur[:, :, 1].min(axis=1)  # lowest joint height of the *current* frame
        self.special = {"zero": np.zeros((n, 3)), "y_unit": np.tile([0.0, 1.0, 0.0], (n, 1)),
                        "minus_y_unit": np.tile([0.0, -1.0, 0.0], (n, 1)), "y_min": y_min}

    def at(self, name: str) -> np.ndarray:
        return self.special[name] if name in self.special else self.cur[:, _IDX[name]]

    def before(self, name: str) -> np.ndarray:
        return self.prev[:, _IDX[name]]


def _dot(a, b):
    return np.einsum("ni,ni->n", a, b)


def _norm(a):
    return np.linalg.norm(a, axis=-1)


def f_plane(f: _Frames, a, b, c, p, th):
    """Signed distance of p from the plane through a, b, c (normal (c-a)×(b-a)) exceeds th."""
    a_, b_, c_, p_ = (f.at(x) for x in (a, b, c, p))
    n = np.cross(c_ - a_, b_ - a_)
    return _dot(n, p_ - a_) / _norm(n) > th


def f_nplane(f: _Frames, n1, n2, a, p, th):
    """Distance of p from the plane through a with normal n2-n1 exceeds th."""
    n1_, n2_, a_, p_ = (f.at(x) for x in (n1, n2, a, p))
    n = n2_ - n1_
    return _dot(n, p_ - a_) / _norm(n) > th


def f_angle(f: _Frames, j1, j2, k1, k2, rng):
    """Angle in degrees between j2-j1 and k2-k1 lies strictly inside rng."""
    j = f.at(j2) - f.at(j1)
    k = f.at(k2) - f.at(k1)
    ang = np.degrees(np.arccos(_dot(j, k) / (_norm(j) * _norm(k))))
    return (ang > rng[0]) & (ang < rng[1])


def f_move(f: _Frames, j1, j2, j3, j4, th, tpf):
    """Velocity of j3 relative to j1, along j2-j1, exceeds th (j2_prev and j4 unused, as in the API)."""
    vel = f.at(j3) - f.at(j1) - (f.before(j3) - f.before(j1))
    d = f.at(j2) - f.at(j1)
    return (_dot(vel, d) / _norm(d)) / tpf > th


def f_nmove(f: _Frames, j1, j2, j3, j4, th, tpf):
    """Velocity of j4 relative to j1, along the normal (j3-j1)×(j2-j1), exceeds th."""
    vel = f.at(j4) - f.at(j1) - (f.before(j4) - f.before(j1))
    n = np.cross(f.at(j3) - f.at(j1), f.at(j2) - f.at(j1))
    return (_dot(vel, n) / _norm(n)) / tpf > th


def f_fast(f: _Frames, j, th, tpf):
    """Speed of j exceeds th."""
    return _norm(f.at(j) - f.before(j)) / tpf > th


def manual_feature_frames(positions: np.ndarray, time_per_frame: float = TIME_PER_FRAME) -> np.ndarray:
    """(T,24,3) y-up joints -> (T-1, 32) bool per-frame features, in the API's order."""
    p = np.asarray(positions, dtype=np.float64)
    if p.ndim != 3 or p.shape[1] < 24 or p.shape[2] != 3:
        raise ValueError(f"positions must be (T, 24, 3), got {p.shape}")
    if p.shape[0] < 2:
        raise ValueError(f"manual features need at least 2 frames, got {p.shape[0]}")
    f, t = _Frames(p), time_per_frame
    with np.errstate(invalid="ignore", divide="ignore"):
        cols = [
            f_nmove(f, "neck", "rhip", "lhip", "rwrist", 1.8 * HL, t),
            f_nmove(f, "neck", "lhip", "rhip", "lwrist", 1.8 * HL, t),
            f_nplane(f, "chest", "neck", "neck", "rwrist", 0.2 * HL),
            f_nplane(f, "chest", "neck", "neck", "lwrist", 0.2 * HL),
            f_move(f, "belly", "chest", "chest", "rwrist", 1.8 * HL, t),
            f_move(f, "belly", "chest", "chest", "lwrist", 1.8 * HL, t),
            f_angle(f, "relbow", "rshoulder", "relbow", "rwrist", (0, 110)),
            f_angle(f, "lelbow", "lshoulder", "lelbow", "lwrist", (0, 110)),
            f_nplane(f, "lshoulder", "rshoulder", "lwrist", "rwrist", 2.5 * SW),
            f_move(f, "lwrist", "rwrist", "rwrist", "lwrist", 1.4 * HL, t),
            f_move(f, "rwrist", "root", "lwrist", "root", 1.4 * HL, t),
            f_move(f, "lwrist", "root", "rwrist", "root", 1.4 * HL, t),
            f_fast(f, "rwrist", 2.5 * HL, t),
            f_fast(f, "lwrist", 2.5 * HL, t),
            f_plane(f, "root", "lhip", "ltoes", "rankle", 0.38 * HL),
            f_plane(f, "root", "rhip", "rtoes", "lankle", 0.38 * HL),
            f_nplane(f, "zero", "y_unit", "y_min", "rankle", 1.2 * HL),
            f_nplane(f, "zero", "y_unit", "y_min", "lankle", 1.2 * HL),
            f_nplane(f, "lhip", "rhip", "lankle", "rankle", 2.1 * HW),
            f_angle(f, "rknee", "rhip", "rknee", "rankle", (0, 110)),
            f_angle(f, "lknee", "lhip", "lknee", "lankle", (0, 110)),
            f_fast(f, "rankle", 2.5 * HL, t),
            f_fast(f, "lankle", 2.5 * HL, t),
            f_angle(f, "neck", "root", "rshoulder", "relbow", (25, 180)),
            f_angle(f, "neck", "root", "lshoulder", "lelbow", (25, 180)),
            f_angle(f, "neck", "root", "rhip", "rknee", (50, 180)),
            f_angle(f, "neck", "root", "lhip", "lknee", (50, 180)),
            f_plane(f, "rankle", "neck", "lankle", "root", 0.5 * HL),
            f_angle(f, "neck", "root", "zero", "y_unit", (70, 110)),
            f_nplane(f, "zero", "minus_y_unit", "y_min", "rwrist", -1.2 * HL),
            f_nplane(f, "zero", "minus_y_unit", "y_min", "lwrist", -1.2 * HL),
            f_fast(f, "root", 2.3 * HL, t),
        ]
    return np.stack(cols, axis=1)


def extract_manual_features(positions: np.ndarray, time_per_frame: float = TIME_PER_FRAME) -> np.ndarray:
    """(T,24,3) y-up joint positions -> (32,) float32: fraction of frames 1..T-1 where each feature holds."""
    return manual_feature_frames(positions, time_per_frame).astype(np.float32).mean(axis=0)
