"""Retarget a BVH of any skeleton onto SMPL-24 by matching bone directions.

Copying local Euler angles between skeletons is wrong whenever their rest poses or joint frames differ (a Mixamo
A-pose, LAFAN1's bones along local x). Instead, per frame, every SMPL joint gets the *global* rotation that points
its bones where the source's bones point:

1. Source forward kinematics → joint positions P and world rotations R of the mapped joints (file frame and units).
2. Rest alignment A_j: the SMPL global rotations that reproduce the file's zero pose (all channels 0, where every
   source world rotation is the identity), solved like step 3 with the parent's frame as the twist prior.
3. Per frame, joint by joint from the root: the prior G0_j = U·R_j·Uᵀ·A_j (U: file up axis → +z) carries the source's
   twist; a joint with one child is then turned by the smallest rotation that puts SMPL's bone on the source's bone;
   a joint with several children (pelvis, chest) is fitted to all child directions at once (Kabsch).
4. Root position: the source root scaled by SMPL leg length / source leg length (units cm, m or inches drop out).
5. Feet on the ground (``ground.floor_height``), first frame's root above the origin, resampled to 30 fps.
"""
from __future__ import annotations

import os

import numpy as np
import torch

from dance_rl.errors import UserError
from dance_rl.motion.bvh import BVH, bvh_to_motion, read_bvh
from dance_rl.motion.clip import YUP_TO_ZUP_MAT, Motion, resample, validate_motion
from dance_rl.motion.ground import dominant_axis, ground_motion, rotation_between, up_to_z
from dance_rl.motion.joint_map import JointMap, resolve_mapping
from dance_rl.motion.rotations import matrix_to_axis_angle
from dance_rl.motion.skeleton import JOINT_NAMES, NUM_JOINTS, OFFSETS, PARENTS, children, rest_joint_positions

FPS = 30.0
_LEGS = ((1, 4, 7), (2, 5, 8))  # hip, knee, ankle
_BONE_DIRS = OFFSETS / np.maximum(np.linalg.norm(OFFSETS, axis=-1, keepdims=True), 1e-12)


