"""Optional SMPL mesh: clear errors without model files; a real-sized fake model (npz and official-style pkl)."""
from __future__ import annotations

import pickle
import sys
import types

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from dance_rl.errors import UserError
from dance_rl.motion.io import Motion
from dance_rl.motion.rotations import axis_angle_to_matrix
from dance_rl.motion.skeleton import PARENTS
from dance_rl.motion.smpl_mesh import find_model_file, load_model_data, smpl_vertices

NV, NF = 6890, 13776  # smplx selects extra joints by SMPL vertex ids, so the fake model has SMPL's real size


def _fake_model(rng):
    v = rng.normal(0, 0.3, (NV, 3))
    j_reg = np.zeros((24, NV))
    for j in range(24):
        j_reg[j, rng.choice(NV, 4, replace=False)] = 0.25
    weights = np.zeros((NV, 24))
    weights[:, 0] = 1.0  # every vertex rides on the pelvis: the mesh moves rigidly, which we can hand-compute
    kintree = np.array([[4294967295] + list(PARENTS[1:]), list(range(24))], dtype=np.int64)
    return dict(v_template=v, shapedirs=np.zeros((NV, 3, 10)), posedirs=np.zeros((NV, 3, 207), dtype=np.float32),
                J_regressor=j_reg, weights=weights, kintree_table=kintree,
                f=rng.integers(0, NV, (NF, 3)).astype(np.uint32))


def _register_fake_chumpy():
    """A class pickled under chumpy's name and state layout (Ch.__getstate__: __dict__ with 'x', minus caches)."""
    mod = types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x):
            self.x = np.asarray(x, dtype=np.float64)
            self._dirty_vars = set()
            self._itr = None

        def __getstate__(self):
            return dict(self.__dict__)

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    mod.Ch = Ch
    sys.modules.setdefault("chumpy", types.ModuleType("chumpy"))
    sys.modules["chumpy.ch"] = mod
    return Ch


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    rng = np.random.default_rng(1)
    data = _fake_model(rng)
    npz_dir = tmp_path_factory.mktemp("smpl_npz")
    np.savez(npz_dir / "SMPL_NEUTRAL.npz", **data)
    # Official-style pkl: chumpy arrays for the dense fields, a scipy CSC matrix for J_regressor, protocol 2.
    Ch = _register_fake_chumpy()
    try:
        official = dict(data, v_template=Ch(data["v_template"]), shapedirs=Ch(data["shapedirs"]),
                        posedirs=Ch(data["posedirs"]), J_regressor=sp.csc_matrix(data["J_regressor"]),
                        bs_style="lbs", bs_type="lrotmin")
        pkl_dir = tmp_path_factory.mktemp("smpl_pkl")
        with open(pkl_dir / "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl", "wb") as f:
            pickle.dump(official, f, protocol=2)
    finally:
        sys.modules.pop("chumpy.ch", None)
        sys.modules.pop("chumpy", None)
    return data, npz_dir, pkl_dir


def _motion(rng, t=4):
    poses = rng.normal(0, 0.5, (t, 24, 3)).astype(np.float32)
    return Motion(poses, rng.normal(0, 1, (t, 3)).astype(np.float32), 30.0)


def test_missing_model_files_give_clear_errors(tmp_path, rng):
    with pytest.raises(UserError, match="--smpl-dir"):
        smpl_vertices(_motion(rng), None)
    with pytest.raises(UserError, match="does not exist.*--smpl-dir"):
        find_model_file(tmp_path / "nowhere")
    with pytest.raises(UserError, match="SMPL_NEUTRAL.pkl/.npz"):
        find_model_file(tmp_path)
    with pytest.raises(UserError, match="gender"):
        find_model_file(tmp_path, gender="other")
    np.savez(tmp_path / "bad.npz", v_template=np.zeros((3, 3)))
    with pytest.raises(UserError, match="missing shapedirs"):
        load_model_data(tmp_path / "bad.npz")


def test_mesh_is_rigid_root_transform_with_pelvis_at_trans(model_dirs, rng):
    data, npz_dir, _ = model_dirs
    m = _motion(rng)
    verts, faces = smpl_vertices(m, npz_dir)
    assert verts.shape == (4, NV, 3) and verts.dtype == np.float32
    np.testing.assert_array_equal(faces, data["f"].astype(np.int64))
    # All skinning weight on the pelvis: v = R_root (v_rest - pelvis) + trans, pelvis = J_regressor[0] · v_rest.
    pelvis = data["J_regressor"][0] @ data["v_template"]
    r = axis_angle_to_matrix(torch.from_numpy(m.poses[:, 0]).double()).numpy()
    expected = np.einsum("tij,vj->tvi", r, data["v_template"] - pelvis) + m.trans[:, None]
    np.testing.assert_allclose(verts, expected, atol=1e-4)


def test_official_pickle_layout_matches_npz(model_dirs, rng):
    data, npz_dir, pkl_dir = model_dirs
    loaded = load_model_data(find_model_file(pkl_dir))
    for k in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights"):
        np.testing.assert_allclose(loaded[k], data[k], err_msg=k)
    m = _motion(rng, t=3)
    np.testing.assert_allclose(smpl_vertices(m, pkl_dir)[0], smpl_vertices(m, npz_dir)[0], atol=1e-5)


def test_malicious_model_pickle_is_refused(tmp_path):
    import os

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    with open(tmp_path / "SMPL_NEUTRAL.pkl", "wb") as f:
        pickle.dump({"v_template": Evil()}, f, protocol=2)
    with pytest.raises(UserError, match="refusing"):
        load_model_data(find_model_file(tmp_path))
    assert not (tmp_path / "pwned").exists()
