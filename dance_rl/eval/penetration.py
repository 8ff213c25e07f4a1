"""Pen. Rate: self-penetration per frame, by the best method the machine supports (reported with the value).

* ``"smpl_mesh"`` (Skeleton2Stage's definition, docs/metrics.md) when SMPL model files are present:
  neutral SMPL, zero betas, one mesh per frame; value = mean number of intersecting (non-adjacent) triangle pairs
  per frame. Directly comparable with published Pen. Rate only up to the difference between our exact
  triangle test and torch-mesh-isect's BVH (which caps each triangle at 8 collisions).
* ``"sim_capsules"`` otherwise: the simulator body of ``dance_rl.sim`` posed kinematically each frame; value = mean
  number of contacting pairs of geoms on non-adjacent bodies per frame. Same direction of effect, different scale:
  NOT comparable with published numbers.
* ``"none"``: neither is available (value NaN).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from dance_rl.eval.mesh_isect import count_self_intersections

METHODS = ("auto", "mesh", "capsule", "none")


def mesh_pen_rate(poses: np.ndarray, trans: np.ndarray, model, frame_stride: int = 1) -> dict:
    """Mean intersecting triangle pairs per frame of the SMPL mesh (every ``frame_stride``-th frame)."""
    from dance_rl.eval.smpl_mesh import smpl_vertices

    idx = np.arange(0, len(poses), max(1, int(frame_stride)))
    verts = smpl_vertices(model, np.asarray(poses)[idx], np.asarray(trans)[idx])
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:  # numpy releases the GIL
        counts = np.array(list(pool.map(lambda v: count_self_intersections(v, model.faces), verts)), dtype=np.float64)
    return {"pen_rate": float(counts.mean()) if len(counts) else float("nan"), "pen_method": "smpl_mesh",
            "pen_frames": counts}


def capsule_pen_rate(poses: np.ndarray, trans: np.ndarray, fps: float = 30.0) -> dict:
    """Mean penetrating contacts between geoms of non-adjacent bodies per frame on the simulator body (posed
    kinematically, no dynamics)."""
    from dance_rl.sim.dynamics import self_collisions
    from dance_rl.sim.humanoid import humanoid_model
    from dance_rl.sim.retarget import motion_to_qpos

    qpos = motion_to_qpos(np.asarray(poses, dtype=np.float64), np.asarray(trans, dtype=np.float64))
    counts = np.asarray(self_collisions(qpos, humanoid_model())["count"], dtype=np.float64)
    return {"pen_rate": float(counts.mean()) if len(counts) else float("nan"), "pen_method": "sim_capsules",
            "pen_frames": counts}


def pen_rate(poses: np.ndarray, trans: np.ndarray, fps: float = 30.0, method: str = "auto", smpl_model=None,
             frame_stride: int = 1) -> dict:
    """{'pen_rate': float, 'pen_method': str, 'pen_frames': (n,)} for one motion.

    ``smpl_model`` is a loaded :class:`~dance_rl.eval.smpl_mesh.SMPLModel` (None = no SMPL files).
    ``method``: 'auto' (mesh if a model is given, else capsules), 'mesh', 'capsule' or 'none'.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    none = {"pen_rate": float("nan"), "pen_method": "none", "pen_frames": np.zeros(0)}
    if method == "none":
        return none
    if method in ("auto", "mesh") and smpl_model is not None:
        return mesh_pen_rate(poses, trans, smpl_model, frame_stride)
    if method == "mesh":
        return none
    return capsule_pen_rate(poses, trans, fps)
