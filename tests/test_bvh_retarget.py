"""BVH import for foreign skeletons: bone directions equal the source's, feet on the ground, 30 fps; presets and
mapping files; our own export imports exactly."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from dance_rl.errors import UserError
from dance_rl.motion.bvh import read_bvh, save_bvh
from dance_rl.motion.bvh_retarget import load_bvh
from dance_rl.motion.fk import joints_np
from dance_rl.motion.io import Motion, load_any
from dance_rl.motion.joint_map import PRESETS, detect_preset, read_mapping_file
from dance_rl.motion.skeleton import JOINT_NAMES, OFFSETS, PARENTS

SMPL = {n: OFFSETS[i].astype(np.float64) for i, n in enumerate(JOINT_NAMES)}
Y_TO_Z = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])


def _chain(side: str, names: dict, hand: str | None, toe_end: str) -> list:
    """(name, parent, offset y-up metres) for one side's leg and arm, SMPL proportions, legs 10 % longer."""
    s = side[0].lower()
    L = {k: v.replace("Left", side) for k, v in names.items()}
    return [
        (L["hip"], L["hip_parent"], SMPL[f"{s}hip"]), (L["knee"], L["hip"], SMPL[f"{s}knee"] * 1.1),
        (L["ankle"], L["knee"], SMPL[f"{s}ankle"] * 1.1), (L["toe"], L["ankle"], SMPL[f"{s}toes"]),
        (toe_end.replace("Left", side), L["toe"], SMPL[f"{s}toes"] * 0.4),
        (L["collar"], L["chest"], SMPL[f"{s}inshoulder"]), (L["arm"], L["collar"], SMPL[f"{s}shoulder"]),
        (L["fore"], L["arm"], SMPL[f"{s}elbow"] * 0.9), (L["hand"], L["fore"], SMPL[f"{s}wrist"] * 0.9),
    ] + ([(hand.replace("Left", side), L["hand"], SMPL[f"{s}hand"])] if hand else [])


def cmu_skeleton() -> list:
    """CMU-style: LHipJoint (zero offset) before LeftUpLeg, LowerBack/Spine/Spine1, Neck + Neck1 before Head."""
    bones = [("Hips", None, np.zeros(3)), ("LowerBack", "Hips", SMPL["belly"]), ("Spine", "LowerBack", SMPL["spine"]),
             ("Spine1", "Spine", SMPL["chest"]), ("Neck", "Spine1", SMPL["neck"]),
             ("Neck1", "Neck", SMPL["head"] * 0.5), ("Head", "Neck1", SMPL["head"] * 0.5),
             ("HeadEnd", "Head", np.array([0, 0.12, 0]))]
    for side, hj in (("Left", "LHipJoint"), ("Right", "RHipJoint")):
        bones.append((hj, "Hips", np.zeros(3)))
        names = dict(hip="LeftUpLeg", hip_parent=hj, knee="LeftLeg", ankle="LeftFoot", toe="LeftToeBase",
                     collar="LeftShoulder", chest="Spine1", arm="LeftArm", fore="LeftForeArm", hand="LeftHand")
        bones += _chain(side, names, "LeftFingerBase", "LeftToeEnd")
    return bones


def mixamo_skeleton() -> list:
    """Mixamo-style: mixamorig: namespace, Spine/Spine1/Spine2, A-pose rest (arms 45° down), HeadTop_End."""
    bones = [("Hips", None, np.zeros(3)), ("Spine", "Hips", SMPL["belly"]), ("Spine1", "Spine", SMPL["spine"]),
             ("Spine2", "Spine1", SMPL["chest"]), ("Neck", "Spine2", SMPL["neck"]), ("Head", "Neck", SMPL["head"]),
             ("HeadTop_End", "Head", np.array([0, 0.15, 0.02]))]
    for side in ("Left", "Right"):
        names = dict(hip="LeftUpLeg", hip_parent="Hips", knee="LeftLeg", ankle="LeftFoot", toe="LeftToeBase",
                     collar="LeftShoulder", chest="Spine2", arm="LeftArm", fore="LeftForeArm", hand="LeftHand")
        chain = _chain(side, names, "LeftHandMiddle1", "LeftToe_End")
        down = Rotation.from_euler("z", -45 if side == "Left" else 45, degrees=True).as_matrix()
        bones += [(n, p, down @ o if n.endswith(("ForeArm", "Hand", "HandMiddle1")) else o) for n, p, o in chain]
    return [("mixamorig:" + n, None if p is None else "mixamorig:" + p, o) for n, p, o in bones]


