"""Interchange .npz, AIST++/EDGE pkl import-export (EDGE preprocessing, hand-computed), load_any, resample."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from dance_rl.errors import UserError
from dance_rl.motion.fk import joints_np
from dance_rl.motion.io import (
    Motion,
    load_any,
    load_motion,
    resample,
    resolve_audio,
    save_any,
    save_edge_pkl,
    save_motion,
    validate_motion,
)
from dance_rl.motion.rotations import axis_angle_to_matrix

RX90 = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])  # +90° about X (y-up → z-up)


def _motion(rng, t=12, fps=30.0, **kw):
    poses = rng.normal(0, 0.4, (t, 24, 3)).astype(np.float32)
    poses[:, 0] = [np.pi / 2, 0, 0]
    trans = rng.normal(0, 1, (t, 3)).astype(np.float32)
    return Motion(poses, trans, fps, **kw)


def _rotmat(aa):
    return axis_angle_to_matrix(torch.as_tensor(np.asarray(aa), dtype=torch.float64)).numpy()


def test_npz_round_trip_with_optional_fields(tmp_path, rng):
    m = _motion(rng, joints=rng.normal(size=(12, 24, 3)), contacts=(rng.random((12, 4)) > 0.5), audio="music/mBR0.wav")
    path = save_motion(m, tmp_path / "a.npz")
    back = load_motion(path)
    np.testing.assert_array_equal(back.poses, m.poses)
    np.testing.assert_array_equal(back.trans, m.trans)
    np.testing.assert_allclose(back.joints, m.joints.astype(np.float32))
    np.testing.assert_array_equal(back.contacts, m.contacts.astype(np.float32))
    assert back.fps == 30.0 and back.audio == "music/mBR0.wav" and back.poses.dtype == np.float32
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz"]  # no temp files left
    minimal = load_motion(save_motion(_motion(rng), tmp_path / "b.npz"))
    assert minimal.joints is None and minimal.contacts is None and minimal.audio is None
    assert resolve_audio(back, path) == tmp_path.resolve() / "music" / "mBR0.wav"
    assert resolve_audio(minimal, path) is None


@pytest.mark.parametrize("bad, match", [
    (dict(poses=np.zeros((5, 23, 3))), "poses must have shape"),
    (dict(trans=np.zeros((4, 3))), "trans must have shape"),
    (dict(fps=0.0), "fps must be > 0"),
    (dict(fps=float("nan")), "fps must be > 0"),
    (dict(joints=np.zeros((5, 24, 2))), "joints must have shape"),
    (dict(contacts=np.zeros((5, 3))), "contacts must have shape"),
])
def test_validation_names_the_file(tmp_path, bad, match):
    fields = dict(poses=np.zeros((5, 24, 3)), trans=np.zeros((5, 3)), fps=30.0)
    fields.update(bad)
    with pytest.raises(UserError, match=match) as e:
        save_motion(Motion(**fields), tmp_path / "x.npz")
    assert "x.npz" in str(e.value)
    assert not list(tmp_path.iterdir())  # nothing written


def test_load_rejects_bad_files(tmp_path):
    poses = np.zeros((3, 24, 3))
    poses[1, 4, 0] = np.nan
    np.savez(tmp_path / "nan.npz", poses=poses, trans=np.zeros((3, 3)), fps=30.0)
    with pytest.raises(UserError, match=r"nan\.npz: poses has 1 NaN"):
        load_motion(tmp_path / "nan.npz")
    np.savez(tmp_path / "nofps.npz", poses=np.zeros((3, 24, 3)), trans=np.zeros((3, 3)))
    with pytest.raises(UserError, match="missing fps"):
        load_motion(tmp_path / "nofps.npz")
    np.savez(tmp_path / "obj.npz", poses=np.array([None, 1], dtype=object), trans=np.zeros((3, 3)), fps=30.0)
    with pytest.raises(UserError, match="obj.npz"):
        load_motion(tmp_path / "obj.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(UserError, match="junk.npz"):
        load_motion(tmp_path / "junk.npz")
    with pytest.raises(UserError, match="not found"):
        load_motion(tmp_path / "missing.npz")
    with pytest.raises(UserError, match="unknown motion file type"):
        load_any(tmp_path / "a.fbx")


def _aist_dict(rng, frames=8, scaling=2.5):
    poses = rng.normal(0, 0.3, (frames, 72))
    trans = rng.normal(0, 1, (frames, 3)) * scaling
    return {"smpl_poses": poses, "smpl_trans": trans, "smpl_scaling": np.array([scaling]), "smpl_loss": 0.1}


def test_aistpp_import_hand_computed(tmp_path, rng):
    # Root orientation identity in the y-up source → exactly +90° about X in the z-up world.
    d = _aist_dict(rng, frames=6, scaling=2.0)
    d["smpl_poses"][:, :3] = 0.0
    d["smpl_trans"][:] = np.arange(18.0).reshape(6, 3)
    with open(tmp_path / "seq.pkl", "wb") as f:
        pickle.dump(d, f, protocol=4)
    m = load_any(tmp_path / "seq.pkl")
    assert m.fps == 30.0 and m.num_frames == 3  # 60 fps, stride 2: source frames 0, 2, 4
    np.testing.assert_allclose(m.poses[:, 0], np.tile([np.pi / 2, 0, 0], (3, 1)), atol=1e-6)
    src = np.arange(18.0).reshape(6, 3)[::2] / 2.0  # unscaled
    np.testing.assert_allclose(m.trans, np.stack([src[:, 0], -src[:, 2], src[:, 1]], -1), atol=1e-5)
    np.testing.assert_allclose(m.poses[:, 1:], d["smpl_poses"][::2].reshape(3, 24, 3)[:, 1:], atol=1e-7)


def test_aistpp_import_rotates_the_whole_body(tmp_path, rng):
    """Every joint in the z-up world = R_x(+90°) · the y-up joint (FK of the unscaled source), frame by frame."""
    d = _aist_dict(rng, frames=10)
    with open(tmp_path / "seq.pkl", "wb") as f:
        pickle.dump(d, f, protocol=2)
    m = load_any(tmp_path / "seq.pkl")
    yup = joints_np(d["smpl_poses"][::2].reshape(-1, 24, 3), d["smpl_trans"][::2] / 2.5)
    np.testing.assert_allclose(m.fk_joints(), yup @ RX90.T, atol=2e-5)
    # The root rotation itself is R_x90 · R_src.
    np.testing.assert_allclose(_rotmat(m.poses[:, 0]), RX90 @ _rotmat(d["smpl_poses"][::2, :3]), atol=1e-5)


def test_aistpp_bad_content(tmp_path, rng):
    d = _aist_dict(rng)
    d["smpl_scaling"] = np.array([0.0])
    with open(tmp_path / "s.pkl", "wb") as f:
        pickle.dump(d, f)
    with pytest.raises(UserError, match="smpl_scaling"):
        load_any(tmp_path / "s.pkl")
    with open(tmp_path / "l.pkl", "wb") as f:
        pickle.dump([1, 2], f)
    with pytest.raises(UserError, match="expected a dict"):
        load_any(tmp_path / "l.pkl")


def test_edge_pkl_round_trip(tmp_path, rng):
    m = _motion(rng, t=7)
    path = save_edge_pkl(m, tmp_path / "edge.pkl")
    with open(path, "rb") as f:
        raw = pickle.load(f)  # our own file: plain pickle is fine here
    assert raw["smpl_poses"].shape == (7, 72) and raw["smpl_trans"].shape == (7, 3)
    np.testing.assert_allclose(raw["full_pose"], joints_np(m.poses, m.trans), atol=1e-5)  # FK when joints absent
    back = load_any(path)
    np.testing.assert_array_equal(back.poses, m.poses)
    np.testing.assert_array_equal(back.trans, m.trans)
    np.testing.assert_allclose(back.joints, raw["full_pose"])
    assert back.fps == 30.0


def test_save_any_dispatch(tmp_path, rng):
    m = _motion(rng, t=4)
    for ext in ("npz", "pkl", "bvh"):
        back = load_any(save_any(m, tmp_path / f"m.{ext}"))
        np.testing.assert_allclose(back.fk_joints(), m.fk_joints(), atol=1e-4)


def test_resample_integer_ratio_is_exact_stride(rng):
    m = _motion(rng, t=9, fps=60.0, joints=rng.normal(size=(9, 24, 3)), contacts=np.eye(9, 4))
    r = resample(m, 30.0)
    assert r.num_frames == 5 and r.fps == 30.0
    np.testing.assert_allclose(_rotmat(r.poses), _rotmat(m.poses[::2]), atol=1e-5)
    np.testing.assert_allclose(r.trans, m.trans[::2], atol=1e-6)
    np.testing.assert_allclose(r.joints, m.joints[::2], atol=1e-6)
    np.testing.assert_array_equal(r.contacts, m.contacts[::2])


def test_resample_midpoints_slerp_and_lerp():
    poses = np.zeros((2, 24, 3), dtype=np.float32)
    poses[1, 5] = [0, 0, 1.2]  # 1.2 rad about z; midpoint = 0.6 rad
    trans = np.array([[0, 0, 0], [2, 4, 6]], dtype=np.float32)
    r = resample(Motion(poses, trans, 30.0), 60.0)
    assert r.num_frames == 3
    np.testing.assert_allclose(r.poses[1, 5], [0, 0, 0.6], atol=1e-6)
    np.testing.assert_allclose(r.trans[1], [1, 2, 3], atol=1e-6)
    np.testing.assert_allclose(r.poses[2], poses[1], atol=1e-6)


def test_resample_non_integer_ratio_length(rng):
    m = _motion(rng, t=31)  # 1 s at 30 fps
    assert resample(m, 25.0).num_frames == 26
    with pytest.raises(UserError):
        resample(m, 0.0)


def test_validate_accepts_flat_poses():
    m = validate_motion(Motion(np.zeros((3, 72)), np.zeros((3, 3)), 30))
    assert m.poses.shape == (3, 24, 3) and m.fps == 30.0


def test_atomic_writes_have_normal_permissions_and_leave_nothing_on_failure(tmp_path):
    import os

    from dance_rl.fileio import atomic_write

    mask = os.umask(0o022)
    try:
        out = atomic_write(tmp_path / "a.txt", lambda f: f.write(b"x"))
        assert out.read_bytes() == b"x" and (out.stat().st_mode & 0o777) == 0o644  # not mkstemp's 0600

        def fail(f):
            f.write(b"partial")
            raise RuntimeError("boom")
        with pytest.raises(RuntimeError):
            atomic_write(tmp_path / "b.txt", fail)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    finally:
        os.umask(mask)


def test_atomic_dir_replaces_a_folder_whole_or_not_at_all(tmp_path):
    from dance_rl.fileio import atomic_dir

    out = tmp_path / "corpus"
    with atomic_dir(out) as tmp:
        (tmp / "a.npz").write_bytes(b"1")
    with pytest.raises(RuntimeError):
        with atomic_dir(out) as tmp:
            (tmp / "b.npz").write_bytes(b"2")
            raise RuntimeError("boom")
    assert sorted(p.name for p in out.iterdir()) == ["a.npz"]  # the failed build changed nothing
    with atomic_dir(out) as tmp:
        (tmp / "c.npz").write_bytes(b"3")
    assert sorted(p.name for p in out.iterdir()) == ["c.npz"]  # the old folder is gone, not merged
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]  # no temp folders left behind
