"""AIST++ kinetic (72-d) and manual (32-d) features: hand-computed cases and a literal per-frame port of the
definitions in docs/metrics.md (the vectorised code must agree with it exactly)."""
import numpy as np
import pytest

from dance_rl.eval.features import aist_frame, motion_features, zup_to_yup
from dance_rl.eval.kinetic import extract_kinetic_features, kinetic_feature_matrix
from dance_rl.eval.manual import HL, HW, SW, extract_manual_features, manual_feature_frames
from dance_rl.motion.skeleton import rest_joint_positions


# ---------------------------------------------------------------------------------------------- literal loop ports
def _loop_kinetic(pos, dt=1 / 60, w=2):
    T = len(pos)
    out = []
    for j in range(pos.shape[1]):
        kh = kv = ee = 0.0
        for i in range(1, T):
            s, c = np.zeros(3), 0
            for k in range(-w, w + 1):
                if i + k - 1 < 0 or i + k >= T:
                    continue
                s += pos[i + k, j] - pos[i + k - 1, j]
                c += 1
            kh += np.linalg.norm(np.array([s[0], s[2]]) / (c * dt)) ** 2
            kv += np.linalg.norm(np.array([s[1]]) / (c * dt)) ** 2
            a, c = np.zeros(3), 0
            for k in range(-w, w + 1):
                if i + k - 1 < 0 or i + k + 1 >= T:
                    continue
                v2 = (pos[i + k + 1, j] - pos[i + k, j]) / dt
                v1 = pos[i + k, j] - pos[i + k - 1, j] / dt
                a += (v2 - v1) / dt
                c += 1
            ee += np.linalg.norm(a / c)
        out += [kh / (T - 1.0), kv / (T - 1.0), ee / (T - 1.0)]
    return np.array(out, dtype=np.float32)


NAMES = ("root", "lhip", "rhip", "belly", "lknee", "rknee", "spine", "lankle", "rankle", "chest", "ltoes", "rtoes",
         "neck", "linshoulder", "rinshoulder", "head", "lshoulder", "rshoulder", "lelbow", "relbow", "lwrist", "rwrist",
         "lhand", "rhand")


def _loop_manual(pos, tpf=1 / 120):
    feats = []
    for n in range(1, len(pos)):
        def at(name):
            special = {"zero": [0, 0, 0], "y_unit": [0, 1, 0], "minus_y_unit": [0, -1, 0],
                       "y_min": [0, min(p[1] for p in pos[n]), 0]}
            return np.array(special[name], float) if name in special else pos[n][NAMES.index(name)]

        def prev(name):
            return pos[n - 1][NAMES.index(name)]

        def plane(a, b, c, p, th):
            a, b, c, p = at(a), at(b), at(c), at(p)
            cr = np.cross(c - a, b - a)
            return np.dot(cr, p - a) / np.linalg.norm(cr) > th

        def nplane(n1, n2, a, p, th):
            nn = at(n2) - at(n1)
            return np.dot(nn, at(p) - at(a)) / np.linalg.norm(nn) > th

        def angle(j1, j2, k1, k2, r):
            j, k = at(j2) - at(j1), at(k2) - at(k1)
            ang = np.degrees(np.arccos(np.dot(j, k) / (np.linalg.norm(j) * np.linalg.norm(k))))
            return r[0] < ang < r[1]

        def move(j1, j2, j3, j4, th):
            v = at(j3) - at(j1) - (prev(j3) - prev(j1))
            d = at(j2) - at(j1)
            return np.dot(v, d) / np.linalg.norm(d) / tpf > th

        def nmove(j1, j2, j3, j4, th):
            v = at(j4) - at(j1) - (prev(j4) - prev(j1))
            nn = np.cross(at(j3) - at(j1), at(j2) - at(j1))
            return np.dot(v, nn) / np.linalg.norm(nn) / tpf > th

        def fast(j, th):
            return np.linalg.norm(at(j) - prev(j)) / tpf > th

        hl, sw, hw = HL, SW, HW
        feats.append([
            nmove("neck", "rhip", "lhip", "rwrist", 1.8 * hl), nmove("neck", "lhip", "rhip", "lwrist", 1.8 * hl),
            nplane("chest", "neck", "neck", "rwrist", 0.2 * hl), nplane("chest", "neck", "neck", "lwrist", 0.2 * hl),
            move("belly", "chest", "chest", "rwrist", 1.8 * hl), move("belly", "chest", "chest", "lwrist", 1.8 * hl),
            angle("relbow", "rshoulder", "relbow", "rwrist", [0, 110]),
            angle("lelbow", "lshoulder", "lelbow", "lwrist", [0, 110]),
            nplane("lshoulder", "rshoulder", "lwrist", "rwrist", 2.5 * sw),
            move("lwrist", "rwrist", "rwrist", "lwrist", 1.4 * hl), move("rwrist", "root", "lwrist", "root", 1.4 * hl),
            move("lwrist", "root", "rwrist", "root", 1.4 * hl), fast("rwrist", 2.5 * hl), fast("lwrist", 2.5 * hl),
            plane("root", "lhip", "ltoes", "rankle", 0.38 * hl), plane("root", "rhip", "rtoes", "lankle", 0.38 * hl),
            nplane("zero", "y_unit", "y_min", "rankle", 1.2 * hl), nplane("zero", "y_unit", "y_min", "lankle", 1.2 * hl),
            nplane("lhip", "rhip", "lankle", "rankle", 2.1 * hw), angle("rknee", "rhip", "rknee", "rankle", [0, 110]),
            angle("lknee", "lhip", "lknee", "lankle", [0, 110]), fast("rankle", 2.5 * hl), fast("lankle", 2.5 * hl),
            angle("neck", "root", "rshoulder", "relbow", [25, 180]), angle("neck", "root", "lshoulder", "lelbow", [25, 180]),
            angle("neck", "root", "rhip", "rknee", [50, 180]), angle("neck", "root", "lhip", "lknee", [50, 180]),
            plane("rankle", "neck", "lankle", "root", 0.5 * hl), angle("neck", "root", "zero", "y_unit", [70, 110]),
            nplane("zero", "minus_y_unit", "y_min", "rwrist", -1.2 * hl),
            nplane("zero", "minus_y_unit", "y_min", "lwrist", -1.2 * hl), fast("root", 2.3 * hl),
        ])
    return np.array(feats, dtype=np.float32).mean(axis=0)


