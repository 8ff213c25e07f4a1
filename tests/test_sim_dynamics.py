"""Inverse dynamics: hand-checkable statics, force balance with contacts, ground-reaction estimation, probe."""
import mujoco
import numpy as np
import pytest

from dance_rl.data import demo
from dance_rl.motion.fk import joints_np
from dance_rl.sim import humanoid as hum
from dance_rl.sim.dynamics import estimate_grf, inverse_dynamics, inverse_dynamics_grf, physics_probe, self_collisions
from dance_rl.sim.retarget import motion_to_qpos

G = 9.81


@pytest.fixture(scope="module")
def model():
    return hum.humanoid_model()


def _static(model, T=4, lift=0.0):
    qpos = np.tile(model.qpos0, (T, 1))
    qpos[:, 2] += lift
    zero = np.zeros((T, model.nv))
    return qpos, zero, zero


def test_static_pose_without_contacts_needs_body_weight_at_the_root(model):
    out = inverse_dynamics(*_static(model), model)
    weight = hum.body_mass(model) * G
    np.testing.assert_allclose(out["root_force"], np.tile([0, 0, weight], (4, 1)), atol=1e-9)
    arm = out["com"] - model.qpos0[:3]  # the root torque holds the centre of mass about the root joint
    np.testing.assert_allclose(out["root_torque"], np.cross(arm, [0, 0, weight]), atol=1e-9)


def test_free_fall_needs_no_force(model):
    qpos, qvel, qacc = _static(model)
    qacc = qacc.copy()
    qacc[:, 2] = -G  # whole body accelerating with gravity (root linear dofs are world-frame)
    out = inverse_dynamics(qpos, qvel, qacc, model)
    np.testing.assert_allclose(out["root_force"], 0.0, atol=1e-9)
    np.testing.assert_allclose(out["torque"], 0.0, atol=1e-9)


def test_shoulder_torque_holds_the_horizontal_arm(model):
    """Rest pose = T-pose: the left shoulder carries upper arm, forearm, hand and fingers against gravity."""
    out = inverse_dynamics(*_static(model, T=1), model)
    d = mujoco.MjData(model)
    mujoco.mj_kinematics(model, d)
    shoulder = d.xpos[hum.BODY_IDS[16]]
    arm = [hum.BODY_IDS[j] for j in (16, 18, 20, 22)]
    tau = sum(np.cross(d.xipos[b] - shoulder, [0, 0, model.body_mass[b] * G]) for b in arm)
    hinges = [model.joint(f"lshoulder_{ax}").id for ax in hum.AXIS_ORDER[16]]
    expected = [d.xaxis[h] @ tau for h in hinges]
    np.testing.assert_allclose(out["torque"][0, 3 * 15:3 * 15 + 3], expected, rtol=1e-9, atol=1e-9)
    assert np.abs(expected).max() > 5.0  # a real load (≈ 3.6 kg at ≈ 0.3 m)


def test_with_contacts_floor_and_root_share_the_weight(model):
    qpos, qvel, qacc = _static(model, lift=-0.003)  # feet 3 mm into the floor
    out = inverse_dynamics(qpos, qvel, qacc, model, contacts=True)
    weight = hum.body_mass(model) * G
    assert (out["ncontact"] > 0).all() and (out["contact_force"][:, 2] > 0).all()
    np.testing.assert_allclose(out["root_force"] + out["contact_force"], np.tile([0, 0, weight], (4, 1)), atol=1e-6)


def test_ground_reactions_carry_a_standing_body(model):
    out = inverse_dynamics_grf(*_static(model), model)
    weight = hum.body_mass(model) * G
    assert out["in_contact"].all()
    np.testing.assert_allclose(out["grf"].sum(1)[:, 2], weight, rtol=0.01)
    assert np.linalg.norm(out["root_force"], axis=1).max() < 0.01 * weight
    lifted = inverse_dynamics_grf(*_static(model, lift=0.5), model)  # floating: nothing to push on
    assert not lifted["in_contact"].any()
    np.testing.assert_allclose(lifted["root_force"][:, 2], weight, atol=1e-9)


def test_estimate_grf_respects_the_friction_cone():
    sole = np.array([[[0.1, 0.0, 0.0], [-0.1, 0.0, 0.0], [0.0, 0.0, 0.5]]])  # third point is in the air
    force = np.array([[300.0, 0.0, 500.0]])  # asks for more sideways push than μ=0.5 allows
    f = estimate_grf(sole, np.zeros((1, 3)), force, np.zeros((1, 3)), friction=0.5)
    assert (f[0, 2] == 0).all()
    assert (f[0, :2, 2] > 0).all()
    horiz = np.linalg.norm(f[0, :2, :2], axis=-1)
    assert (horiz <= 0.5 * f[0, :2, 2] + 1e-9).all()
    # an achievable wrench is reproduced: vertical support split over two feet
    f = estimate_grf(sole, np.zeros((1, 3)), np.array([[0.0, 0.0, 600.0]]), np.zeros((1, 3)))
    np.testing.assert_allclose(f[0, :2, 2], 300.0, rtol=1e-3)


