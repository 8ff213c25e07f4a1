"""Optional SMPL body mesh for a motion (needs the licence-gated SMPL model files and the ``smplx`` package).

SMPL files cannot be shipped (non-commercial licence, registration at https://smpl.is.tue.mpg.de). Users put them in a
folder and pass it as ``--smpl-dir``/``model_path``. Accepted: ``SMPL_{NEUTRAL,MALE,FEMALE}.{pkl,npz}`` (smplx naming)
or the official ``basicModel_neutral_lbs_10_207_0_v1.0.0.pkl`` / ``basicmodel_{m,f}_lbs_10_207_0_v1.0.0.pkl``.

The model file is read here (not by smplx, whose loader calls ``pickle.load``): ``.npz`` without pickle, ``.pkl``
with the restricted unpickler, where chumpy arrays and scipy sparse matrices (as in the official files) are rebuilt
from their stored numpy arrays by stand-in classes, so no chumpy install and no code execution is needed.

Placement: the mesh is translated so that its pelvis joint coincides with the motion's root position ``trans`` (the
skeleton's joint 0), so meshes and the skeleton-space rewards agree; smplx's ``transl`` is therefore
``trans - J_pelvis(betas)``.
"""
from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import numpy as np
import torch

from dance_rl.errors import UserError
from dance_rl.motion.io import Motion, validate_motion
from dance_rl.motion.safe_pickle import safe_load

GENDERS = ("neutral", "male", "female")
NUM_VERTS = 6890
_OFFICIAL_NAMES = {
    "neutral": "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl",
    "male": "basicmodel_m_lbs_10_207_0_v1.0.0.pkl",
    "female": "basicModel_f_lbs_10_207_0_v1.0.0.pkl",
}
REQUIRED_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")
HELP = ("download SMPL from https://smpl.is.tue.mpg.de (registration, non-commercial licence) and pass the folder "
        "holding SMPL_NEUTRAL.pkl (or .npz) with --smpl-dir")


class _PickledState:
    """Stand-in for a pickled object of a foreign class: records the state dict and nothing else."""

    def __setstate__(self, state):
        self.state = state if isinstance(state, dict) else {"_raw": state}


class _ChumpyArray(_PickledState):
    def to_numpy(self) -> np.ndarray:
        x = self.state.get("x")
        if not isinstance(x, np.ndarray):
            raise ValueError("chumpy object without a plain 'x' array")
        return x


class _SparseMatrix(_PickledState):
    def to_numpy(self) -> np.ndarray:
        import scipy.sparse as sp

        s = self.state
        shape = tuple(s.get("_shape") or s.get("shape"))
        fmt = s.get("format") or type(self).fmt
        if fmt == "coo":
            return sp.coo_matrix((s["data"], (s["row"], s["col"])), shape=shape).toarray()
        ctor = sp.csc_matrix if fmt == "csc" else sp.csr_matrix
        return ctor((s["data"], s["indices"], s["indptr"]), shape=shape).toarray()


def _sparse_cls(fmt: str) -> type:
    return type(f"_Sparse_{fmt}", (_SparseMatrix,), {"fmt": fmt})


def _safe_reconstructor(cls, base, state):
    """Protocol-0/1 object pickles go through ``copyreg._reconstructor``; allow it only for our stand-ins."""
    if not (isinstance(cls, type) and issubclass(cls, _PickledState)):
        raise UserError(f"refusing to reconstruct {cls!r} from an SMPL model file")
    return cls.__new__(cls)


def _smpl_pickle_globals() -> dict:
    table = {("chumpy.ch", "Ch"): _ChumpyArray, ("copyreg", "_reconstructor"): _safe_reconstructor}
    for fmt in ("csc", "csr", "coo"):
        cls = _sparse_cls(fmt)
        for mod in (f"scipy.sparse.{fmt}", f"scipy.sparse._{fmt}"):
            table[(mod, f"{fmt}_matrix")] = cls
    return table


