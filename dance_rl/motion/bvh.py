"""BVH export (and a small reader) for SMPL-24 motions, so dances open in Blender, MotionBuilder, etc.

Conventions of the files we write:
- **Y-up** world, as BVH tools expect. Our z-up world maps to it by a -90° rotation about X: (x, y, z) → (x, z, -y);
  the skeleton offsets are already y-up (SMPL rest frame), so an upright body has root rotation ≈ 0. Blender's BVH
  importer (File → Import → Motion Capture, default Forward -Z / Up Y) turns this back into its z-up scene.
- Lengths in **metres** by default (``units="m"``, Blender's scale 1.0 gives a life-size body); ``units="cm"`` × 100.
- Every joint has ``Zrotation Xrotation Yrotation`` channels (the root also ``Xposition Yposition Zposition``): the
  local rotation is R = Rz(z) · Rx(x) · Ry(y) in degrees, matrices composed in channel order (standard BVH reading;
  Blender maps it to its Euler order 'YXZ').
- Leaf joints (head, toes, hands) end in an ``End Site`` half as long as their own bone.
"""
from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from dance_rl.errors import UserError
from dance_rl.motion.clip import Motion, atomic_write, validate_motion
from dance_rl.motion.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from dance_rl.motion.skeleton import JOINT_NAMES, OFFSETS, PARENTS, children

ZUP_TO_YUP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])  # -90° about X
UNITS = {"m": 1.0, "cm": 100.0}
ROT_CHANNELS = ("Zrotation", "Xrotation", "Yrotation")
POS_CHANNELS = ("Xposition", "Yposition", "Zposition")


def _axis_rot(axis: str, deg: np.ndarray) -> np.ndarray:
    """(...,) angles in degrees → (...,3,3) rotation about x, y or z."""
    a = np.deg2rad(deg)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    rows = {
        "X": [[o, z, z], [z, c, -s], [z, s, c]],
        "Y": [[c, z, s], [z, o, z], [-s, z, c]],
        "Z": [[c, -s, z], [s, c, z], [z, z, o]],
    }[axis.upper()]
    return np.stack([np.stack(r, -1) for r in rows], -2)


def euler_to_matrix(angles_deg: np.ndarray, order: str) -> np.ndarray:
    """Angles (...,3) in degrees for axes ``order`` (e.g. "ZXY") → R = R_order[0] · R_order[1] · R_order[2]."""
    r = _axis_rot(order[0], angles_deg[..., 0])
    for k in (1, 2):
        r = r @ _axis_rot(order[k], angles_deg[..., k])
    return r


def matrix_to_euler_zxy(r: np.ndarray) -> np.ndarray:
    """(...,3,3) → (...,3) degrees (z, x, y) with R = Rz · Rx · Ry; at gimbal lock (|x| = 90°) y is set to 0."""
    sx = np.clip(r[..., 2, 1], -1.0, 1.0)
    x = np.arcsin(sx)
    locked = np.abs(sx) > 1.0 - 1e-9
    z = np.where(locked, np.arctan2(r[..., 1, 0], r[..., 0, 0]), np.arctan2(-r[..., 0, 1], r[..., 1, 1]))
    y = np.where(locked, 0.0, np.arctan2(-r[..., 2, 0], r[..., 2, 2]))
    return np.rad2deg(np.stack([z, x, y], -1))


def hierarchy_order() -> list[int]:
    """Joints in depth-first order from the root: the order of HIERARCHY blocks and of the MOTION columns."""
    order, stack = [], [0]
    while stack:
        j = stack.pop()
        order.append(j)
        stack.extend(reversed(children(j)))
    return order


def _fmt(v) -> str:
    return " ".join(f"{x:.6f}" for x in v)