def test_physics_probe_batch(model):
    T = 20
    poses = np.zeros((3, T, 24, 3))
    poses[..., 0, :] = [np.pi / 2, 0, 0]
    poses[1, :, 16] = [0, 0, -2.2]  # arm through the trunk
    trans = np.tile(model.qpos0[:3], (3, T, 1))
    poses[2, 5, 3, 0] = np.nan  # a broken sample
    out = physics_probe(poses, trans, 30.0, nthread=2)
    assert out["ok"].tolist() == [True, True, False]
    assert out["torque"].shape == (3, T, 69) and out["com"].shape == (3, T, 3)
    np.testing.assert_allclose(out["root_force"][0, :, 2], hum.body_mass(model) * G, atol=1e-6)
    assert (out["self_penetration"][0] == 0).all() and (out["self_penetration"][1] > 0.02).all()
    assert out["body_mass"] == pytest.approx(70.0) and out["torque_limit"].shape == (69,)
    assert out["rom_violation"][0] == 0.0
    serial = physics_probe(poses, trans, 30.0, nthread=1)
    for k in ("torque", "com", "self_penetration", "joints"):
        np.testing.assert_array_equal(serial[k], out[k])
    # the probe's summed depths are those of self_collisions on the same kinematics
    depth = self_collisions(motion_to_qpos(poses[1], trans[1]), model)["depth"]
    np.testing.assert_allclose(out["self_penetration"][1], depth, atol=1e-12)
    # the simulator's joint positions are the FK of the motion (the probe shares them with the rewards)
    rng = np.random.default_rng(0)
    poses[:2] += rng.normal(0.0, 0.3, poses[:2].shape)
    out = physics_probe(poses, trans, 30.0)
    np.testing.assert_allclose(out["joints"][:2], joints_np(poses[:2], trans[:2]), atol=1e-6)


def test_motion_to_qpos_feeds_dynamics(model):
    """A motion file's pose gives the same statics as the model's own rest qpos."""
    poses = np.zeros((2, 24, 3))
    poses[:, 0] = [np.pi / 2, 0, 0]
    qpos = motion_to_qpos(poses, np.tile(model.qpos0[:3], (2, 1)))
    np.testing.assert_allclose(qpos, np.tile(model.qpos0, (2, 1)), atol=1e-12)


def test_batched_probe_equals_per_frame_mj_inverse_on_real_motion(model):
    """The probe's M·qacc + bias over mujoco.batch is contact-free mj_inverse, frame by frame, across units."""
    clips = [demo.clip_motion(demo.source_clip(n), seconds=4.0) for n in ("dance_a", "jump", "spin", "walk", "punch")]
    poses, trans = np.stack([c[0] for c in clips]), np.stack([c[1] for c in clips])
    for nthread in (1, 2):
        out = physics_probe(poses, trans, 30.0, nthread=nthread)
        assert out["ok"].all()
        for b in (0, 4):  # first and last unit
            qpos = motion_to_qpos(poses[b], trans[b])
            from dance_rl.sim.retarget import velocity_acceleration
            ref = inverse_dynamics(qpos, *velocity_acceleration(model, qpos, 30.0), model)
            np.testing.assert_allclose(out["torque"][b], ref["torque"], atol=1e-8)
            np.testing.assert_allclose(out["root_force"][b], ref["root_force"], atol=1e-8)
            np.testing.assert_allclose(out["com"][b], ref["com"], atol=1e-12)
            depth = self_collisions(qpos, model)
            np.testing.assert_allclose(out["self_penetration"][b], depth["depth"], atol=1e-12)


def test_probe_marks_clips_of_frames_mujoco_failed_on(monkeypatch):
    """A MuJoCo error in some frames fails just the clips holding them, with no crash."""
    from mujoco import batch as mj_batch
    poses = np.zeros((4, 10, 24, 3))
    poses[..., 0, :] = [np.pi / 2, 0, 0]
    trans = np.tile(hum.humanoid_model().qpos0[:3], (4, 10, 1))
    real = mj_batch.Batch.forward

    def flaky(self, ids=None, stage=mujoco.mjtStage.mjSTAGE_ACC):
        real(self, ids, stage)
        raise mj_batch.SimulationError(np.array([25]), "injected")  # frame 25 of the unit = clip 2, frame 5

    monkeypatch.setattr(mj_batch.Batch, "forward", flaky)
    out = physics_probe(poses, trans, 30.0)
    assert out["ok"].tolist() == [True, True, False, True]
