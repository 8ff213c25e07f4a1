"""FineDance .npy and PopDanceSet .pkl layouts written by the test from a known SMPL motion import back to it."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from dance_rl.errors import UserError
from dance_rl.motion.fk import joints_np
from dance_rl.motion.io import load_any
from dance_rl.motion.skeleton import UPRIGHT_ROOT_AA

RX = lambda deg: Rotation.from_euler("x", deg, degrees=True)  # noqa: E731


def _known(rng, t=45):
    """Upright z-up SMPL motion (hands unrotated: FineDance carries no SMPL hand joints)."""
    poses = rng.normal(0, 0.25, (t, 24, 3))
    poses[:, 22:] = 0.0
    yaw = Rotation.from_euler("z", np.linspace(0, 2.0, t)[:, None])
    poses[:, 0] = (yaw * Rotation.from_rotvec(UPRIGHT_ROOT_AA) * Rotation.from_rotvec(poses[:, 0] * 0.3)).as_rotvec()
    trans = np.stack([np.linspace(0, 1, t), np.sin(np.linspace(0, 3, t)), np.full(t, 0.95)], -1)
    return poses, trans


def _to_frame(poses, trans, rot: Rotation):
    """The same motion expressed in another world frame (file = rot · ours)."""
    p = poses.copy()
    p[:, 0] = (rot * Rotation.from_rotvec(poses[:, 0])).as_rotvec()
    return p, rot.apply(trans)


def _same_up_to_ground(back, poses, trans):
    j0, j1 = joints_np(poses, trans), joints_np(back.poses, back.trans)
    np.testing.assert_allclose(j1 - j1[:1, :1], j0 - j0[:1, :1], atol=1e-4)
    assert abs(j1[..., 2].min(-1).min()) < 0.05  # grounded: the lowest joint is near z = 0
    assert back.fps == 30.0 and back.num_frames == len(poses)


@pytest.mark.parametrize("contacts", [False, True])
def test_finedance_layout_imports(tmp_path, rng, contacts):
    poses, trans = _known(rng)
    fp, ft = _to_frame(poses, trans, RX(-90))  # FineDance files are y-up
    mats = Rotation.from_rotvec(fp.reshape(-1, 3)).as_matrix().reshape(len(fp), 24, 3, 3)
    rot6d = np.zeros((len(fp), 52, 6))
    rot6d[:, :, [0, 4]] = 1.0  # identity for SMPL-H finger joints
    rot6d[:, :22] = mats[:, :22, :2, :].reshape(len(fp), 22, 6)  # first two rows
    arr = np.concatenate([ft, rot6d.reshape(len(fp), -1)], 1)
    if contacts:
        arr = np.concatenate([np.zeros((len(fp), 4)), arr], 1)
    assert arr.shape[1] == (319 if contacts else 315)
    np.save(tmp_path / "001.npy", arr.astype(np.float32))
    _same_up_to_ground(load_any(tmp_path / "001.npy"), poses, trans)


def test_popdanceset_layout_imports(tmp_path, rng):
    poses, trans = _known(rng)
    fp, ft = _to_frame(poses, trans, RX(90))  # HybrIK camera space: y down
    data = {"pos": (ft / 2.0).astype(np.float32), "q": fp.reshape(len(fp), 72).astype(np.float32), "scale": 2.0}
    with open(tmp_path / "pop.pkl", "wb") as f:
        pickle.dump(data, f)
    _same_up_to_ground(load_any(tmp_path / "pop.pkl"), poses, trans)


def test_bad_layouts(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((10, 200)))
    with pytest.raises(UserError, match="FineDance array"):
        load_any(tmp_path / "a.npy")
    np.save(tmp_path / "o.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(UserError, match="not a readable .npy"):
        load_any(tmp_path / "o.npy")
    with open(tmp_path / "p.pkl", "wb") as f:
        pickle.dump({"pos": np.zeros((5, 3)), "q": np.zeros((5, 10))}, f)
    with pytest.raises(UserError, match="q \\(T,72\\)"):
        load_any(tmp_path / "p.pkl")