def find_model_file(model_path: str | os.PathLike | None, gender: str = "neutral") -> Path:
    """Resolve a model file from a file path or a folder (also its ``smpl/`` subfolder); missing → UserError."""
    if gender not in GENDERS:
        raise UserError(f"gender: {gender!r} is not one of {', '.join(GENDERS)}")
    if model_path is None or str(model_path) == "":
        raise UserError(f"SMPL model: no model folder given; {HELP}")
    p = Path(model_path).expanduser()
    if p.is_file():
        return p
    if p.is_dir():
        for folder in (p, p / "smpl"):
            for name in (f"SMPL_{gender.upper()}.pkl", f"SMPL_{gender.upper()}.npz", _OFFICIAL_NAMES[gender]):
                if (folder / name).is_file():
                    return folder / name
        raise UserError(f"{p}: no SMPL {gender} model (SMPL_{gender.upper()}.pkl/.npz or {_OFFICIAL_NAMES[gender]}) "
                        f"in this folder; {HELP}")
    raise UserError(f"{p}: SMPL model path does not exist; {HELP}")


def load_model_data(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays smplx needs, from a ``.npz`` or ``.pkl`` SMPL file, all plain numpy (sparse → dense)."""
    path = Path(path)
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as z:
                raw = {k: z[k] for k in z.files}
        except Exception as e:  # noqa: BLE001
            raise UserError(f"{path}: cannot read SMPL .npz ({type(e).__name__}: {e}); {HELP}") from None
    else:
        raw = safe_load(path, extra_allowed=_smpl_pickle_globals())
        if not isinstance(raw, dict):
            raise UserError(f"{path}: not an SMPL model file (expected a dict, got {type(raw).__name__}); {HELP}")
    missing = [k for k in REQUIRED_KEYS if k not in raw]
    if missing:
        raise UserError(f"{path}: not an SMPL model file (missing {', '.join(missing)}); {HELP}")
    out = {}
    for k in REQUIRED_KEYS:
        v = raw[k]
        try:
            out[k] = v.to_numpy() if isinstance(v, _PickledState) else np.asarray(v)
        except (ValueError, KeyError, TypeError) as e:
            raise UserError(f"{path}: cannot rebuild '{k}' ({e}); convert the file to plain numpy arrays (.npz)") \
                from None
    nv = out["v_template"].shape[0]
    if out["v_template"].shape != (nv, 3) or out["J_regressor"].shape != (24, nv) or out["weights"].shape != (nv, 24):
        raise UserError(f"{path}: unexpected SMPL array shapes (v_template {out['v_template'].shape}, J_regressor "
                        f"{out['J_regressor'].shape}, weights {out['weights'].shape}); is this SMPL (not SMPL-X)?")
    return out


class _Struct:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def build_smpl(model_path, gender: str = "neutral", num_betas: int = 10):
    """An ``smplx.SMPL`` module built from the safely loaded model data."""
    try:
        import smplx
    except ImportError:
        raise UserError("smplx: package not installed; pip install smplx to render SMPL meshes") from None
    data = load_model_data(find_model_file(model_path, gender))
    with contextlib.redirect_stdout(io.StringIO()):  # smplx prints a warning for 10-beta models
        return smplx.SMPL(model_path=str(model_path), data_struct=_Struct(**data), gender=gender, num_betas=num_betas)


def smpl_vertices(motion: Motion, model_path, gender: str = "neutral", betas: np.ndarray | None = None,
                  chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Mesh vertices (T, 6890, 3) float32 in the z-up world, and faces (F, 3) int64.

    The pelvis joint of the mesh is placed at ``motion.trans`` (see module docstring); ``betas`` (10,) default 0.
    """
    motion = validate_motion(motion, "motion")
    model = build_smpl(model_path, gender)
    b = torch.zeros(1, model.num_betas) if betas is None else torch.as_tensor(betas, dtype=torch.float32).reshape(1, -1)
    if b.shape[1] != model.num_betas:
        raise UserError(f"betas: expected {model.num_betas} shape coefficients, got {b.shape[1]}")
    poses = torch.from_numpy(motion.poses)
    trans = torch.from_numpy(motion.trans)
    out = []
    with torch.no_grad():
        # Pelvis of the rest mesh for these betas: rotation about it leaves it in place, so transl = trans - pelvis.
        rest_verts = model.v_template + torch.einsum("vck,bk->bvc", model.shapedirs, b)[0]
        pelvis = model.J_regressor[0] @ rest_verts
        for s in range(0, motion.num_frames, chunk):
            p = poses[s:s + chunk]
            n = p.shape[0]
            res = model(betas=b.expand(n, -1), global_orient=p[:, 0], body_pose=p[:, 1:].reshape(n, -1),
                        transl=trans[s:s + chunk] - pelvis)
            out.append(res.vertices)
    return torch.cat(out).numpy().astype(np.float32), np.asarray(model.faces, dtype=np.int64)