def bvh_text(m: Motion, units: str = "m") -> str:
    """The BVH file contents for ``m`` (see module docstring for conventions)."""
    if units not in UNITS:
        raise UserError(f"units: {units!r} is not supported; use one of {', '.join(UNITS)}")
    scale = UNITS[units]
    m = validate_motion(m, "motion")
    lines = ["HIERARCHY"]

    def block(j: int, depth: int) -> None:
        ind = "  " * depth
        kind = "ROOT" if j == 0 else "JOINT"
        lines.extend([f"{ind}{kind} {JOINT_NAMES[j]}", f"{ind}{{", f"{ind}  OFFSET {_fmt(OFFSETS[j] * scale)}"])
        chans = (POS_CHANNELS + ROT_CHANNELS) if j == 0 else ROT_CHANNELS
        lines.append(f"{ind}  CHANNELS {len(chans)} {' '.join(chans)}")
        kids = children(j)
        for c in kids:
            block(c, depth + 1)
        if not kids:
            end = _fmt(OFFSETS[j] * 0.5 * scale)
            lines.extend([f"{ind}  End Site", f"{ind}  {{", f"{ind}    OFFSET {end}", f"{ind}  }}"])
        lines.append(f"{ind}}}")

    block(0, 0)
    with torch.no_grad():
        rot = axis_angle_to_matrix(torch.from_numpy(m.poses.astype(np.float64))).numpy()  # (T,24,3,3)
    rot[:, 0] = ZUP_TO_YUP @ rot[:, 0]
    euler = matrix_to_euler_zxy(rot[:, hierarchy_order()])  # (T,24,3)
    root_pos = m.trans.astype(np.float64) @ ZUP_TO_YUP.T * scale
    table = np.concatenate([root_pos, euler.reshape(m.num_frames, -1)], axis=1)
    lines += ["MOTION", f"Frames: {m.num_frames}", f"Frame Time: {1.0 / m.fps:.8f}"]
    buf = io.StringIO()
    np.savetxt(buf, table, fmt="%.6f")
    return "\n".join(lines) + "\n" + buf.getvalue()


def save_bvh(m: Motion, path: str | os.PathLike, units: str = "m") -> Path:
    """Write ``m`` as BVH (y-up, ``units`` m or cm, ZXY Euler); atomic."""
    text = bvh_text(m, units)
    return atomic_write(Path(path), lambda f: f.write(text.encode("ascii")))


