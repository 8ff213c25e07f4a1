"""The MuJoCo humanoid: structure, mass, rest pose on the floor, self-collision filtering, optional SMPL sizing."""
import mujoco
import numpy as np
import pytest

from dance_rl.errors import UserError
from dance_rl.motion.skeleton import JOINT_NAMES, OFFSETS, PARENTS, rest_joint_positions
from dance_rl.sim import humanoid as hum
from dance_rl.sim.dynamics import self_collisions
from dance_rl.sim.retarget import motion_to_qpos


@pytest.fixture(scope="module")
def model():
    return hum.humanoid_model()


def test_structure_and_mass(model):
    assert model.nbody == 25  # world + 24 SMPL joints
    types = list(model.jnt_type)
    assert types.count(mujoco.mjtJoint.mjJNT_FREE) == 1 and types.count(mujoco.mjtJoint.mjJNT_HINGE) == 69
    assert (model.nq, model.nv, model.nu) == (76, 75, 69)
    assert hum.body_mass(model) == pytest.approx(70.0, abs=1e-6)
    hum.check_layout(model)  # BODY_IDS / HINGE_QPOS agree with MuJoCo's depth-first numbering
    assert model.body(JOINT_NAMES[18]).id == hum.BODY_IDS[18]
    # de Leva: a thigh is 14.16 % of body mass; the head body carries head+neck minus the 1 % neck body
    assert model.body_mass[hum.BODY_IDS[1]] == pytest.approx(0.1416 * 70.0)
    assert model.body_mass[hum.BODY_IDS[15]] == pytest.approx(0.0594 * 70.0)


def test_actuators_carry_torque_limits_and_pd(model):
    knee = [i for i in range(model.nu) if model.actuator(i).name.startswith("lknee")]
    assert len(knee) == 3 and all(model.actuator_gear[i, 0] == 300.0 for i in knee)  # PhyMotion table
    assert hum.torque_limits()[3 * (4 - 1)] == 300.0 and hum.torque_limits()[3 * (20 - 1)] == 50.0
    # PD through the servo: torque = kp (ctrl - q) - kv qdot, clamped at the limit
    d = mujoco.MjData(model)
    i = knee[0]
    d.ctrl[i] = 0.1
    mujoco.mj_forward(model, d)
    kp = hum.PD_KP["Knee"]  # kp_scale 1
    assert d.actuator_force[i] * model.actuator_gear[i, 0] == pytest.approx(kp * 0.1)
    d.ctrl[i] = 10.0
    mujoco.mj_forward(model, d)
    assert d.actuator_force[i] * model.actuator_gear[i, 0] == pytest.approx(300.0)


def test_rest_pose_stands_on_the_floor(model):
    d = mujoco.MjData(model)
    mujoco.mj_kinematics(model, d)
    joints = d.xpos[hum.BODY_IDS]
    rest = rest_joint_positions()
    # body frames = SMPL joint frames: the upright rest pose is the y-up skeleton turned +90° about X
    expected = np.stack([rest[:, 0], -rest[:, 2], rest[:, 1]], 1) + joints[0]
    np.testing.assert_allclose(joints, expected, atol=1e-6)
    assert min(joints[10, 2], joints[11, 2]) == pytest.approx(0.0, abs=1e-9)  # lowest joint on the floor
    assert joints[15, 2] > 1.5
    sole = np.array([d.xpos[hum.BODY_IDS[j]] + d.xmat[hum.BODY_IDS[j]].reshape(3, 3) @ p
                     for j, p in hum.sole_points()])
    np.testing.assert_allclose(sole[:, 2], 0.0, atol=0.003)


def test_joint_ranges_mirror_and_contain_rest():
    rng = hum.joint_ranges()
    assert rng.shape == (69, 2) and (rng[:, 0] < 0).all() and (rng[:, 1] > 0).all()  # rest pose (0) inside
    left, right = 3 * (18 - 1), 3 * (19 - 1)  # elbows, order y z x
    assert hum.AXIS_ORDER[18] == "yzx"
    np.testing.assert_allclose(rng[left], -rng[right][::-1])  # y mirrored
    np.testing.assert_allclose(rng[left + 2], rng[right + 2])  # x (twist) unchanged


def test_self_collision_only_between_non_adjacent_bodies(model):
    poses = np.zeros((3, 24, 3))
    poses[:, 0] = [np.pi / 2, 0, 0]
    poses[1, 16] = [0, 0, -2.2]  # left upper arm swung down through the trunk
    poses[2, 4] = [2.5, 0, 0]  # knee fully flexed: shin against thigh (parent/child: not counted)
    trans = np.tile([0.0, 0.0, 1.0], (3, 1))
    out = self_collisions(motion_to_qpos(poses, trans), model)
    assert out["count"][0] == 0 and out["depth"][0] == 0.0
    assert out["count"][1] > 0 and out["max_depth"][1] > 0.02
    assert out["count"][2] == 0


def _fake_smpl(path, scale=1.1, radius=0.05):
    """A tiny stand-in SMPL .npz: one vertex per joint (regressed exactly) plus rings of radius ``radius`` around
    every bone, skinned to the bone's parent joint."""
    rest = rest_joint_positions(OFFSETS * scale).astype(np.float64)
    verts, owner = [rest], list(range(24))
    for j in range(1, 24):
        a, b = rest[PARENTS[j]], rest[j]
        axis = (b - a) / np.linalg.norm(b - a)
        u = np.cross(axis, [0.3, 0.5, 0.8])
        u /= np.linalg.norm(u)
        v = np.cross(axis, u)
        for s in np.linspace(0.2, 0.8, 4):
            for ang in np.linspace(0, 2 * np.pi, 12, endpoint=False):
                verts.append([a + s * (b - a) + radius * (np.cos(ang) * u + np.sin(ang) * v)])
                owner.append(PARENTS[j])
    verts = np.concatenate([np.atleast_2d(v) for v in verts])
    n = len(verts)
    jreg = np.zeros((24, n))
    jreg[np.arange(24), np.arange(24)] = 1.0
    weights = np.zeros((n, 24))
    weights[np.arange(n), owner] = 1.0
    np.savez(path, v_template=verts, J_regressor=jreg, weights=weights, shapedirs=np.zeros((n, 3, 10)),
             posedirs=np.zeros((n, 3, 207)), kintree_table=np.stack([np.r_[-1, PARENTS[1:]], np.arange(24)]),
             f=np.zeros((1, 3), dtype=np.int64))


def test_smpl_file_sizes_the_body(tmp_path):
    from dance_rl.sim.smpl_shape import shape_from_smpl
    path = tmp_path / "SMPL_NEUTRAL.npz"
    _fake_smpl(path)
    offsets, radius = shape_from_smpl(path)
    np.testing.assert_allclose(offsets, OFFSETS * 1.1, atol=1e-6)
    # the lhip body owns the ring around the thigh (1→4): radius 0.05 (clamped range is 0.02-0.15)
    assert radius[1] == pytest.approx(0.05, abs=1e-3)
    big = hum.humanoid_model(tmp_path)  # a folder with SMPL_NEUTRAL.npz works too
    d = mujoco.MjData(big)
    mujoco.mj_kinematics(big, d)
    assert d.xpos[hum.BODY_IDS[15], 2] > 1.1 * 1.5  # a taller body
    assert big.geom_size[big.body_geomadr[hum.BODY_IDS[1]], 0] == pytest.approx(0.05, abs=1e-3)


def test_missing_smpl_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        hum.humanoid_model(tmp_path / "nope.npz")
