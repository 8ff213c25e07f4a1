"""PhyMotion axes on hand-built trajectories with hand-computed scores, and the simulator probe integration."""
from __future__ import annotations

import numpy as np
import pytest

from dance_rl.data import demo
from dance_rl.errors import UserError
from dance_rl.motion.fk import joints_np
from dance_rl.motion.skeleton import UPRIGHT_ROOT_AA
from dance_rl.rewards import registry
from dance_rl.rewards.batch import MotionBatch
from dance_rl.rewards.phymotion import contact_score, dynamic_score, kinematic_score, phymotion, support_distance
from dance_rl.rewards.physics_probe import PhysicsProbe

T = 20


def test_support_distance_cases():
    feet = np.array([[0.1, 0.1], [0.1, -0.1], [-0.1, 0.1], [-0.1, -0.1]])
    com = np.array([[0.0, 0.0], [0.3, 0.0], [0.1, 0.4], [0.0, 0.2], [0.3, 0.0], [0.05, 0.0]])
    contact = np.array([[1, 1, 1, 1], [1, 1, 1, 1], [1, 0, 0, 0], [0, 0, 1, 1], [0, 0, 0, 0], [1, 1, 1, 0]], bool)
    d = support_distance(com, np.broadcast_to(feet, (6, 4, 2)), contact)
    # inside the square; 0.2 right of it; to a lone foot; to the end of a segment; no contact; inside a triangle
    np.testing.assert_allclose(d, [0.0, 0.2, 0.3, np.hypot(0.1, 0.1), 1.0, 0.0], atol=1e-12)


def _still_joints(b=1, t=T):
    j = np.zeros((b, t, 24, 3))
    j[..., 2] = 0.9  # body joints well above the floor
    for k, (x, z) in zip((7, 10, 8, 11), ((0.1, 0.08), (0.1, 0.0), (-0.1, 0.08), (-0.1, 0.0))):
        j[..., k, 0], j[..., k, 2] = x, z  # ankles 8 cm up, toes on the floor
    return j


def test_kinematic_hand_values():
    still = kinematic_score(_still_joints(), 30.0)
    assert still["score"][0] == pytest.approx(1.0)
    fast = _still_joints()
    fast[..., 0] += 6.0 * np.arange(T)[None, :, None] / 30.0  # everything at 6 m/s > 5 m/s, no jitter
    r = kinematic_score(fast, 30.0)
    assert r["velocity_violation"][0] == pytest.approx(1.0) and r["score"][0] == pytest.approx(0.75)
    shaky = _still_joints()
    a = 49.5 * 24 / (2 * 23 * 4 * 900)  # all 23 non-root joints alternate ±a: jitter = 2·23·4a·fps²/24 = 49.5
    shaky[:, :, 1:, 1] += a * (-1.0) ** np.arange(T)[None, :, None]
    r = kinematic_score(shaky, 30.0, self_collision_pct=np.full((1, T), 11.0), self_collision="release",
                        jitter_mode="release")
    assert r["jitter"][0] == pytest.approx(49.5)
    assert r["jitter_violation"][0] == pytest.approx(0.5) and r["self_collision_violation"][0] == pytest.approx(0.5)
    assert r["score"][0] == pytest.approx(1 - (0.5 + 0.5) / 4)
    graded = kinematic_score(shaky, 30.0, self_collision_pct=np.full((1, T), 11.0))  # default: 9 / (9 + 18)
    assert graded["self_collision_violation"][0] == pytest.approx(1 / 3)
    assert graded["jitter_violation"][0] == pytest.approx(45 / (45 + 90))  # default graded: y / (y + 90), y = 45