def _dancing(rng, T=40):
    """Rest skeleton (y-up) with smooth random joint wobble and a drifting root: a plausible small input."""
    rest = rest_joint_positions().astype(np.float64)
    t = np.arange(T)[:, None, None] / 30.0
    wobble = 0.15 * np.sin(2 * np.pi * rng.uniform(0.3, 2.0, (1, 24, 3)) * t + rng.uniform(0, 6, (1, 24, 3)))
    drift = np.concatenate([0.02 * np.arange(T)[:, None], np.zeros((T, 1)), 0.01 * np.arange(T)[:, None]], 1)
    return rest[None] + wobble + drift[:, None, :]


# ------------------------------------------------------------------------------------------------------ kinetic
def test_kinetic_constant_velocity_by_hand():
    # One joint moving 1 unit/frame along x (dt 1/60): every window-averaged velocity is 60 → KE_h = 3600, KE_v = 0.
    # Energy with fairmotion's precedence quirk: v2 = 60, v1_k = k − 60(k−1) → a_1 = 59·60, a_2 = 118·60;
    # every frame i of T = 4 averages k ∈ {1, 2} → 88.5·60 = 5310.
    pos = np.zeros((4, 1, 3))
    pos[:, 0, 0] = np.arange(4)
    ke_h, ke_v, energy = kinetic_feature_matrix(pos)[0]
    assert ke_h == pytest.approx(3600.0)
    assert ke_v == 0.0
    assert energy == pytest.approx(5310.0)


def test_kinetic_vertical_and_edge_windows_by_hand():
    # Joint moving +2 units/frame in y (up) for frames 0..2, then still: displacements d1 = d2 = 2, d3 = d4 = 0 (T=5).
    # i=1: k∈{1,2,3} → 4/3; i=2: k∈{1..4} → 4/4; i=3: k∈{1..4} → 1; i=4: k∈{2,3,4} → 2/3 (units/frame, ×60 for speed).
    pos = np.zeros((5, 1, 3))
    pos[:, 0, 1] = [0, 2, 4, 4, 4]
    ke_h, ke_v, _ = kinetic_feature_matrix(pos)[0]
    expected = sum((60 * v) ** 2 for v in (4 / 3, 1.0, 1.0, 2 / 3)) / 4
    assert ke_h == 0.0
    assert ke_v == pytest.approx(expected)