def write_bvh(path, bones, order: str, fps: float, scale: float, up: str, six: bool, rng, frames=90, still=20):
    """Write a BVH of ``bones`` with smooth random rotations (first ``still`` frames frozen) and return
    (world positions (F,J,3) in metres, z-up, by our own FK of the generated values, names)."""
    names = [b[0] for b in bones]
    parents = [None if b[1] is None else names.index(b[1]) for b in bones]
    conv = np.eye(3) if up == "y" else Y_TO_Z  # the file's axes
    offsets = np.array([conv @ b[2] for b in bones]) * scale
    leaves = {j for j in range(len(names)) if j not in parents}
    t = np.maximum(np.arange(frames) - still, 0) / fps
    n = len(names)
    phase, freq = rng.uniform(0, 2 * np.pi, (n, 3)), rng.uniform(0.3, 1.5, (n, 3))
    amp = np.where(np.arange(n)[:, None] == 0, 25.0, 35.0) * np.ones((n, 3))
    angles = amp[None] * np.sin(2 * np.pi * freq[None] * t[:, None, None] + phase[None])  # (F,J,3) deg
    angles[:, 0, order.index(up.upper())] += 200 * t  # the root turns about the up axis
    angles[:, [j for j, nm in enumerate(names) if nm.endswith("HipJoint")]] = 0.0  # rigid pelvis, as CMU files
    rots = Rotation.from_euler(order, angles.reshape(-1, 3), degrees=True).as_matrix().reshape(frames, n, 3, 3)
    root = np.stack([0.4 * np.sin(t), 1.3 + 0.1 * np.sin(3 * t), 0.3 * t], -1) @ conv.T * scale  # floats 30 cm up
    # our FK
    world, pos = np.zeros((frames, n, 3, 3)), np.zeros((frames, n, 3))
    for j, p in enumerate(parents):
        if p is None:
            world[:, j], pos[:, j] = rots[:, j], root
        else:
            world[:, j] = world[:, p] @ rots[:, j]
            pos[:, j] = pos[:, p] + world[:, p] @ offsets[j]
    rot_ch = [f"{a}rotation" for a in order]
    pos_ch = ["Xposition", "Yposition", "Zposition"]
    lines, cols = ["HIERARCHY"], []

    def block(j, depth):
        ind = "\t" * depth
        kind = "ROOT" if parents[j] is None else "JOINT"
        ch = pos_ch + rot_ch if (parents[j] is None or six) else rot_ch
        lines.extend([f"{ind}{kind} {names[j]}", f"{ind}{{", f"{ind}\tOFFSET {' '.join(map(str, offsets[j]))}",
                      f"{ind}\tCHANNELS {len(ch)} {' '.join(ch)}"])
        if parents[j] is None:
            cols.append(root - offsets[j])
        elif six:
            cols.append(np.tile(offsets[j], (frames, 1)))  # MotionBuilder style: the whole translation
        cols.append(angles[:, j])
        for k in range(n):
            if parents[k] == j:
                block(k, depth + 1)
        if j in leaves:
            lines.extend([f"{ind}\tEnd Site", f"{ind}\t{{", f"{ind}\t\tOFFSET 0 {scale * 0.05} 0", f"{ind}\t}}"])
        lines.append(f"{ind}}}")

    block(0, 0)
    lines += ["MOTION", f"Frames: {frames}", f"Frame Time: {1.0 / fps:.8f}"]
    table = np.concatenate(cols, axis=1)
    lines += [" ".join(f"{v:.6f}" for v in row) for row in table]
    path.write_text("\n".join(lines) + "\n")
    return (pos / scale) @ (Y_TO_Z if up == "y" else np.eye(3)).T, names


CASES = {  # style: (skeleton, channel order, fps, scale to file units, up, 6 channels on every joint)
    "cmu": (cmu_skeleton, "ZYX", 120.0, 100 / 2.54, "y", False),  # inches
    "mixamo": (mixamo_skeleton, "ZXY", 60.0, 100.0, "y", True),  # centimetres, A-pose rest
    "cmu_zup_m": (cmu_skeleton, "XYZ", 30.0, 1.0, "z", False),  # metres, z up
}


