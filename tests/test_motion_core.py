import math

import numpy as np
import torch

from dance_rl.motion import rotations as R
from dance_rl.motion.fk import fk_axis_angle, joints_np, kinematics
from dance_rl.motion.representation import (
    FEATURE_DIM,
    Normalizer,
    features_to_joints,
    features_to_motion,
    foot_contacts,
    motion_to_features,
)
from dance_rl.motion.skeleton import OFFSETS, PARENTS, UPRIGHT_ROOT_AA, bone_lengths, rest_joint_positions


def _random_aa(n, gen):
    axis = torch.nn.functional.normalize(torch.randn(n, 3, generator=gen, dtype=torch.float64), dim=-1)
    angle = torch.rand(n, 1, generator=gen, dtype=torch.float64) * (math.pi - 1e-3)
    return axis * angle


def test_rotation_round_trips_exact():
    g = torch.Generator().manual_seed(0)
    aa = _random_aa(2000, g)
    m = R.axis_angle_to_matrix(aa)
    assert torch.allclose(R.matrix_to_axis_angle(m), aa, atol=1e-5)
    assert torch.allclose(R.quat_to_matrix(R.matrix_to_quat(m)), m, atol=1e-5)
    assert torch.allclose(R.rot6d_to_matrix(R.matrix_to_rot6d(m)), m, atol=1e-5)
    q = R.axis_angle_to_quat(aa)
    assert torch.allclose(R.quat_to_axis_angle(q), aa, atol=1e-5)
    assert torch.allclose(R.quat_to_matrix(q), m, atol=1e-5)
    # matrices are orthonormal with det +1
    assert torch.allclose(m @ m.transpose(-1, -2), torch.eye(3, dtype=m.dtype).expand_as(m), atol=1e-6)
    assert torch.allclose(torch.det(m), torch.ones(2000, dtype=m.dtype), atol=1e-6)


def test_known_rotation_values():
    m = R.axis_angle_to_matrix(torch.tensor([math.pi / 2, 0, 0]))
    # +90° about X takes +y to +z (rest y-up → world z-up)
    assert torch.allclose(m @ torch.tensor([0.0, 1.0, 0.0]), torch.tensor([0.0, 0.0, 1.0]), atol=1e-6)
    # 6-D is the first two ROWS (EDGE / pytorch3d)
    assert torch.allclose(R.matrix_to_rot6d(m), torch.cat([m[0], m[1]]))
    q = R.axis_angle_to_quat(torch.tensor([0.0, 0.0, math.pi / 2]))
    assert torch.allclose(q, torch.tensor([math.cos(math.pi / 4), 0, 0, math.sin(math.pi / 4)]), atol=1e-6)
    assert torch.allclose(R.quat_rotate(q, torch.tensor([1.0, 0, 0])), torch.tensor([0.0, 1.0, 0.0]), atol=1e-6)


def test_quat_mul_and_slerp():
    g = torch.Generator().manual_seed(1)
    a, b = _random_aa(50, g), _random_aa(50, g)
    qa, qb = R.axis_angle_to_quat(a), R.axis_angle_to_quat(b)
    assert torch.allclose(R.quat_to_matrix(R.quat_mul(qa, qb)), R.axis_angle_to_matrix(a) @ R.axis_angle_to_matrix(b), atol=1e-5)
    assert torch.allclose(R.quat_slerp(qa, qb, 0.0), qa, atol=1e-6)
    s1 = R.quat_slerp(qa, qb, 1.0)
    assert torch.allclose(R.quat_to_matrix(s1), R.quat_to_matrix(qb), atol=1e-5)
    # halfway about a fixed axis is half the angle
    axis = torch.tensor([0.0, 0.0, 1.0])
    mid = R.quat_slerp(R.axis_angle_to_quat(axis * 0.2), R.axis_angle_to_quat(axis * 1.0), 0.5)
    assert torch.allclose(R.quat_to_axis_angle(mid), axis * 0.6, atol=1e-6)


def test_fk_rest_pose_and_upright_root():
    poses = torch.zeros(1, 24, 3, dtype=torch.float64)
    trans = torch.tensor([[0.5, -1.0, 2.0]], dtype=torch.float64)
    j = fk_axis_angle(poses, trans)[0].numpy()
    assert np.allclose(j - j[0], rest_joint_positions(), atol=1e-6)
    assert np.allclose(j[0], [0.5, -1.0, 2.0])
    # Upright root: rest y-up becomes z-up; head above root, toes below
    poses[0, 0] = torch.as_tensor(UPRIGHT_ROOT_AA, dtype=torch.float64)
    j = joints_np(poses.numpy(), np.array([[0.0, 0.0, 1.0]]))[0]
    rest = rest_joint_positions().astype(np.float64)
    expected = np.stack([rest[:, 0], -rest[:, 2], rest[:, 1]], -1) + [0, 0, 1.0]
    assert np.allclose(j, expected, atol=1e-6)
    assert j[15, 2] > 1.5 and j[10, 2] < 0.1


