"""Posture statistics: the numbers that expose a policy that found a posture the rewards like (e.g. a deep crouch).

No reward optimises them; guardrails bound their shift against the base model. From joint positions (FK of the
mean-shape skeleton, z up): pelvis height above the feet, knee flexion (180° minus the hip-knee-ankle angle; 0° =
straight leg) and trunk lean (angle between the pelvis→neck vector and vertical).
"""
from __future__ import annotations

import numpy as np

PELVIS, L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE, NECK = 0, 1, 2, 4, 5, 7, 8, 12


def _angle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    cos = np.sum(u * v, -1) / np.maximum(np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1), 1e-9)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def posture_from_joints(joints: np.ndarray) -> dict:
    """(T,24,3) z-up joints → per-clip means: pelvis_height (m, above the lower ankle), knee_flexion (deg, mean of
    both knees), knee_flexion_p90 (deg), trunk_lean (deg)."""
    j = np.asarray(joints, dtype=np.float64)
    feet_z = np.minimum(j[:, L_ANKLE, 2], j[:, R_ANKLE, 2])
    pelvis_height = j[:, PELVIS, 2] - feet_z
    flex = []
    for hip, knee, ankle in ((L_HIP, L_KNEE, L_ANKLE), (R_HIP, R_KNEE, R_ANKLE)):
        flex.append(180.0 - _angle(j[:, hip] - j[:, knee], j[:, ankle] - j[:, knee]))
    flex = np.concatenate(flex)
    lean = _angle(j[:, NECK] - j[:, PELVIS], np.array([0.0, 0.0, 1.0]))
    return {"pelvis_height": float(pelvis_height.mean()), "knee_flexion": float(flex.mean()),
            "knee_flexion_p90": float(np.percentile(flex, 90)), "trunk_lean": float(lean.mean())}


def posture_stats(poses: np.ndarray, trans: np.ndarray) -> dict:
    """(T,24,3) axis-angle + (T,3) root → :func:`posture_from_joints`."""
    from dance_rl.motion.fk import joints_np

    return posture_from_joints(joints_np(np.asarray(poses, np.float64), np.asarray(trans, np.float64)))
