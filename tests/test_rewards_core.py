"""MotionBatch, FGD, anti-freezing, registry and composite: hand-computed values and invariances."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from dance_rl.errors import UserError
from dance_rl.motion.fk import joints_np
from dance_rl.motion.representation import Normalizer, foot_contacts, motion_to_features
from dance_rl.motion.skeleton import UPRIGHT_ROOT_AA
from dance_rl.rewards import registry
from dance_rl.rewards.antifreeze import antifreeze, kinetic_terms
from dance_rl.rewards.batch import MotionBatch
from dance_rl.rewards.composite import score, summary, weights_from_config
from dance_rl.rewards.fgd import fgd, fgd_ground


def standing(b=1, t=30):
    """Upright rest pose with the lowest joint exactly on z = 0."""
    poses = np.zeros((b, t, 24, 3), np.float32)
    poses[..., 0, :] = UPRIGHT_ROOT_AA
    trans = np.zeros((b, t, 3), np.float32)
    trans[..., 2] = -joints_np(poses[0, :1], trans[0, :1])[0, :, 2].min()
    return poses, trans


def swaying(b=2, t=40, seed=0):
    rng = np.random.default_rng(seed)
    poses, trans = standing(b, t)
    phase = np.linspace(0, 2 * np.pi, t)[None, :, None]
    poses[..., 1:, :] += 0.3 * np.sin(phase[..., None] + rng.uniform(0, 6, (b, 1, 23, 3)))
    trans[..., 0] += 0.1 * np.sin(phase[..., 0])
    return poses, trans


# ------------------------------------------------------------------------------------------------------- MotionBatch
def test_batch_from_features_round_trip_and_normaliser():
    poses, trans = swaying()
    x = motion_to_features(torch.from_numpy(poses), torch.from_numpy(trans))
    b = MotionBatch.from_features(x)
    np.testing.assert_allclose(b.joints, joints_np(poses, trans), atol=2e-5)
    norm = Normalizer.fit(x)
    b2 = MotionBatch.from_features(norm.normalize(x), normalizer=norm)
    np.testing.assert_allclose(b2.joints, b.joints, atol=1e-4)
    single = MotionBatch.from_features(x[0])
    assert single.batch_size == 1 and single.num_frames == 40


def test_model_samples_with_nan_score_zero_instead_of_crashing():
    poses, trans = swaying()
    x = motion_to_features(torch.from_numpy(poses), torch.from_numpy(trans))
    x[1, 5, 20] = float("nan")
    b = MotionBatch.from_features(x)
    np.testing.assert_array_equal(b.valid, [True, False])
    r = score(b, {"fgd": 1.0, "antifreeze": 1.0})
    assert r["per_sample"][1] == 0.0 and (r["per_frame"][1] == 0).all() and r["per_sample"][0] > 1.0
    np.testing.assert_array_equal(r["valid"], [True, False])


def test_batch_contacts_follow_the_151d_rule():
    poses, trans = swaying()
    b = MotionBatch(poses, trans)
    expected = foot_contacts(torch.from_numpy(b.joints)).numpy()
    np.testing.assert_array_equal(b.contacts, expected)
    assert b.contacts[:, -1].all()  # last frame: zero velocity → contact


def test_batch_rejects_bad_input():
    poses, trans = swaying()
    with pytest.raises(UserError, match="trans"):
        MotionBatch(poses, trans[:, :-1])
    with pytest.raises(UserError, match="frame"):
        MotionBatch(poses[:, :1], trans[:, :1])
    bad = poses.copy()
    bad[0, 3, 2, 1] = np.nan
    with pytest.raises(UserError, match="NaN"):
        MotionBatch(bad, trans)

    class M:
        def __init__(self, t):
            self.poses, self.trans, self.fps = poses[0, :t], trans[0, :t], 30.0
    with pytest.raises(UserError, match="differ"):
        MotionBatch.from_motions([M(40), M(30)])
    assert MotionBatch.from_motions([M(40), M(40)]).batch_size == 2


# --------------------------------------------------------------------------------------------------------------- FGD
def test_fgd_hand_values_and_shift_invariance():
    poses, trans = standing(1, 4)
    trans[0, 1::2, 2] += 0.1  # lowest joint alternates 0, 0.1, 0, 0.1 m
    b = MotionBatch(poses, trans)
    r = fgd(b)
    np.testing.assert_allclose(r["per_frame"], 1 + np.exp(-100 * 0.05 ** 2), rtol=1e-5)  # g = 0.05
    np.testing.assert_allclose(r["per_sample"], 1 + np.exp(-0.25), rtol=1e-5)
    g = fgd_ground(b)
    np.testing.assert_allclose(g["per_frame"][0], [2, 1 + np.exp(-1) - 0.1, 2, 1 + np.exp(-1) - 0.1], atol=1e-5)
    np.testing.assert_allclose(g["diagnostics"]["floating"], 0.05, atol=1e-6)
    # as coded: a constant raise changes nothing; against the ground it costs reward
    raised = MotionBatch(poses, trans + np.array([0, 0, 0.3], np.float32))
    np.testing.assert_allclose(fgd(raised)["per_sample"], r["per_sample"], rtol=1e-6)
    assert fgd_ground(raised)["per_sample"][0] < g["per_sample"][0] - 0.4
    # no plateau: where the Gaussian is flat (0.3 m vs 0.4 m: exp(-9) vs exp(-16)) the tail still ranks them
    higher = MotionBatch(poses, trans + np.array([0, 0, 0.4], np.float32))
    assert fgd_ground(raised)["per_sample"][0] - fgd_ground(higher)["per_sample"][0] > 0.09


# -------------------------------------------------------------------------------------------------------- antifreeze
def _fairmotion_loop(p, dt, quirk, w=2):
    """Direct transcription of the kinetic-feature loops (docs/metrics.md) for one joint track p (T,3)."""
    t_len = len(p)
    ke = ee = 0.0
    for i in range(1, t_len):
        v, n = np.zeros(3), 0
        for j in range(-w, w + 1):
            if i + j - 1 < 0 or i + j >= t_len:
                continue
            v += p[i + j] - p[i + j - 1]
            n += 1
        ke += np.linalg.norm(v / (n * dt)) ** 2
        a, n = np.zeros(3), 0
        for j in range(-w, w + 1):
            if i + j - 1 < 0 or i + j + 1 >= t_len:
                continue
            v2 = (p[i + j + 1] - p[i + j]) / dt
            v1 = p[i + j] - p[i + j - 1] / dt if quirk else (p[i + j] - p[i + j - 1]) / dt
            a += (v2 - v1) / dt
            n += 1
        ee += np.linalg.norm(a / n)
    return ke / (t_len - 1), ee / (t_len - 1)


@pytest.mark.parametrize("quirk", [False, True])
def test_kinetic_terms_match_reference_loops(quirk):
    p = np.random.default_rng(1).normal(size=(2, 9, 3, 3))
    ke, ee = kinetic_terms(p, fps=30.0, fairmotion_quirk=quirk)
    for b in range(2):
        for j in range(3):
            ref = _fairmotion_loop(p[b, :, j], 1 / 30, quirk)
            np.testing.assert_allclose([ke[b, j], ee[b, j]], ref, rtol=1e-10)


def test_antifreeze_hand_values():
    poses, trans = standing(1, 30)
    still = antifreeze(MotionBatch(poses, trans))["per_sample"][0]
    assert still == pytest.approx(0.0, abs=1e-9)
    glide = trans.copy()
    glide[0, :, 0] += 0.5 * np.arange(30) / 30  # every joint moves at 0.5 m/s, no acceleration
    r = antifreeze(MotionBatch(poses, glide))
    assert r["per_sample"][0] == pytest.approx(0.5 ** 2, rel=1e-4)  # default "kinetic": (24 · v²) / 24
    r = antifreeze(MotionBatch(poses, glide), terms="both")
    assert r["per_sample"][0] == pytest.approx(0.5 ** 2 / 2, rel=1e-4)  # Skeleton2Stage: (24 · v² + 0) / 48
    bob = trans.copy()
    bob[0, :, 2] += 0.2 * np.sin(np.arange(30))  # vertical root motion is removed before scoring
    assert antifreeze(MotionBatch(poses, bob))["per_sample"][0] == pytest.approx(0.0, abs=1e-6)
    # with the fairmotion quirk a still body "expends" ‖p‖·fps·(fps−1) per joint (root z zeroed)
    quirk = antifreeze(MotionBatch(poses, trans), fairmotion_quirk=True, terms="both")["per_sample"][0]
    j = joints_np(poses[0, :1], trans[0, :1])[0]
    j[:, 2] -= trans[0, 0, 2]
    assert quirk == pytest.approx(np.linalg.norm(j, axis=-1).sum() * 30 * 29 / 48, rel=1e-4)


# ------------------------------------------------------------------------------------------- registry and composite
def test_registry_names_and_errors():
    assert {"fgd", "fgd_ground", "antifreeze", "phymotion", "imitation"} <= set(registry.available())
    assert registry.get_reward("fgd") is fgd
    with pytest.raises(UserError, match="not registered"):
        registry.get_reward("nope")


def test_composite_weighted_sums_and_per_frame_broadcast():
    poses, trans = swaying(b=3)
    b = MotionBatch(poses, trans)
    w = {"fgd": 0.01, "antifreeze": 0.49, "fgd_ground": 2.0, "phymotion": 0.0}
    r = score(b, w, params={"fgd_ground": {"ground": 0.05}})
    assert set(r["components"]) == {"fgd", "antifreeze", "fgd_ground"}  # weight 0 → not computed
    f, a, g = fgd(b)["per_sample"], antifreeze(b)["per_sample"], fgd_ground(b, ground=0.05)["per_sample"]
    np.testing.assert_allclose(r["per_sample"], 0.01 * f + 0.49 * a + 2.0 * g)
    np.testing.assert_allclose(r["per_frame"].mean(axis=1), r["per_sample"])
    assert r["components"]["antifreeze"]["per_frame"] is None
    assert r["components"]["fgd"]["per_frame"].shape == (3, 40)
    s = summary(r)
    assert s["total"] == pytest.approx(r["per_sample"].mean()) and "fgd/mean_lowest_height" in s
    with pytest.raises(UserError, match="no weight"):
        score(b, {"fgd": 1.0}, params={"antifreeze": {}})


def test_composite_shares_work_through_the_batch_cache():
    poses, trans = swaying()
    b = MotionBatch(poses, trans)
    calls = []
    registry.register("_probe", lambda batch: batch.cached("x", lambda: calls.append(1) or
                                                           {"per_sample": np.ones(2), "per_frame": None}))
    try:
        score(b, {"_probe": 1.0})
        score(b, {"_probe": 2.0})
    finally:
        registry._ENTRIES.pop("_probe")
    assert calls == [1]


def test_weights_from_config():
    from dance_rl.config import load_config

    cfg = load_config(None, [])
    w = weights_from_config(cfg.rewards)
    assert w["imitation"] == pytest.approx(0.51) and w["fgd"] == pytest.approx(0.01)


# ------------------------------------------------------------------------------------------------------ corruptions
def test_corruptions_do_what_they_say():
    from dance_rl.motion.io import Motion
    from dance_rl.rewards.corruptions import CORRUPTIONS, corrupt, corrupt_motion

    poses, trans = swaying(b=1, t=30)
    p0, t0 = poses[0], trans[0]
    for name in CORRUPTIONS:  # severity 0 is the identity, inputs are never modified
        p, t = corrupt(p0, t0, 30.0, name, 0.0)
        np.testing.assert_allclose(joints_np(p, t), joints_np(p0, t0), atol=1e-5)
    _, t = corrupt(p0, t0, 30.0, "slide", 0.3)
    np.testing.assert_allclose(t[:, 0] - t0[:, 0], 0.3 * np.arange(30) / 30, atol=1e-6)
    _, t = corrupt(p0, t0, 30.0, "sink", 0.05)
    np.testing.assert_allclose(t[:, 2], t0[:, 2] - 0.05, atol=1e-6)
    p, t = corrupt(p0, t0, 30.0, "freeze", 0.5)
    assert (p[15:] == p[15]).all() and (t[15:] == t[15]).all() and not (p[:15] == p[14]).all()
    a, _ = corrupt(p0, t0, 30.0, "jitter", 0.01, seed=3)
    b, _ = corrupt(p0, t0, 30.0, "jitter", 0.01, seed=3)
    np.testing.assert_array_equal(a, b)
    p, _ = corrupt(p0, t0, 30.0, "self_penetrate", 0.4)
    j, j0 = joints_np(p, t0), joints_np(p0, t0)
    np.testing.assert_allclose(np.delete(j, [18, 19, 20, 21, 22, 23], axis=1),
                               np.delete(j0, [18, 19, 20, 21, 22, 23], axis=1), atol=1e-5)  # only the arms move
    # the elbows end up closer to the body's vertical axis through the root
    radial = lambda x: np.linalg.norm(x[:, [18, 19], :2] - x[:, :1, :2], axis=-1).mean()
    assert radial(j) < radial(j0)
    m = corrupt_motion(Motion(p0, t0, 30.0, joints=j0), "float", 0.1)
    assert m.joints is None and np.allclose(m.trans[:, 2], t0[:, 2] + 0.1)
