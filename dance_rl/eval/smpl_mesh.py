"""SMPL body meshes for mesh-based metrics, from licence-gated model files the user provides (never downloaded).

Finding and reading the file is `dance_rl.motion.smpl_mesh`'s (one loader: ``.npz`` with ``allow_pickle=False``,
``.pkl`` through the restricted unpickler, so a model file can never run code); Skeleton2Stage evaluates with the
neutral model and zero betas. Skinning is smplx's ``lbs`` function (imported lazily).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dance_rl.errors import UserError
from dance_rl.motion.smpl_mesh import find_model_file, load_model_data


@dataclass
class SMPLModel:
    v_template: np.ndarray  # (V,3)
    faces: np.ndarray  # (F,3) int
    J_regressor: np.ndarray  # (24,V)
    weights: np.ndarray  # (V,24)
    posedirs: np.ndarray  # (V,3,207)
    shapedirs: np.ndarray  # (V,3,B)
    parents: np.ndarray  # (24,)


def find_smpl_file(smpl_dir: str | Path | None, gender: str = "neutral") -> Path | None:
    """The model file in ``smpl_dir`` (see `dance_rl.motion.smpl_mesh.find_model_file`), or None when there is none:
    mesh metrics are optional, the capsule fallback is used then."""
    if not smpl_dir:
        return None
    try:
        return find_model_file(smpl_dir, gender)
    except UserError:
        return None


def load_smpl_model(path: str | Path) -> SMPLModel:
    """The arrays of an SMPL file (.npz, or .pkl through the restricted unpickler shared with motion/smpl_mesh.py)."""
    a = load_model_data(path)
    parents = np.asarray(a["kintree_table"])[0].astype(np.int64).copy()
    parents[0] = -1
    return SMPLModel(a["v_template"].astype(np.float64), a["f"].astype(np.int64), a["J_regressor"].astype(np.float64),
                     a["weights"].astype(np.float64), a["posedirs"].astype(np.float64),
                     a["shapedirs"].astype(np.float64), parents)


def smpl_vertices(model: SMPLModel, poses: np.ndarray, trans: np.ndarray, batch: int = 128) -> np.ndarray:
    """(T,24,3) axis-angle poses + (T,3) root positions -> (T,V,3) vertices, zero betas.

    The mesh is shifted so its pelvis joint sits at ``trans`` (dance_rl's FK puts the root there); self-penetration
    does not depend on this shift.
    """
    import torch
    from smplx.lbs import lbs

    poses = np.asarray(poses, dtype=np.float64).reshape(len(poses), -1)
    trans = np.asarray(trans, dtype=np.float64)
    t = lambda x: torch.as_tensor(x, dtype=torch.float64)  # noqa: E731
    nb = model.shapedirs.shape[-1]
    posedirs = t(model.posedirs.reshape(-1, model.posedirs.shape[-1]).T)
    out = []
    with torch.no_grad():
        for s in range(0, len(poses), batch):
            p = t(poses[s:s + batch])
            v, j = lbs(torch.zeros(len(p), nb, dtype=torch.float64), p, t(model.v_template), t(model.shapedirs),
                       posedirs, t(model.J_regressor), torch.as_tensor(model.parents), t(model.weights))
            out.append((v - j[:, :1] + t(trans[s:s + batch])[:, None]).numpy())
    return np.concatenate(out) if out else np.zeros((0, len(model.v_template), 3))