def kabsch(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Rotations (F,3,3) minimising Σ_k w_k |R a_k − b_k|²: a (K,3), b (F,K,3), w (F,K)."""
    h = np.einsum("fk,fki,kj->fij", w, b, a)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(u @ vt))
    return u @ (np.concatenate([np.ones((len(d), 2)), d[:, None]], 1)[:, :, None] * vt)


def _solve(dirs: dict, valid: dict, prior) -> np.ndarray:
    """SMPL world rotations (F,24,3,3) from source bone directions ``dirs[(j, c)]`` (F,3) (unit, z-up) and
    ``valid[(j, c)]`` (F,) (non-degenerate); ``prior(j, world)`` gives each joint's twist prior (F,3,3)."""
    world = None
    for j in range(NUM_JOINTS):  # parents come first
        g0 = prior(j, world)
        if world is None:
            world = np.zeros((len(g0), NUM_JOINTS, 3, 3))
        kids = children(j)
        if len(kids) >= 2:  # pelvis, chest: all child bones at once; the prior (weight 1e-3) only breaks ties
            a = np.concatenate([_BONE_DIRS[list(kids)], np.eye(3)])
            b = np.concatenate([np.stack([dirs[(j, c)] for c in kids], 1), np.swapaxes(g0, -1, -2)], 1)
            w = np.concatenate([np.stack([valid[(j, c)] for c in kids], 1).astype(float),
                                np.full((len(g0), 3), 1e-3)], 1)
            world[:, j] = kabsch(a, b, w)
        elif kids:
            c = kids[0]
            swing = rotation_between(g0 @ _BONE_DIRS[c], dirs[(j, c)])
            world[:, j] = np.where(valid[(j, c)][:, None, None], swing @ g0, g0)
        else:
            world[:, j] = g0
    return world


def _bone_dirs(pos: np.ndarray, src: list, eps: float) -> tuple[dict, dict]:
    """Unit source directions and validity of every SMPL bone (j → child), from mapped positions (F,J,3)."""
    dirs, valid = {}, {}
    for c in range(1, NUM_JOINTS):
        j = PARENTS[c]
        if src[c] is None:  # unmapped leaf: no bone to follow
            dirs[(j, c)], valid[(j, c)] = np.zeros((len(pos), 3)), np.zeros(len(pos), bool)
            continue
        v = pos[:, src[c]] - pos[:, src[j]]
        n = np.linalg.norm(v, axis=-1)
        valid[(j, c)] = n > eps
        dirs[(j, c)] = v / np.maximum(n, eps)[:, None]
    return dirs, valid


def leg_length(pos: np.ndarray, idx) -> float:
    """Mean hip→knee→ankle length of both legs of a rest pose (J,3), joints given by ``idx[smpl joint]``."""
    return float(np.mean([np.linalg.norm(pos[idx[k]] - pos[idx[h]]) + np.linalg.norm(pos[idx[a]] - pos[idx[k]])
                          for h, k, a in _LEGS]))


def retarget_bvh(b: BVH, mapping: JointMap | str | os.PathLike | dict | None = None, source: str = "BVH",
                 fps: float = FPS) -> Motion:
    """A parsed BVH of any humanoid skeleton → z-up SMPL-24 Motion at ``fps`` (see module docstring)."""
    jm = mapping if isinstance(mapping, JointMap) else resolve_mapping(b.names, mapping, source)
    src = jm.source
    world_rot, pos = b.fk()
    _, rest = b.fk(zero_pose=True)
    src_leg = leg_length(rest[0], src)
    if not src_leg > 0:
        raise UserError(f"{source}: the mapped legs have zero length in the rest pose; check the joint mapping")
    scale = leg_length(rest_joint_positions(), range(NUM_JOINTS)) / src_leg
    up_vec = {"y": (0.0, 1.0, 0.0), "z": (0.0, 0.0, 1.0)}.get(jm.up or "")
    if up_vec is None:  # detect: the mean pelvis → neck direction of the performance, snapped to an axis
        up_vec = dominant_axis(np.mean(pos[:, src[12]] - pos[:, src[0]], axis=0))
    u = up_to_z(np.array(up_vec))
    eps = 1e-3 * src_leg

    # Rest alignment: SMPL globals reproducing the zero pose; twist prior = the parent's frame (SMPL's upright root).
    rest_dirs, rest_valid = _bone_dirs((rest @ u.T), src, eps)
    rest_world = _solve(rest_dirs, rest_valid, lambda j, w: YUP_TO_ZUP_MAT[None] if j == 0 else w[:, PARENTS[j]])[0]

    # Per frame: prior = the source joint's world rotation carried through the rest alignment.
    src_world = u @ world_rot @ u.T  # (F,J,3,3) in the z-up world
    dirs, valid = _bone_dirs(pos @ u.T, src, eps)

    def prior(j, w):
        if src[j] is None:
            return w[:, PARENTS[j]]
        return src_world[:, src[j]] @ rest_world[j]

    world = _solve(dirs, valid, prior)
    local = world.copy()
    for j in range(1, NUM_JOINTS):
        local[:, j] = np.swapaxes(world[:, PARENTS[j]], -1, -2) @ world[:, j]
    with torch.no_grad():
        poses = matrix_to_axis_angle(torch.from_numpy(local)).numpy()
    trans = (pos[:, src[0]] @ u.T) * scale
    src_fps = 1.0 / b.frame_time
    src_fps = float(round(src_fps)) if abs(src_fps - round(src_fps)) < 1e-3 else src_fps
    m = resample(validate_motion(Motion(poses, trans, src_fps), source), fps)
    return ground_motion(m)


def load_bvh(path: str | os.PathLike, mapping=None) -> Motion:
    """Our own SMPL-24 export exactly; any other skeleton retargeted (``mapping``: file, dict or None = detect)."""
    b = read_bvh(path)
    if mapping is None and sorted(b.names) == sorted(JOINT_NAMES):
        return bvh_to_motion(b, str(path))
    return retarget_bvh(b, mapping, str(path))