def test_kinetic_matches_loop_port(rng):
    pos = _dancing(rng, T=30)
    np.testing.assert_allclose(extract_kinetic_features(pos), _loop_kinetic(pos), rtol=1e-6)
    assert extract_kinetic_features(pos).shape == (72,) and extract_kinetic_features(pos).dtype == np.float32


def test_kinetic_rejects_short_input():
    with pytest.raises(ValueError):
        extract_kinetic_features(np.zeros((2, 24, 3)))


# ------------------------------------------------------------------------------------------------------- manual
def test_body_scale_constants():
    assert HL == pytest.approx(0.25684, abs=1e-5)
    assert SW == pytest.approx(0.39085, abs=1e-5)
    assert HW == pytest.approx(0.11925, abs=1e-5)


def test_manual_matches_loop_port(rng):
    pos = _dancing(rng, T=25)
    np.testing.assert_array_equal(extract_manual_features(pos), _loop_manual(pos))
    assert extract_manual_features(pos).shape == (32,)


def test_manual_static_rest_pose_by_hand():
    # Rest pose (arms out, upright), still: no velocity feature fires. Upper arm ⟂ spine → angle features 24, 25 true;
    # wrists ~1.4 m apart > 2.5·sw → feature 9 true; straight elbows/knees (~180°) → 7, 8, 20, 21 false; the spine
    # points straight down from the neck (180° from y_unit) → 29 false; wrists far above the lowest joint → 30, 31 false.
    pos = np.repeat(rest_joint_positions()[None].astype(np.float64), 5, axis=0)
    f = extract_manual_features(pos)
    for idx in (1, 2, 5, 6, 10, 11, 12, 13, 14, 22, 23, 32):  # all velocity features (1-based)
        assert f[idx - 1] == 0.0, idx
    assert f[24 - 1] == 1.0 and f[25 - 1] == 1.0 and f[9 - 1] == 1.0
    for idx in (7, 8, 20, 21, 29, 30, 31):
        assert f[idx - 1] == 0.0, idx


def test_manual_root_speed_threshold_uses_1_120_quirk():
    # f_fast(root, 2.3·hl): speed = |Δ|·120 > 0.5907 m/s ⟺ |Δ| > 4.92 mm/frame.
    base = rest_joint_positions().astype(np.float64)
    for step, expected in ((0.006, 1.0), (0.004, 0.0)):
        pos = np.stack([base + np.array([step * t, 0, 0]) for t in range(6)])
        assert extract_manual_features(pos)[31] == expected


def test_manual_lying_body_angle_feature():
    # Feature 29: angle(root − neck, y_unit) in (70°, 110°) ⟺ the trunk is roughly horizontal.
    rest = rest_joint_positions().astype(np.float64)
    lying = rest @ np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], float).T  # rotate 90° about x: y → z
    frames = manual_feature_frames(np.stack([lying, lying, rest]))
    assert frames[:, 28].tolist() == [True, False]


# --------------------------------------------------------------------------------------------------- frame prep
def test_zup_to_yup_and_root_relative():
    j = np.zeros((3, 24, 3))
    j[:, 0] = [[1.0, 2.0, 3.0], [1.5, 2.0, 3.0], [1.0, 2.5, 3.25]]
    j[:, 15] = [[0.0, 0.0, 1.0]] * 3
    np.testing.assert_allclose(zup_to_yup(np.array([1.0, 2.0, 3.0])), [1.0, 3.0, -2.0])
    a = aist_frame(j)
    np.testing.assert_allclose(a[0, 0], 0.0)
    np.testing.assert_allclose(a[2, 0], [0.0, 0.25, -0.5])  # (Δx, Δz, −Δy)
    np.testing.assert_allclose(a[0, 15], [-1.0, -2.0, 2.0])  # (0,0,1) z-up → (0,1,0) y-up, minus root (1,3,−2)


def test_motion_features_crop_and_translation_invariance(rng):
    joints = zup_inverse = _dancing(rng, T=50)
    joints = np.stack([zup_inverse[..., 0], -zup_inverse[..., 2], zup_inverse[..., 1]], -1)  # y-up → z-up
    f = motion_features(joints, max_frames=40)
    g = motion_features(joints + np.array([3.0, -2.0, 0.5]), max_frames=40)
    np.testing.assert_allclose(f["kinetic"], g["kinetic"], rtol=1e-5)
    np.testing.assert_array_equal(f["manual"], g["manual"])
    np.testing.assert_allclose(f["kinetic"], extract_kinetic_features(aist_frame(joints[:40])), rtol=1e-6)