def test_contact_hand_values():
    j = _still_joints()
    com = np.zeros((1, T, 3))  # midway between the toes: on the support segment
    assert contact_score(j, com, 30.0)["score"][0] == pytest.approx(1.0)
    sunk = j.copy()
    sunk[..., 2] -= 0.01  # toes 1 cm under the floor: 2 bodies × T × 0.01 / (2T) = 0.01 m → 0.2 of the 0.05 norm
    r = contact_score(sunk, com, 30.0)
    assert r["penetration_violation"][0] == pytest.approx(0.2) and r["score"][0] == pytest.approx(0.95)
    assert contact_score(sunk, com, 30.0, floor="min_foot")["score"][0] == pytest.approx(1.0)  # release: blind
    drift = j.copy()
    drift[..., 0] += 0.045 * np.arange(T)[None, :, None] / 30.0  # root and feet glide at 0.045 m/s
    r = contact_score(drift, com + drift[:, :, :1, :] * [1, 0, 0], 30.0)
    assert r["slip"][0] == pytest.approx(0.045 / 30.0)  # 2 toes × T × v·dt / (2T)
    assert r["float_violation"][0] == pytest.approx(1.0)  # feet move with the root: ρ = 0 < 0.6
    assert r["score"][0] == pytest.approx(1 - 0.25 * (0.045 / 30 / 0.05 + 1.0))
    raised = j.copy()
    raised[..., 2] += 0.05  # no foot touches: balance distance 1 m → full violation
    r = contact_score(raised, com, 30.0)
    assert r["balance_violation"][0] == pytest.approx(1.0) and r["score"][0] == pytest.approx(0.75)
    # floor="clip" (what RL uses): heights from the clip's mean lowest joint, so sinking or raising the whole clip
    # changes nothing, while a dip below that mean still counts as penetration
    clean = contact_score(j, com, 30.0, floor="clip")
    for moved in (sunk, raised):
        assert contact_score(moved, com, 30.0, floor="clip")["score"][0] == pytest.approx(clean["score"][0])
    dip = j.copy()
    dip[:, : T // 2, :, 2] -= 0.02  # first half 2 cm lower: its feet are 1 cm below the clip's mean lowest joint
    assert contact_score(dip, com, 30.0, floor="clip")["penetration"][0] == pytest.approx(0.005)  # 2 toes·T/2·0.01/(2T)
    with pytest.raises(UserError, match="'clip'"):
        contact_score(j, com, 30.0, floor="nowhere")


def test_dynamic_hand_values():
    torque = np.zeros((1, 10, 2))
    torque[0, :5, 0] = 150.0
    vel = np.zeros((1, 10, 2))
    vel[0, :, 0] = 1.0
    force = np.zeros((1, 10, 3))
    force[0, :2, 2] = 4 * 70 * 9.81
    r = dynamic_score(torque, vel, np.array([100.0, 100.0]), force, 70.0, np.array([0.2]), 30.0)
    assert r["torque_score"][0] == pytest.approx(0.75) and r["grf_score"][0] == pytest.approx(0.9)
    assert r["effort"][0] == pytest.approx(150 * 5 / 30)
    assert r["score"][0] == pytest.approx((0.75 + 0.9 + (1 - 25 / 1e4) + 0.8) / 4)


def _standing_batch(t=30):
    poses = np.zeros((1, t, 24, 3), np.float32)
    poses[..., 0, :] = UPRIGHT_ROOT_AA
    trans = np.zeros((1, t, 3), np.float32)
    trans[..., 2] = -joints_np(poses[0, :1], trans[0, :1])[0, :, 2].min()
    return poses, trans


def test_failed_probe_scores_zero_and_axes_are_consistent():
    poses, trans = _standing_batch()
    b = 1
    probe = PhysicsProbe(com=np.zeros((b, 30, 3)), torque=np.zeros((b, 30, 69)), joint_velocity=np.zeros((b, 30, 69)),
                         torque_limit=np.full(69, 100.0), root_force=np.zeros((b, 30, 3)), body_mass=70.0,
                         self_penetration=np.zeros((b, 30)), ok=np.array([False]))
    r = phymotion(MotionBatch(poses, trans, probe=probe))
    assert r["per_sample"][0] == 0.0 and r["diagnostics"]["failed"][0] == 1.0
    batch = MotionBatch(poses, trans)
    full = phymotion(batch, use_sim=False)
    axes = [registry.get_reward(f"phymotion_{a}")(batch, use_sim=False)["per_sample"][0]
            for a in ("kinematic", "contact", "dynamic")]
    assert full["per_sample"][0] == pytest.approx(np.mean(axes)) and full["diagnostics"]["sim_used"][0] == 0.0


def test_simulator_probe_on_a_standing_pose():
    poses, trans = _standing_batch()
    r = phymotion(MotionBatch(poses, trans))
    d = r["diagnostics"]
    assert d["sim_used"][0] == 1.0 and d["failed"][0] == 0.0
    from dance_rl.rewards.physics_probe import physics_probe
    batch = MotionBatch(poses, trans)
    probe = physics_probe(batch)
    # inverse dynamics without contacts: the root must carry the body weight, and a still pose needs no effort
    np.testing.assert_allclose(probe.root_force[0, :, 2], probe.body_mass * 9.81, rtol=0.02)
    assert d["dyn_effort"][0] == pytest.approx(0.0, abs=1e-6)
    assert d["dyn_torque_score"][0] == 1.0 and d["dyn_grf_score"][0] == 1.0
    assert d["kin_self_collision_pct"][0] < 2.0  # the rest pose has no self-penetration beyond the baseline
    assert 0.0 <= r["per_sample"][0] <= 1.0


def test_threaded_probe_matches_serial_and_precomputed():
    """Worker threads, one thread and a probe handed in precomputed give the same PhyMotion scores."""
    from dance_rl.rewards.physics_probe import physics_probe
    src = [demo.clip_motion(demo.source_clip(n), seconds=5.0) for n in ("dance_a", "jump", "spin", "walk")]
    poses = np.stack([src[i % 4][0] for i in range(8)]).astype(np.float64)
    trans = np.stack([src[i % 4][1] for i in range(8)]).astype(np.float64)
    threaded = phymotion(MotionBatch(poses, trans), nthread=2)
    serial = phymotion(MotionBatch(poses, trans), nthread=1)
    probe = physics_probe(MotionBatch(poses, trans))
    given = phymotion(MotionBatch(poses, trans, probe=probe))
    assert not threaded["diagnostics"]["failed"].any()
    for other in (serial, given):
        np.testing.assert_allclose(threaded["per_sample"], other["per_sample"], rtol=0, atol=1e-12)
        assert threaded["diagnostics"].keys() == other["diagnostics"].keys()
        for k, v in threaded["diagnostics"].items():
            np.testing.assert_allclose(v, other["diagnostics"][k], rtol=0, atol=1e-9, err_msg=k)


def test_axis_rewards_spell_out_the_parameters_of_phymotion_terms():
    """No ``__wrapped__``: each reward lists phymotion_terms' parameters, so the registry's check reads them."""
    import inspect

    from dance_rl.rewards.phymotion import phymotion_terms
    want = [(p.name, p.default) for p in list(inspect.signature(phymotion_terms).parameters.values())[1:]]
    for name in ("phymotion", "phymotion_kinematic", "phymotion_contact", "phymotion_dynamic"):
        fn = registry.get_reward(name)
        assert not hasattr(fn, "__wrapped__")
        got = [(p.name, p.default) for p in list(inspect.signature(fn).parameters.values())[1:]]
        assert got == want, name
        assert registry.accepted_params(fn) == {n for n, _ in want}


def test_rl_phymotion_measures_from_the_clip_floor():
    """The RL reward term defaults to floor='clip' and the reward actors receive it; evaluation keeps 'ground'."""
    from dance_rl.cluster.roles import reward_kwargs
    from dance_rl.config import load_config

    assert reward_kwargs(load_config(None, ["rewards.phymotion.weight=0.4"]))["reward_params"]["phymotion"] == \
        {"floor": "clip"}
    b = MotionBatch(np.zeros((2, 20, 24, 3)), np.tile([0.0, 0.0, 0.95], (2, 20, 1)))
    b2 = MotionBatch(np.zeros((2, 20, 24, 3)), np.tile([0.0, 0.0, 1.25], (2, 20, 1)))   # the same pose 30 cm higher
    rc = registry.get_reward("phymotion")
    a, c = rc(b, use_sim=False, floor="clip"), rc(b2, use_sim=False, floor="clip")
    np.testing.assert_allclose(a["per_sample"], c["per_sample"])