@pytest.mark.parametrize("case", list(CASES))
def test_foreign_bvh_matches_source_bone_directions(tmp_path, rng, case):
    build, order, fps, scale, up, six = CASES[case]
    path = tmp_path / f"{case}.bvh"
    src_pos, names = write_bvh(path, build(), order, fps, scale, up, six, rng)
    preset = PRESETS["mixamo" if case == "mixamo" else "cmu"]
    assert detect_preset(read_bvh(path).names) is preset
    m = load_any(path)
    step = int(round(fps / 30))
    assert m.fps == 30.0 and m.num_frames == (len(src_pos) - 1) // step + 1
    src = src_pos[::step]
    idx = {JOINT_NAMES.index(k): [n.split(":")[-1] for n in names].index(v) for k, v in preset.joints.items()}
    joints = joints_np(m.poses, m.trans)
    for c in range(1, 24):
        p = PARENTS[c]
        ref = src[:, idx[c]] - src[:, idx[p]]
        if np.linalg.norm(ref[0]) < 1e-6:
            continue
        got = joints[:, c] - joints[:, p]
        cos = np.sum(ref * got, -1) / np.linalg.norm(ref, axis=-1) / np.linalg.norm(got, axis=-1)
        assert cos.min() >= 0.99, (JOINT_NAMES[c], cos.min())
    # Feet on the ground: during the 20 still frames (feet planted) the lowest joint touches z = 0.
    low = joints[..., 2].min(-1)
    np.testing.assert_allclose(low[: 20 // step], 0.0, atol=0.01)
    # Root path scaled to SMPL's leg length: the source's legs are 10 % longer.
    np.testing.assert_allclose(m.trans - m.trans[0], (src[:, 0] - src[0, 0]) / 1.1, atol=1e-4)


def test_smpl_export_import_is_identity(tmp_path, rng):
    poses = rng.normal(0, 0.6, (12, 24, 3))
    poses[:, 0] += [np.pi / 2, 0, 0]
    m = Motion(poses.astype(np.float32), rng.normal(0, 1, (12, 3)).astype(np.float32), 30.0)
    for units in ("m", "cm"):
        back = load_any(save_bvh(m, tmp_path / f"own_{units}.bvh", units=units))
        r0 = Rotation.from_rotvec(m.poses.reshape(-1, 3)).as_matrix()
        r1 = Rotation.from_rotvec(back.poses.reshape(-1, 3)).as_matrix()
        np.testing.assert_allclose(r1, r0, atol=1e-4)
        np.testing.assert_allclose(back.trans, m.trans, atol=1e-4)
        assert back.fps == 30.0 and back.num_frames == 12


def test_mapping_file_overrides_detection(tmp_path, rng):
    path = tmp_path / "odd.bvh"
    bones = [(n.replace("Left", "L_").replace("Right", "R_"), None if p is None else
              p.replace("Left", "L_").replace("Right", "R_"), o) for n, p, o in cmu_skeleton()]
    write_bvh(path, bones, "ZYX", 30.0, 1.0, "y", False, rng, frames=40)
    with pytest.raises(UserError, match="match no mapping preset"):
        load_bvh(path)
    table = {k: v.replace("Left", "L_").replace("Right", "R_") for k, v in PRESETS["cmu"].joints.items()}
    mapping = tmp_path / "map.yaml"
    mapping.write_text("\n".join(f"{k}: {v}" for k, v in table.items()) + "\nup: y\n")
    m = load_bvh(path, mapping=mapping)
    assert m.num_frames == 40 and np.all(np.isfinite(m.poses))
    assert read_mapping_file(mapping)["up"] == "y"


@pytest.mark.parametrize("text, match", [
    ("root: Hips\nelbow_thing: X\n", "not an SMPL-24 joint"),
    ("root: [1, 2]\n", "must map to a source joint name"),
    ("root: Hips\n  bad: : indent\n", "not valid YAML"),
    ("preset: kinect\n", "preset 'kinect' is unknown"),
    ("- root\n", "expected a mapping"),
])
def test_bad_mapping_file(tmp_path, capsys, text, match):
    from dance_rl.data.__main__ import main
    from dance_rl.errors import cli_main

    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(UserError, match=match):
        read_mapping_file(bad)
    for sub in ("motions", "music"):
        (tmp_path / sub).mkdir()
    argv = ["folder", "--motions", str(tmp_path / "motions"), "--music", str(tmp_path / "music"),
            "--out", str(tmp_path / "out"), "--mapping", str(bad)]
    assert cli_main(main, argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and match.split()[0] in err
    assert not (tmp_path / "out").exists()


def test_bad_mapping_file_cli_exit_2(tmp_path):
    """The real command line: one line on stderr, exit status 2, no output folder."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("root: Hips\nlknee: [oops]\n")
    proc = subprocess.run([sys.executable, "-m", "dance_rl.data", "folder", "--motions", str(tmp_path),
                           "--music", str(tmp_path), "--out", str(tmp_path / "out"), "--mapping", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "lknee" in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", list(PRESETS))
def test_each_preset_is_detected_from_its_names(name):
    names = list(PRESETS[name].joints.values()) + ["SomethingElse"]
    if name == "mixamo":
        names = [f"mixamorig1:{n}" for n in names]
    assert detect_preset(names) is PRESETS[name]
