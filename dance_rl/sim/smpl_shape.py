"""Body proportions from an SMPL model file, when the user has one (licence-gated; never shipped or downloaded).

Only the mean shape (zero betas) is used: joints = J_regressor · v_template give the bone offsets (and so the floor
height and the trunk layout), and each limb/neck capsule's radius is the median distance of the body's skinned
vertices (largest skinning weight) to its bone. Trunk, head, feet and hands keep their parametric shapes (the trunk
capsules run across the body, so a distance-to-bone radius does not apply; feet matter for contact, not volume).

The file is read by ``dance_rl.motion.smpl_mesh`` (``.npz`` without pickle, ``.pkl`` with its restricted unpickler;
a folder holding SMPL_NEUTRAL.* works too).
"""
from __future__ import annotations

import os

import numpy as np

from dance_rl.motion.skeleton import NUM_JOINTS, PARENTS
from dance_rl.motion.smpl_mesh import find_model_file, load_model_data

RADIUS_RANGE = (0.02, 0.15)  # m; clamps outliers of odd meshes
MESH_SIZED = (1, 2, 4, 5, 12, 13, 14, 16, 17, 18, 19)  # thighs, shins, neck, collars, upper arms, forearms


def _point_segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(((p - a) @ ab) / max(float(ab @ ab), 1e-12), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[:, None] * ab), axis=1)


def shape_from_smpl(path: str | os.PathLike) -> tuple[np.ndarray, dict[int, float]]:
    """(bone offsets (24,3) in the SMPL rest frame, {joint: capsule radius}) of the mean shape in ``path``."""
    data = load_model_data(find_model_file(path))
    verts = np.asarray(data["v_template"], dtype=np.float64)
    joints = np.asarray(data["J_regressor"], dtype=np.float64) @ verts
    offsets = np.zeros((NUM_JOINTS, 3))
    for j in range(1, NUM_JOINTS):
        offsets[j] = joints[j] - joints[PARENTS[j]]
    owner = data["weights"].argmax(axis=1)
    radius = {}
    for j in MESH_SIZED:
        mine = verts[owner == j]
        if len(mine) < 3:
            continue
        child = [i for i, p in enumerate(PARENTS) if p == j][0]
        radius[j] = float(np.clip(np.median(_point_segment_distance(mine, joints[j], joints[child])), *RADIUS_RANGE))
    return offsets.astype(np.float32), radius
