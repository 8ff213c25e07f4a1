"""Retarget the DeepMimic humanoid clips shipped in ``pybullet_data`` onto the SMPL-24 skeleton.

Source (docs/data.md, DeepMimic clips): JSON ``{"Loop", "Frames"}``, 44 floats per frame: dt, root xyz (Y-up,
x forward, z = the character's right), then w,x,y,z quaternions (local to the parent) for root, chest, neck, hips,
ankles, shoulders and one revolute angle about local z for knees and elbows. DeepMimic's rest pose stands with arms
hanging down; SMPL's is a T-pose, so copying local rotations would put the arms in the wrong place.

Method (bone-direction matching, robust to different rest poses):
  1. DeepMimic world rotations G by FK over its own tree.
  2. Change of frame to SMPL: C maps DeepMimic body axes (fwd, up, right) to SMPL's (left = +x, up = +y, fwd = +z);
     W = +90° about X maps the Y-up world to the z-up world, so the SMPL global is  W · G · Cᵀ · A_j.
  3. A_j is a constant per-joint rest alignment: the shortest rotation taking the SMPL bone to the joint's child onto
     DeepMimic's rest bone direction (thighs, shins, upper arms, forearms). World bone directions then equal the
     mocap's exactly; twist about the bone comes from the source. Torso, neck and ankles keep A = I (both rest
     poses are "standing upright, feet flat").
  4. SMPL joints without a counterpart (spine 3/6, collars, head, toes, wrists, hands) keep an identity local
     rotation; locals are then  parent_globalᵀ · global.
The SMPL hip midpoint follows DeepMimic's root (its hip midpoint) scaled by the leg-length ratio, so stance feet
stay planted; grounding is left to the caller.
Resampling happens in the source representation (slerp per joint, linear root), after closing the loop so that the
last frame is exactly the first one moved by the cycle's heading change and displacement.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from dance_rl.errors import UserError
from dance_rl.motion.skeleton import NUM_JOINTS, OFFSETS, PARENTS

FRAME_WIDTH = 44
# Source joints in file order: (name, first column, kind). Index 0 is the root (column 4, its position is 1-3).
DM_JOINTS = (
    ("root", 4, "quat"), ("chest", 8, "quat"), ("neck", 12, "quat"),
    ("right_hip", 16, "quat"), ("right_knee", 20, "angle"), ("right_ankle", 21, "quat"),
    ("right_shoulder", 25, "quat"), ("right_elbow", 29, "angle"),
    ("left_hip", 30, "quat"), ("left_knee", 34, "angle"), ("left_ankle", 35, "quat"),
    ("left_shoulder", 39, "quat"), ("left_elbow", 43, "angle"),
)
DM_NAMES = tuple(j[0] for j in DM_JOINTS)
DM_PARENTS = (-1, 0, 1, 0, 3, 4, 1, 6, 0, 8, 9, 1, 11)
# Parent→joint offsets (metres, URDF × globalScaling 0.25, parent frame, Y-up), plus the two wrists (fixed joints).
DM_OFFSETS = np.array([
    [0, 0, 0], [0, 0.2362, 0], [0, 0.2239, 0],
    [0, 0, 0.0849], [0, -0.4215, 0], [0, -0.4099, 0], [-0.0241, 0.2435, 0.1831], [0, -0.2748, 0],
    [0, 0, -0.0849], [0, -0.4215, 0], [0, -0.4099, 0], [-0.0241, 0.2435, -0.1831], [0, -0.2748, 0],
], dtype=np.float64)
DM_WRIST_OFFSET = np.array([0, -0.2589, 0], dtype=np.float64)  # elbow → wrist, children of indices 7 and 12
# Source joint → SMPL joint (13 shared joints; docs/data.md).
DM_TO_SMPL = (0, 9, 12, 2, 5, 8, 17, 19, 1, 4, 7, 16, 18)
# Aligned joints: source index → (SMPL child joint, DeepMimic rest bone direction in the source joint frame).
_DOWN = np.array([0.0, -1.0, 0.0])
ALIGNED = {3: (5, _DOWN), 4: (8, _DOWN), 6: (19, _DOWN), 7: (21, _DOWN),
           8: (4, _DOWN), 9: (7, _DOWN), 11: (18, _DOWN), 12: (20, _DOWN)}

# DeepMimic body axes (x fwd, y up, z right) → SMPL body axes (x left, y up, z fwd).
C_DM_TO_SMPL = np.array([[0, 0, -1], [0, 1, 0], [1, 0, 0]], dtype=np.float64)
# Y-up world → z-up world: +90° about X (EDGE convention).
W_YUP_TO_ZUP = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=np.float64)

UPRIGHT_CLIPS = ("dance_a", "dance_b", "walk", "run", "jump", "spin", "spinkick", "kick", "punch")
ALL_HUMANOID_CLIPS = UPRIGHT_CLIPS + ("backflip", "cartwheel", "crawl", "roll", "getup_facedown", "getup_faceup")


@dataclass
class DeepMimicClip:
    """A source clip in its own representation: times (N,), root_pos (N,3) Y-up, rots (N,13,4) x,y,z,w local."""
    name: str
    times: np.ndarray
    root_pos: np.ndarray
    rots: np.ndarray
    loop: bool
    cycle_yaw: float = 0.0  # heading change per cycle (rad, about +y), set by close_loop
    closed: bool = False

    @property
    def duration(self) -> float:
        return float(self.times[-1])


def motions_dir() -> Path:
    """Folder of the DeepMimic clips inside the installed pybullet package."""
    try:
        import pybullet_data
    except ImportError as e:
        raise UserError("pybullet: not installed, so the DeepMimic clips are missing; pip install pybullet") from e
    path = Path(pybullet_data.getDataPath()) / "data" / "motions"
    if not path.is_dir():
        raise UserError(f"{path}: pybullet_data has no motions folder; reinstall pybullet (3.2.x)")
    return path


def clip_path(name: str) -> Path:
    path = motions_dir() / f"humanoid3d_{name}.txt"
    if not path.is_file():
        raise UserError(f"{name}: no DeepMimic clip {path.name}; choose one of {', '.join(ALL_HUMANOID_CLIPS)}")
    return path


def _angle_quats(angle: np.ndarray) -> np.ndarray:
    """Revolute angle about local z → x,y,z,w quaternions."""
    q = np.zeros(angle.shape + (4,))
    q[..., 2], q[..., 3] = np.sin(angle / 2), np.cos(angle / 2)
    return q


def load_clip(path_or_name: str | Path) -> DeepMimicClip:
    """Parse a DeepMimic motion file (or a clip name such as ``"walk"``)."""
    path = Path(path_or_name) if str(path_or_name).endswith(".txt") else clip_path(str(path_or_name))
    try:
        doc = json.loads(path.read_text())
        frames = np.asarray(doc["Frames"], dtype=np.float64)
        loop = doc.get("Loop", "none") == "wrap"
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"{path}: not a DeepMimic motion file ({e}); pass a humanoid3d_*.txt clip") from e
    if frames.ndim != 2 or frames.shape[1] != FRAME_WIDTH or len(frames) < 2 or not np.isfinite(frames).all():
        raise UserError(f"{path}: expected >= 2 frames of {FRAME_WIDTH} finite numbers, got shape {frames.shape}")
    times = np.concatenate([[0.0], np.cumsum(frames[:-1, 0])])
    if np.any(np.diff(times) <= 0):
        raise UserError(f"{path}: frame durations must be > 0 (except the last); the file is corrupt")
    rots = np.zeros((len(frames), len(DM_JOINTS), 4))
    for j, (_, col, kind) in enumerate(DM_JOINTS):
        if kind == "quat":
            q = frames[:, [col + 1, col + 2, col + 3, col]]  # w,x,y,z → x,y,z,w
            rots[:, j] = q / np.linalg.norm(q, axis=-1, keepdims=True)
        else:
            rots[:, j] = _angle_quats(frames[:, col])
    name = path.stem.removeprefix("humanoid3d_")
    return DeepMimicClip(name, times, frames[:, 1:4].copy(), rots, loop)


def _yaw(angle) -> Rotation:
    return Rotation.from_rotvec(np.multiply.outer(np.atleast_1d(angle), [0.0, 1.0, 0.0]))


def heading(root_quat: np.ndarray) -> np.ndarray:
    """Heading (rad about +y) of the body's forward axis x, projected on the ground plane."""
    fwd = Rotation.from_quat(root_quat).apply([1.0, 0.0, 0.0])
    return np.arctan2(-fwd[..., 2], fwd[..., 0])