def test_fk_known_elbow_bend_and_bone_lengths():
    # bend the left elbow 90° about rest-frame z: the forearm (offset ~ +x) turns to +y
    poses = torch.zeros(24, 3, dtype=torch.float64)
    poses[18] = torch.tensor([0.0, 0.0, math.pi / 2])
    j = fk_axis_angle(poses, torch.zeros(3, dtype=torch.float64)).numpy()
    off = OFFSETS[20].astype(np.float64)
    assert np.allclose(j[20] - j[18], [-off[1], off[0], off[2]], atol=1e-6)
    g = torch.Generator().manual_seed(2)
    rand = _random_aa(24 * 7, g).reshape(7, 24, 3)
    j = fk_axis_angle(rand, torch.randn(7, 3, generator=g, dtype=torch.float64)).numpy()
    lengths = np.linalg.norm(j[:, 1:] - j[:, list(PARENTS[1:])], axis=-1)
    assert np.allclose(lengths, bone_lengths()[1:], atol=1e-6)
    # global rotations compose along the chain
    gr = kinematics(R.axis_angle_to_matrix(rand), torch.zeros(7, 3, dtype=torch.float64))[1]
    assert torch.allclose(gr[:, 4], R.axis_angle_to_matrix(rand[:, 0]) @ R.axis_angle_to_matrix(rand[:, 1])
                          @ R.axis_angle_to_matrix(rand[:, 4]), atol=1e-6)


def test_numpy_fk_matches_torch_fk():
    g = torch.Generator().manual_seed(5)
    rand = _random_aa(24 * 6, g).reshape(2, 3, 24, 3)
    rand[0, 0, 5] = torch.tensor([1e-8, 0.0, 0.0], dtype=torch.float64)  # small-angle branch
    rand[0, 1, 7] = 0.0
    trans = torch.randn(2, 3, 3, generator=g, dtype=torch.float64)
    ref = fk_axis_angle(rand, trans).numpy()
    got = joints_np(rand.numpy(), trans.numpy())
    assert got.dtype == np.float64 and got.shape == (2, 3, 24, 3)
    assert np.allclose(got, ref, atol=1e-12)
    # a different skeleton is honoured
    offs = OFFSETS * 1.5
    assert np.allclose(joints_np(rand.numpy(), trans.numpy(), offsets=offs), fk_axis_angle(rand, trans, offs).numpy(),
                       atol=1e-12)


def test_one_fk_for_every_caller():
    """The torch chain (features, guidance), the numpy chain (rewards, metrics) and the imitation reward's tracking
    errors all run `kinematics`: positions and world rotations agree across backends to 1e-6 (float32 torch)."""
    import dance_rl.rewards.imitation as imitation

    g = torch.Generator().manual_seed(7)
    rand = _random_aa(24 * 10, g).reshape(2, 5, 24, 3)
    trans = torch.randn(2, 5, 3, generator=g, dtype=torch.float64)
    rot64 = R.axis_angle_to_matrix(rand)
    pos_np, world_np = kinematics(rot64.numpy(), trans.numpy())
    pos_t, world_t = kinematics(rot64.float(), trans.float())
    assert pos_np.dtype == np.float64 and world_np.shape == (2, 5, 24, 3, 3)
    assert np.abs(pos_t.numpy() - pos_np).max() < 1e-6 and np.abs(world_t.numpy() - world_np).max() < 1e-6
    assert np.abs(pos_np - joints_np(rand.numpy(), trans.numpy())).max() < 1e-12
    assert imitation.kinematics is kinematics  # no private copy in the imitation reward


def test_features_round_trip_and_contacts():
    T = 20
    poses = torch.zeros(T, 24, 3)
    poses[:, 0] = torch.as_tensor(UPRIGHT_ROOT_AA)
    poses[:, 16] = torch.linspace(0, 1.0, T)[:, None] * torch.tensor([0.0, 0.0, 1.0])
    trans = torch.zeros(T, 3)
    trans[:, 2] = 0.95
    trans[10:, 0] = torch.arange(10) * 0.05  # walks 5 cm/frame from frame 10 on
    x = motion_to_features(poses, trans)
    assert x.shape == (T, FEATURE_DIM)
    c = x[:, :4]
    assert torch.all(c[:9] == 1) and torch.all(c[10:-1] == 0) and torch.all(c[-1] == 1)
    assert torch.allclose(x[:, 4:7], trans)
    p2, t2, c2 = features_to_motion(x)
    assert torch.allclose(p2, poses, atol=1e-5) and torch.equal(c2, c)
    assert torch.allclose(features_to_joints(x), fk_axis_angle(poses, trans), atol=1e-5)
    assert torch.equal(foot_contacts(fk_axis_angle(poses, trans)), c)


def test_normalizer_range_round_trip_and_state():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(8, 30, 151, generator=g) * 3 + 1
    x[..., 5] = 2.0  # constant dim
    n = Normalizer.fit(x)
    y = n.normalize(x)
    assert y.min() >= -1 and y.max() <= 1
    assert torch.allclose(y.reshape(-1, 151).min(0).values[:5], torch.full((5,), -1.0))
    assert torch.allclose(n.unnormalize(y), x, atol=1e-4)
    n2 = Normalizer.from_state_dict(n.state_dict())
    assert torch.equal(n2.normalize(x), y)
    assert n.normalize(x + 100).max() == 1.0  # clip
