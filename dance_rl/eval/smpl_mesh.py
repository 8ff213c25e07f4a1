"""SMPL body meshes for mesh-based metrics, from licence-gated model files the user provides (never downloaded).

Looks in ``smpl_dir`` for ``SMPL_NEUTRAL.npz`` (preferred) or ``SMPL_NEUTRAL.pkl`` (Skeleton2Stage evaluates with
the neutral model and zero betas). ``.npz`` is read with ``allow_pickle=False``; ``.pkl`` goes through a restricted
unpickler (``dance_rl.motion.safe_pickle``) that only rebuilds numpy arrays and scipy sparse matrices (chumpy
objects are reduced to their stored array), so a model file can never run code. Skinning is smplx's ``lbs`` function (imported lazily).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dance_rl.errors import UserError
from dance_rl.motion.safe_pickle import safe_load

KEYS = ("v_template", "f", "J_regressor", "weights", "posedirs", "shapedirs", "kintree_table")


class _Stub:
    """Stand-in for chumpy objects: keeps the pickled state (whose ``x`` is the array value)."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.__dict__.update(state if isinstance(state, dict) else {"x": state})


def _extra_globals() -> dict:
    """What an SMPL .pkl needs beyond plain numpy: scipy sparse J_regressor, chumpy arrays (stubbed)."""
    import copyreg

    import scipy.sparse as sp

    extra = {("copyreg", "_reconstructor"): copyreg._reconstructor, ("builtins", "object"): object}
    for mod in ("scipy.sparse.csc", "scipy.sparse._csc"):
        extra[(mod, "csc_matrix")] = sp.csc_matrix
    for mod in ("scipy.sparse.csr", "scipy.sparse._csr"):
        extra[(mod, "csr_matrix")] = sp.csr_matrix
    for mod, name in (("chumpy.ch", "Ch"), ("chumpy.ch_ops", "add"), ("chumpy.ch_ops", "subtract"),
                      ("chumpy.ch_ops", "multiply"), ("chumpy.reordering", "transpose"),
                      ("chumpy.reordering", "Select")):
        extra[(mod, name)] = _Stub
    return extra


def _to_array(v, key: str, path: Path) -> np.ndarray:
    if hasattr(v, "toarray"):
        v = v.toarray()
    if isinstance(v, _Stub):
        v = v.__dict__.get("x", None)
    if v is None or (isinstance(v, np.ndarray) and v.dtype == object):
        raise UserError(f"{path}: field '{key}' is not a plain array; convert the model to .npz "
                        "(np.savez with v_template, f, J_regressor, weights, posedirs, shapedirs, kintree_table)")
    return np.asarray(v)


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
    """The model file in ``smpl_dir`` (npz preferred), or None when the folder/file is absent."""
    if not smpl_dir:
        return None
    d = Path(smpl_dir)
    for ext in ("npz", "pkl"):
        p = d / f"SMPL_{gender.upper()}.{ext}"
        if p.is_file():
            return p
    return None


def load_smpl_model(path: str | Path) -> SMPLModel:
    path = Path(path)
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                raw = {k: z[k] for k in KEYS if k in z.files}
        else:
            raw = safe_load(path, extra_allowed=_extra_globals())
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: cannot read SMPL model ({e}); pass a valid SMPL_NEUTRAL.npz/.pkl") from None
    missing = [k for k in KEYS if k not in raw]
    if missing:
        raise UserError(f"{path}: SMPL model lacks {missing}; use the official SMPL model file")
    a = {k: _to_array(raw[k], k, path) for k in KEYS}
    parents = a["kintree_table"][0].astype(np.int64).copy()
    parents[0] = -1
    if a["J_regressor"].shape[0] != 24 or a["weights"].shape[1] != 24:
        raise UserError(f"{path}: expected a 24-joint SMPL model, got J_regressor {a['J_regressor'].shape}")
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