def close_loop(clip: DeepMimicClip) -> DeepMimicClip:
    """Make frame N-1 exactly the cycle transform of frame 0 by spreading the seam residual linearly over the cycle.

    Cycle transform: heading turns by Δh = heading(end) - heading(start) about +y, the horizontal root path continues
    from the end position, the root height repeats. Mocap loops close only approximately (up to ~20° per joint);
    without this the looped clip would jump at every seam.
    """
    w = (clip.times / clip.duration)[:, None]  # 0 at the start, 1 at the end
    dh = float(np.angle(np.exp(1j * (heading(clip.rots[-1, 0]) - heading(clip.rots[0, 0])))))
    rots = clip.rots.copy()
    targets = [(_yaw(dh) * Rotation.from_quat(clip.rots[0, 0])).as_quat()[0]] + list(clip.rots[0, 1:])
    for j, target in enumerate(targets):
        residual = (Rotation.from_quat(target) * Rotation.from_quat(clip.rots[-1, j]).inv()).as_rotvec()
        corr = Rotation.from_rotvec(w * residual[None])
        rots[:, j] = (corr * Rotation.from_quat(clip.rots[:, j])).as_quat()  # world/parent-side correction
    root = clip.root_pos.copy()
    root[:, 1] += w[:, 0] * (clip.root_pos[0, 1] - clip.root_pos[-1, 1])
    return replace(clip, rots=rots, root_pos=root, cycle_yaw=dh, closed=True)