@dataclass
class BVH:
    names: list[str]
    parents: list[int]
    offsets: np.ndarray  # (J,3) in file units
    channels: list[list[str]]  # per joint, e.g. ["Zrotation", "Xrotation", "Yrotation"]
    frames: np.ndarray  # (F, total channels)
    frame_time: float
    end_sites: dict[int, np.ndarray] = field(default_factory=dict)

    def channel_values(self, j: int) -> dict[str, np.ndarray]:
        """Column values of joint ``j`` keyed by channel name, (F,) each."""
        start = sum(len(c) for c in self.channels[:j])
        return {c: self.frames[:, start + k] for k, c in enumerate(self.channels[j])}

    def local_rotations(self) -> np.ndarray:
        """(F,J,3,3) local rotation matrices from the Euler channels, composed in channel order."""
        out = np.tile(np.eye(3), (self.frames.shape[0], len(self.names), 1, 1))
        for j in range(len(self.names)):
            vals = self.channel_values(j)
            axes = [c[0] for c in self.channels[j] if c.endswith("rotation")]
            if axes:
                angles = np.stack([vals[f"{a}rotation"] for a in axes], -1)
                out[:, j] = euler_to_matrix(angles, "".join(axes))
        return out

    def local_translations(self) -> np.ndarray:
        """(F,J,3) parent→joint translations in file units.

        Position channels of the root are added to its offset. On other joints exporters disagree: some write the
        change from the offset, others (MotionBuilder-style 6-channel files) the whole translation; values whose
        median lies nearer the offset than zero are read as the whole translation.
        """
        n = self.frames.shape[0]
        out = np.tile(self.offsets, (n, 1, 1)).astype(np.float64)
        for j in range(len(self.names)):
            vals = self.channel_values(j)
            if not any(c in vals for c in POS_CHANNELS):
                continue
            t = np.stack([vals.get(c, np.zeros(n)) for c in POS_CHANNELS], -1)
            whole = self.parents[j] >= 0 and (
                np.linalg.norm(np.median(t, 0) - self.offsets[j]) < np.linalg.norm(np.median(t, 0)))
            out[:, j] = t if whole else t + self.offsets[j]
        return out

    def fk(self, zero_pose: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Global (world rotations (F,J,3,3), positions (F,J,3)) in the file's frame and units.

        ``zero_pose``: the skeleton with every channel at zero (the file's rest pose), one frame.
        """
        if zero_pose:
            rot, local_t = np.eye(3)[None, None].repeat(len(self.names), 1), self.offsets[None].astype(np.float64)
        else:
            rot, local_t = self.local_rotations(), self.local_translations()
        world, pos = np.zeros_like(rot), np.zeros(local_t.shape)
        for j, p in enumerate(self.parents):
            if p < 0:
                world[:, j], pos[:, j] = rot[:, j], local_t[:, j]
            else:
                world[:, j] = world[:, p] @ rot[:, j]
                pos[:, j] = pos[:, p] + (world[:, p] @ local_t[:, j, :, None])[..., 0]
        return world, pos

    def joint_positions(self) -> np.ndarray:
        """(F,J,3) global joint positions in the file's frame and units (forward kinematics of the channels)."""
        return self.fk()[1]


def read_bvh(path: str | os.PathLike) -> BVH:
    """Parse a BVH file (any channel order); malformed files → UserError."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: BVH file not found; check the path")
    tokens = re.split(r"\s+", path.read_text(errors="replace").strip())
    pos = 0

    def take(expected: str | None = None) -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise UserError(f"{path}: unexpected end of BVH file; it is truncated")
        tok = tokens[pos]
        pos += 1
        if expected is not None and tok != expected:
            raise UserError(f"{path}: expected '{expected}' but found '{tok}' (token {pos}); not a valid BVH file")
        return tok

    def take_floats(n: int) -> np.ndarray:
        try:
            return np.array([float(take()) for _ in range(n)])
        except ValueError:
            raise UserError(f"{path}: expected a number near token {pos}; not a valid BVH file") from None

    names, parents, offsets, channels, end_sites = [], [], [], [], {}

    def joint(parent: int) -> None:
        j = len(names)
        names.append(take())
        parents.append(parent)
        take("{")
        take("OFFSET")
        offsets.append(take_floats(3))
        take("CHANNELS")
        try:
            n = int(take())
        except ValueError:
            raise UserError(f"{path}: CHANNELS count is not an integer (joint {names[-1]})") from None
        channels.append([take() for _ in range(n)])
        while True:
            tok = take()
            if tok == "JOINT":
                joint(j)
            elif tok == "End":
                take("Site")
                take("{")
                take("OFFSET")
                end_sites[j] = take_floats(3)
                take("}")
            elif tok == "}":
                return
            else:
                raise UserError(f"{path}: unexpected '{tok}' in joint {names[j]}; not a valid BVH file")

    take("HIERARCHY")
    take("ROOT")
    joint(-1)
    take("MOTION")
    take("Frames:")
    try:
        n_frames = int(take())
    except ValueError:
        raise UserError(f"{path}: 'Frames:' is not followed by an integer") from None
    take("Frame")
    take("Time:")
    frame_time = float(take_floats(1)[0])
    n_chan = sum(len(c) for c in channels)
    values = tokens[pos:]
    if len(values) != n_frames * n_chan:
        raise UserError(f"{path}: {len(values)} motion values, expected {n_frames} frames × {n_chan} channels")
    try:
        frames = np.array(values, dtype=np.float64).reshape(n_frames, n_chan)
    except ValueError:
        raise UserError(f"{path}: MOTION section contains non-numbers") from None
    if not frame_time > 0:
        raise UserError(f"{path}: Frame Time must be > 0, got {frame_time}")
    return BVH(names, parents, np.array(offsets), channels, frames, frame_time, end_sites)


def bvh_to_motion(b: BVH, source: str = "BVH") -> Motion:
    """A BVH with the 24 SMPL joint names (as :func:`save_bvh` writes) → z-up Motion; ``joints`` = the file's FK."""
    if sorted(b.names) != sorted(JOINT_NAMES):
        raise UserError(f"{source}: joints {b.names[:5]}... are not the SMPL-24 skeleton; only BVH files exported "
                        f"by dance_rl (joint names {', '.join(JOINT_NAMES[:3])}, ...) can be imported")
    idx = [b.names.index(n) for n in JOINT_NAMES]
    file_parents = [-1 if b.parents[k] < 0 else JOINT_NAMES.index(b.names[b.parents[k]]) for k in idx]
    if file_parents != list(PARENTS):
        raise UserError(f"{source}: joint hierarchy differs from SMPL-24; re-export the file with dance_rl")
    # Units: compare bone lengths with the built-in skeleton (1 → metres, 100 → centimetres).
    lengths = np.linalg.norm(b.offsets[idx][1:], axis=-1)
    scale = float(np.median(lengths / np.linalg.norm(OFFSETS[1:], axis=-1)))
    for unit_scale in UNITS.values():
        if abs(scale / unit_scale - 1.0) < 0.05:
            scale = unit_scale
    rot = b.local_rotations()[:, idx]
    rot[:, 0] = ZUP_TO_YUP.T @ rot[:, 0]
    with torch.no_grad():
        poses = matrix_to_axis_angle(torch.from_numpy(rot)).numpy()
    root = b.channel_values(idx[0])
    trans = np.stack([root.get(c, np.zeros(len(b.frames))) for c in POS_CHANNELS], -1) + b.offsets[idx[0]]
    joints = b.joint_positions()[:, idx] @ ZUP_TO_YUP / scale  # row vectors: p_zup = C^T p_yup
    fps = 1.0 / b.frame_time
    fps = float(round(fps)) if abs(fps - round(fps)) < 1e-3 else fps  # Frame Time is printed with 8 decimals
    return validate_motion(Motion(poses, trans @ ZUP_TO_YUP / scale, fps, joints=joints), source)
