"""Motion ↔ qpos retargeting: exact round trips through MuJoCo's own kinematics, and finite differences."""
import mujoco
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from dance_rl.data import demo
from dance_rl.motion.fk import joints_np
from dance_rl.sim import humanoid as hum
from dance_rl.sim import retarget as rt


@pytest.fixture(scope="module")
def model():
    return hum.humanoid_model()


def _random_motion(T=150, seed=0):
    rng = np.random.default_rng(seed)
    poses = rng.normal(0.0, 0.7, (T, 24, 3))
    poses[:, 0] = (Rotation.from_rotvec(rng.normal(0, 0.5, (T, 3))) * Rotation.from_rotvec([np.pi / 2, 0, 0])) \
        .as_rotvec()
    trans = rng.normal(0.0, 1.0, (T, 3))
    return poses, trans


def _mujoco_joints(model, qpos):
    d = mujoco.MjData(model)
    out = []
    for q in qpos:
        d.qpos[:] = q
        mujoco.mj_kinematics(model, d)
        out.append(d.xpos[hum.BODY_IDS].copy())
    return np.stack(out)


def test_round_trip_through_mujoco_kinematics_is_exact(model):
    poses, trans = _random_motion()
    qpos = rt.motion_to_qpos(poses, trans)
    assert qpos.shape == (150, model.nq)
    err = np.abs(_mujoco_joints(model, qpos) - joints_np(poses, trans)).max()
    assert err < 1e-3  # brief: < 1 mm; in fact exact to float precision
    assert err < 1e-9


def test_real_clip_round_trip(model):
    poses, trans = demo.clip_motion(demo.source_clip("dance_a"), seconds=5.0)
    qpos = rt.motion_to_qpos(poses, trans)
    assert np.abs(_mujoco_joints(model, qpos) - joints_np(poses, trans)).max() < 1e-3
    back_poses, back_trans = rt.qpos_to_motion(qpos)
    assert np.abs(joints_np(back_poses, back_trans) - joints_np(poses, trans)).max() < 1e-4


def test_euler_conversions_invert_each_other_and_match_scipy():
    rng = np.random.default_rng(1)
    e = rng.uniform(-1.5, 1.5, (40, 23, 3))
    m = rt.euler_to_matrix(e)
    for j in (1, 16, 18):  # xzy, zyx, yzx
        ref = Rotation.from_euler(hum.AXIS_ORDER[j].upper(), e[:, j - 1]).as_matrix()
        np.testing.assert_allclose(m[:, j - 1], ref, atol=1e-12)
    np.testing.assert_allclose(rt.matrix_to_euler(m), e, atol=1e-9)
    e[:, :, 1] = np.pi / 2  # gimbal lock: angles not unique, rotation still exact
    m = rt.euler_to_matrix(e)
    np.testing.assert_allclose(rt.euler_to_matrix(rt.matrix_to_euler(m)), m, atol=1e-9)


def test_unwrap_keeps_hinges_continuous():
    poses = np.zeros((60, 24, 3))
    poses[:, 0] = [np.pi / 2, 0, 0]
    poses[:, 4, 0] = np.linspace(0.0, 2.5 * np.pi, 60)  # knee spun past ±π (unphysical, but continuous)
    qpos = rt.motion_to_qpos(poses, np.zeros((60, 3)))
    knee_x = qpos[:, hum.HINGE_QPOS[3 * (4 - 1)]]
    np.testing.assert_allclose(knee_x, poses[:, 4, 0], atol=1e-9)


def test_finite_difference_velocity_and_acceleration(model):
    fps, T = 30.0, 30
    t = np.arange(T) / fps
    poses = np.zeros((T, 24, 3))
    yaw = 1.5 * t  # root turns about world z at 1.5 rad/s
    poses[:, 0] = (Rotation.from_rotvec(np.c_[0 * t, 0 * t, yaw]) * Rotation.from_rotvec([np.pi / 2, 0, 0])).as_rotvec()
    poses[:, 18, 1] = -0.8 * t  # left elbow flexes at 0.8 rad/s (first hinge of "yzx")
    trans = np.c_[0.5 * t, 0 * t, 0.2 * t ** 2]  # x at 0.5 m/s, z accelerating at 0.4 m/s²
    qvel, qacc = rt.velocity_acceleration(model, rt.motion_to_qpos(poses, trans), fps)
    np.testing.assert_allclose(qvel[:, 0], 0.5, atol=1e-9)
    np.testing.assert_allclose(qvel[1:-1, 2], 0.4 * t[1:-1], atol=1e-9)
    # angular velocity is in the root frame: world z is the root's local y after the +90° X rotation
    np.testing.assert_allclose(qvel[:, 3:6], np.tile([0.0, 1.5, 0.0], (T, 1)), atol=1e-9)
    np.testing.assert_allclose(qvel[:, hum.HINGE_DOF[3 * (18 - 1)]], -0.8, atol=1e-9)
    np.testing.assert_allclose(qacc[2:-2, 2], 0.4, atol=1e-6)
    np.testing.assert_allclose(qacc[2:-2, 3:6], 0.0, atol=1e-6)


def test_vectorised_velocity_matches_mj_differentiate_pos(model):
    poses, trans = _random_motion(T=20, seed=3)
    qpos = rt.motion_to_qpos(poses * 0.2, trans * 0.1)  # small steps: a smooth trajectory
    qvel = rt.qpos_velocity(model, qpos, 30.0)
    for t in range(1, 19):
        expected = np.zeros(model.nv)
        mujoco.mj_differentiatePos(model, expected, 2 / 30.0, qpos[t - 1], qpos[t + 1])
        np.testing.assert_allclose(qvel[t], expected, atol=1e-9)


def test_relative_rotvec_matches_scipy():
    q0 = Rotation.random(200, random_state=1)
    q1 = Rotation.random(200, random_state=2)
    wxyz = lambda r: r.as_quat()[..., [3, 0, 1, 2]]
    a, b = wxyz(q0), wxyz(q1)
    b[:3], b[3:6] = a[:3], -a[3:6]  # identical and antipodal quaternions: zero rotation
    b[6] = wxyz(q0[6] * Rotation.from_rotvec([np.pi - 1e-9, 0, 0]))  # almost half a turn
    ref = (Rotation.from_quat(a[:, [1, 2, 3, 0]]).inv() * Rotation.from_quat(b[:, [1, 2, 3, 0]])).as_rotvec()
    np.testing.assert_allclose(rt.relative_rotvec(a, 3.0 * b), ref, atol=1e-9)  # unnormalised input is normalised
    np.testing.assert_allclose(rt.relative_rotvec(a[:6], b[:6]), 0.0, atol=1e-12)
