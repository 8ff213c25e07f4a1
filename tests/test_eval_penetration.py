"""Triangle-mesh self-intersection counting and the SMPL-mesh Pen. rate with a small fake SMPL file written here
in the real ``SMPL_NEUTRAL.npz`` layout (no licensed data needed)."""
import numpy as np
import pytest

from dance_rl.errors import UserError
from dance_rl.eval.mesh_isect import candidate_pairs, count_self_intersections, triangles_intersect
from dance_rl.eval.penetration import pen_rate
from dance_rl.eval.smpl_mesh import find_smpl_file, load_smpl_model, smpl_vertices
from dance_rl.motion.fk import joints_np
from dance_rl.motion.skeleton import PARENTS, rest_joint_positions

TET = np.array([[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]])


def _tet(apex_z):
    return np.array([[0.0, 0.0, apex_z], [0.3, 0.0, apex_z + 0.5], [-0.3, 0.2, apex_z + 0.5], [0.0, -0.3, apex_z + 0.5]])


def test_two_crossing_triangles():
    a = np.array([[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    b = np.array([[[0.2, 0.2, -0.5], [0.2, 0.2, 0.5], [0.6, 0.6, 0.5]]])  # pierces a's interior
    c = b + [0.0, 0.0, 1.0]  # above a: no contact
    assert triangles_intersect(a, b).tolist() == [True]
    assert triangles_intersect(a, c).tolist() == [False]


def test_tetrahedron_poking_through_a_sheet_by_hand():
    # A big horizontal triangle at z = 0 and a tetrahedron whose apex dips 5 cm below it: the 3 faces containing the
    # apex cross the sheet; the top face does not; faces of the tet share vertices with each other (never counted).
    sheet = np.array([[-2.0, -2.0, 0.0], [2.0, -2.0, 0.0], [0.0, 2.0, 0.0]])
    for apex_z, expected in ((-0.05, 3), (0.05, 0)):
        verts = np.concatenate([sheet, _tet(apex_z)])
        faces = np.concatenate([[[0, 1, 2]], TET + 3])
        assert count_self_intersections(verts, faces) == expected
    assert count_self_intersections(_tet(0.0), TET) == 0  # a closed mesh alone


def test_broad_phase_matches_brute_force(rng):
    # Random triangle soup: the sweep-and-prune candidates must not lose any intersecting pair.
    tri = rng.uniform(0, 1, size=(120, 1, 3)) + rng.normal(scale=0.08, size=(120, 3, 3))
    verts, faces = tri.reshape(-1, 3), np.arange(360).reshape(120, 3)
    i, j = np.triu_indices(120, k=1)
    brute = int(triangles_intersect(tri[i], tri[j]).sum())
    assert brute > 0
    assert count_self_intersections(verts, faces) == brute
    assert len(candidate_pairs(tri, faces)) < len(i)  # the broad phase actually prunes


# ----------------------------------------------------------------------------------------------- fake SMPL model
def _cube(center, half):
    c = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float) * half + center
    f = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                  [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]])
    return c, f


def write_fake_smpl(folder, half=0.02):
    """One small cube per joint, rigidly skinned to it; joints regress to the cube centres (= the rest skeleton)."""
    rest = rest_joint_positions().astype(np.float64)
    verts, faces = [], []
    for j in range(24):
        v, f = _cube(rest[j], half)
        faces.append(f + 8 * j)
        verts.append(v)
    V = 8 * 24
    weights = np.repeat(np.eye(24), 8, axis=0)
    J_regressor = weights.T / 8.0
    kintree = np.stack([np.array(PARENTS), np.arange(24)])
    kintree[0, 0] = 4294967295  # as in the official files
    path = folder / "SMPL_NEUTRAL.npz"
    np.savez(path, v_template=np.concatenate(verts), f=np.concatenate(faces).astype(np.uint32),
             J_regressor=J_regressor, weights=weights, posedirs=np.zeros((V, 3, 207)),
             shapedirs=np.zeros((V, 3, 10)), kintree_table=kintree.astype(np.int64))
    return path


def _elbow_into_chest_pose():
    """Rotate the left shoulder so the left elbow (0.256 m out) swings onto the chest (0.250 m from the shoulder)."""
    rest = rest_joint_positions().astype(np.float64)
    a = (rest[18] - rest[16]) / np.linalg.norm(rest[18] - rest[16])
    b = (rest[9] - rest[16]) / np.linalg.norm(rest[9] - rest[16])
    axis = np.cross(a, b)
    poses = np.zeros((2, 24, 3))
    # No parent rotation in the rest pose: the shoulder's local frame is the world frame.
    poses[1, 16] = axis / np.linalg.norm(axis) * np.arccos(np.clip(a @ b, -1, 1))
    return poses


def test_fake_smpl_rest_and_posed_pen_rate(tmp_path):
    path = write_fake_smpl(tmp_path)
    assert find_smpl_file(tmp_path) == path and find_smpl_file(None) is None
    model = load_smpl_model(path)
    poses = _elbow_into_chest_pose()
    trans = np.array([[0.0, 0.0, 1.0], [0.5, 0.0, 1.0]])
    verts = smpl_vertices(model, poses, trans)
    assert verts.shape == (2, 192, 3)
    # Rest pose: the mesh is the template moved so its pelvis (cube 0 centre) sits at trans.
    np.testing.assert_allclose(verts[0], model.v_template + trans[0], atol=1e-9)
    # Skinning agrees with dance_rl's FK: each rigid cube stays centred on its FK joint.
    np.testing.assert_allclose(verts.reshape(2, 24, 8, 3).mean(axis=2), joints_np(poses, trans), atol=1e-6)
    counts = [count_self_intersections(v, model.faces) for v in verts]
    assert counts[0] == 0 and counts[1] > 0
    out = pen_rate(poses, trans, method="mesh", smpl_model=model)
    assert out["pen_method"] == "smpl_mesh"
    assert out["pen_rate"] == pytest.approx(np.mean(counts))
    assert pen_rate(poses, trans, method="mesh", smpl_model=model, frame_stride=2)["pen_rate"] == 0.0  # frame 0 only
    assert pen_rate(poses, trans, method="none")["pen_method"] == "none"


def test_bad_smpl_files_raise_user_error(tmp_path):
    bad = tmp_path / "SMPL_NEUTRAL.npz"
    np.savez(bad, v_template=np.zeros((3, 3)))
    with pytest.raises(UserError, match="missing"):
        load_smpl_model(bad)
    (tmp_path / "junk").mkdir()
    junk = tmp_path / "junk" / "SMPL_NEUTRAL.pkl"
    junk.write_bytes(b"cos\nsystem\n(S'echo hi'\ntR.")  # a pickle that would run a shell command
    with pytest.raises(UserError):
        load_smpl_model(junk)
