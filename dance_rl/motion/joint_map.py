"""Which source joint drives which SMPL-24 joint: built-in presets, detection from joint names, user mapping files.

A mapping names, for each SMPL joint, one joint of the source skeleton. Every SMPL joint that has children (19 of
them) must be mapped, because its rotation is what points its bones; the five leaves (toes, head, hands) are optional
(unmapped → no rotation relative to the parent). Two SMPL joints may share a source joint when the source has fewer
spine or collar joints (the bone between them is then zero-length and simply follows the source's rotation).

Names are compared without namespace prefixes (``mixamorig:Hips`` → ``Hips``) and case-insensitively.

Mapping file (YAML or JSON): ``{smpl joint: source joint}``, SMPL joints by our names (``lhip``) or the usual SMPL
names (``left_hip``); optional keys ``preset: NAME`` (start from a preset and override some joints) and
``up: y|z`` (the source's up axis, default detected from the motion).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from dance_rl.errors import UserError
from dance_rl.motion.skeleton import JOINT_NAMES, children

LEAVES = tuple(j for j in range(len(JOINT_NAMES)) if not children(j))  # toes, head, hands
REQUIRED = tuple(j for j in range(len(JOINT_NAMES)) if children(j))

# The usual SMPL joint names, accepted in mapping files next to ours.
SMPL_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle", "right_ankle",
    "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)


def _side(left: dict[str, str]) -> dict[str, str]:
    """A left-side table plus its right-side mirror (our joint names l… → r…, source names Left → Right)."""
    out = dict(left)
    for ours, theirs in left.items():
        if ours.startswith("l"):
            out["r" + ours[1:]] = (theirs.replace("Left", "Right").replace("_L", "_R")
                                   .replace("LHip", "RHip").replace("LThumb", "RThumb"))
    return out


_TRUNK = dict(root="Hips", neck="Neck", head="Head")
_LIMBS = dict(lhip="LeftUpLeg", lknee="LeftLeg", lankle="LeftFoot", ltoes="LeftToeBase", linshoulder="LeftShoulder",
              lshoulder="LeftArm", lelbow="LeftForeArm", lwrist="LeftHand")


@dataclass(frozen=True)
class Preset:
    """A naming convention: our joint → source joint, plus names only this convention uses (for detection)."""
    name: str
    joints: dict
    markers: tuple = ()


PRESETS = {p.name: p for p in (
    # CMU mocap as converted to BVH (cgspeed/Bruce Hahne): LowerBack, Spine, Spine1; LHipJoint sits between Hips
    # and LeftUpLeg.
    Preset("cmu", {**_TRUNK, **_side({**_LIMBS, "lhand": "LeftFingerBase"}), "belly": "LowerBack", "spine": "Spine",
                   "chest": "Spine1"}, ("LowerBack", "LHipJoint", "LeftFingerBase")),
    # Mixamo exports (joint names carry a "mixamorig:" namespace, removed before matching).
    Preset("mixamo", {**_TRUNK, **_side({**_LIMBS, "lhand": "LeftHandMiddle1"}), "belly": "Spine", "spine": "Spine1",
                      "chest": "Spine2"}, ("mixamorig", "LeftHandMiddle1", "HeadTop_End")),
    # Ubisoft LAFAN1: Spine, Spine1, Spine2; toes are LeftToe.
    Preset("lafan1", {**_TRUNK, **_side({**_LIMBS, "ltoes": "LeftToe"}), "belly": "Spine", "spine": "Spine1",
                      "chest": "Spine2"}, ("LeftToe",)),
    # Bandai Namco Research motion dataset: Spine, Chest; _L/_R suffixes.
    Preset("bandai_namco", {**_TRUNK, **_side(dict(
        lhip="UpperLeg_L", lknee="LowerLeg_L", lankle="Foot_L", ltoes="Toes_L", linshoulder="Shoulder_L",
        lshoulder="UpperArm_L", lelbow="LowerArm_L", lwrist="Hand_L")), "belly": "Spine", "spine": "Chest",
        "chest": "Chest"}, ("UpperArm_L", "Toes_L")),
    # Motorica dance dataset: Spine … Spine3, Neck, Neck1, Head.
    Preset("motorica", {**_TRUNK, **_side(_LIMBS), "belly": "Spine1", "spine": "Spine2", "chest": "Spine3"},
           ("Spine3", "Neck1")),
)}


def base_name(name: str) -> str:
    """``mixamorig:LeftArm`` → ``leftarm``: namespace removed, lower case (how names are compared)."""
    return name.rsplit(":", 1)[-1].strip().lower()


@dataclass
class JointMap:
    """Resolved mapping: SMPL joint index → source joint index; ``up`` = "y", "z" or None (detect)."""
    source: list[int | None]
    name: str
    up: str | None = None


def _resolve(table: dict[str, str], names: list[str], label: str, where: str) -> list[int | None]:
    """Our-joint → source-name table → index list; a missing name → UserError naming it and the fix."""
    lookup = {base_name(n): i for i, n in enumerate(names)}
    out: list[int | None] = [None] * len(JOINT_NAMES)
    for ours, theirs in table.items():
        j = JOINT_NAMES.index(ours)
        idx = lookup.get(base_name(theirs))
        if idx is None:
            if j in REQUIRED:
                raise UserError(f"{where}: mapping {label} names source joint '{theirs}' for {ours}, but the file "
                                f"has no such joint (it has {', '.join(names[:8])}, ...); fix the mapping")
            continue
        out[j] = idx
    missing = [JOINT_NAMES[j] for j in REQUIRED if out[j] is None]
    if missing:
        raise UserError(f"{where}: mapping {label} does not map {', '.join(missing)}; add them to the mapping file")
    return out


def detect_preset(names: list[str]) -> Preset | None:
    """The preset whose required joints are all present, preferring one whose marker names appear; else None."""
    have = {base_name(n) for n in names} | {n.split(":")[0].lower() for n in names if ":" in n}
    best, best_score = None, None
    for p in PRESETS.values():
        if not all(base_name(p.joints[JOINT_NAMES[j]]) in have for j in REQUIRED):
            continue
        score = (sum(base_name(m) in have for m in p.markers), sum(base_name(v) in have for v in p.joints.values()))
        if best_score is None or score > best_score:
            best, best_score = p, score
    return best


def read_mapping_file(path: str | os.PathLike) -> dict:
    """Parse and check a mapping file (names only; source joints are checked against each BVH later)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"{path}: mapping file not found; pass a YAML/JSON file of 'smpl_joint: source_joint' lines")
    try:
        text = path.read_text()
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as e:
        raise UserError(f"{path}: not valid YAML/JSON ({str(e).splitlines()[0]}); write 'smpl_joint: source_joint' "
                        f"lines") from None
    if not isinstance(data, dict) or not data:
        raise UserError(f"{path}: expected a mapping of 'smpl_joint: source_joint' lines, got {type(data).__name__}")
    table, preset, up = {}, None, None
    for key, value in data.items():
        key = str(key).strip()
        if key == "preset":
            if value not in PRESETS:
                raise UserError(f"{path}: preset {value!r} is unknown; use one of {', '.join(PRESETS)}")
            preset = str(value)
        elif key == "up":
            if str(value).lower() not in ("y", "z"):
                raise UserError(f"{path}: up must be 'y' or 'z', got {value!r}")
            up = str(value).lower()
        else:
            ours = key if key in JOINT_NAMES else (JOINT_NAMES[SMPL_NAMES.index(key)] if key in SMPL_NAMES else None)
            if ours is None:
                raise UserError(f"{path}: '{key}' is not an SMPL-24 joint; use one of {', '.join(JOINT_NAMES)} "
                                f"(or {', '.join(SMPL_NAMES[:3])}, ...)")
            if not isinstance(value, str) or not value.strip():
                raise UserError(f"{path}: joint '{key}' must map to a source joint name, got {value!r}")
            table[ours] = value.strip()
    return {"path": str(path), "joints": table, "preset": preset, "up": up}


def resolve_mapping(names: list[str], mapping: str | os.PathLike | dict | None, where: str) -> JointMap:
    """Map the joints of a source skeleton ``names``: a mapping file (or its parsed dict), else a detected preset."""
    if mapping is not None:
        spec = mapping if isinstance(mapping, dict) else read_mapping_file(mapping)
        table = {**(PRESETS[spec["preset"]].joints if spec.get("preset") else {}), **spec["joints"]}
        label = f"file {spec.get('path', '')}".strip()
        return JointMap(_resolve(table, names, label, where), label, spec.get("up"))
    preset = detect_preset(names)
    if preset is None:
        raise UserError(f"{where}: joints {', '.join(names[:6])}, ... are not SMPL-24 and match no mapping preset "
                        f"({', '.join(PRESETS)}); write a mapping file (smpl_joint: source_joint) and pass --mapping")
    return JointMap(_resolve(preset.joints, names, f"preset {preset.name}", where), preset.name)