def sample_clip(clip: DeepMimicClip, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Source pose at arbitrary times (s) → (root_pos (M,3), rots (M,13,4)).

    Looping clips (closed with :func:`close_loop`) continue past their end: cycle k is the first cycle turned by
    k·Δh about the vertical through its start and moved so it starts where cycle k-1 ended. Other clips clamp.
    Negative times clamp to 0.
    """
    times = np.maximum(np.asarray(times, dtype=np.float64), 0.0)
    T = clip.duration
    if clip.loop and not clip.closed:
        clip = close_loop(clip)
    cycle = np.floor(times / T).astype(int) if clip.loop else np.zeros(len(times), int)
    tau = np.clip(times - cycle * T, 0.0, T)
    rots = np.stack([Slerp(clip.times, Rotation.from_quat(clip.rots[:, j]))(tau).as_quat()
                     for j in range(len(DM_JOINTS))], axis=1)
    root = np.stack([np.interp(tau, clip.times, clip.root_pos[:, k]) for k in range(3)], axis=-1)
    if clip.loop and cycle.max(initial=0) > 0:
        start, end = clip.root_pos[0], clip.root_pos[-1]
        offset = np.zeros(3)  # where cycle k starts (horizontal), built up cycle by cycle
        for k in range(1, cycle.max() + 1):
            offset = offset + _yaw((k - 1) * clip.cycle_yaw).apply(end - start)[0] * [1, 0, 1]
            sel = cycle == k
            yaw_k = _yaw(k * clip.cycle_yaw)
            rel = (root[sel] - start) * [1, 0, 1]
            root[sel] = yaw_k.apply(rel) + start * [1, 0, 1] + offset + root[sel] * [0, 1, 0]
            rots[sel, 0] = (yaw_k * Rotation.from_quat(rots[sel, 0])).as_quat()
    return root, rots


def dm_global_rotations(rots: np.ndarray) -> np.ndarray:
    """(M,13,4) local x,y,z,w → (M,13,3,3) world rotation matrices (Y-up DeepMimic world)."""
    local = Rotation.from_quat(rots.reshape(-1, 4)).as_matrix().reshape(rots.shape[:-1] + (3, 3))
    out = np.empty_like(local)
    for j, p in enumerate(DM_PARENTS):
        out[:, j] = local[:, j] if p < 0 else out[:, p] @ local[:, j]
    return out


def dm_joint_positions(root_pos: np.ndarray, rots: np.ndarray) -> np.ndarray:
    """Source FK → (M,15,3) positions, Y-up: the 13 source joints then right and left wrist."""
    g = dm_global_rotations(rots)
    pos = np.empty(g.shape[:2] + (3,))
    for j, p in enumerate(DM_PARENTS):
        pos[:, j] = root_pos if p < 0 else pos[:, p] + g[:, p] @ DM_OFFSETS[j]
    wrists = [pos[:, e] + g[:, e] @ DM_WRIST_OFFSET for e in (7, 12)]
    return np.concatenate([pos, np.stack(wrists, axis=1)], axis=1)


def _shortest_arc(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation matrix taking direction a onto direction b by the smallest angle."""
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    axis = np.cross(a, b)
    s, c = np.linalg.norm(axis), float(a @ b)
    if s < 1e-12:
        return np.eye(3)  # parallel (antiparallel never happens for these skeletons)
    return Rotation.from_rotvec(axis / s * np.arctan2(s, c)).as_matrix()


def rest_alignments() -> np.ndarray:
    """(13,3,3) A_j in the SMPL body frame: SMPL rest bone → DeepMimic rest bone (identity where not aligned)."""
    out = np.tile(np.eye(3), (len(DM_JOINTS), 1, 1))
    for j, (child, dm_dir) in ALIGNED.items():
        out[j] = _shortest_arc(OFFSETS[child].astype(np.float64), C_DM_TO_SMPL @ dm_dir)
    return out


def leg_scale() -> float:
    """SMPL thigh+shin length over DeepMimic's (mean of both legs): the root path is scaled by it so that stance
    feet, which follow the hips through limbs of matching directions, stay planted."""
    smpl = np.linalg.norm(OFFSETS[[4, 7, 5, 8]].astype(np.float64), axis=-1).sum() / 2
    return float(smpl / -(DM_OFFSETS[4, 1] + DM_OFFSETS[5, 1]))


# Midpoint of the two SMPL hip joints in the pelvis frame; DeepMimic's hips sit level with its root.
SMPL_HIP_MID = (OFFSETS[1] + OFFSETS[2]).astype(np.float64) / 2


def retarget_frames(root_pos: np.ndarray, rots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Source frames → SMPL (poses (M,24,3) local axis-angle, trans (M,3) z-up, not grounded or centred)."""
    g_dm = dm_global_rotations(rots)
    g_smpl_mapped = W_YUP_TO_ZUP @ g_dm @ C_DM_TO_SMPL.T @ rest_alignments()
    m = len(rots)
    glob = np.empty((m, NUM_JOINTS, 3, 3))
    mapped = dict(zip(DM_TO_SMPL, range(len(DM_JOINTS))))
    for i in range(NUM_JOINTS):  # parents precede children in PARENTS
        glob[:, i] = g_smpl_mapped[:, mapped[i]] if i in mapped else glob[:, PARENTS[i]]
    local = glob.copy()
    for i in range(1, NUM_JOINTS):
        local[:, i] = np.swapaxes(glob[:, PARENTS[i]], -1, -2) @ glob[:, i]
    poses = Rotation.from_matrix(local.reshape(-1, 3, 3)).as_rotvec().reshape(m, NUM_JOINTS, 3)
    # The SMPL hip midpoint follows DeepMimic's (= its root), scaled: the pelvis tilts without lifting the legs.
    trans = leg_scale() * root_pos @ W_YUP_TO_ZUP.T - glob[:, 0] @ SMPL_HIP_MID
    return poses.astype(np.float32), trans.astype(np.float32)
