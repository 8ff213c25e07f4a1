"""Per-motion and per-set evaluation: every metric of the paper tables for a generated set against a reference set.

Inputs are :class:`dance_rl.motion.io.Motion` objects at 30 fps (z-up). Joint positions always come from FK of
``poses``/``trans`` with the mean-shape skeleton (as Skeleton2Stage evaluates ``smpl_poses``/``smpl_trans``), never
from a file's stored ``joints``, so generated and reference sets are measured on the same skeleton.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dance_rl.eval import bas as bas_mod
from dance_rl.eval.features import motion_features
from dance_rl.eval.fid import fid_div
from dance_rl.eval.penetration import pen_rate
from dance_rl.eval.physical import (
    PFC_SCALE,
    fgd_sums,
    foot_skating_ratio,
    motion_magnitude,
    motion_magnitude_lowpass,
    pfc,
    reduce_fgd,
)

FPS = 30.0


@dataclass
class EvalOptions:
    seconds: float = 20.0  # metrics use the first 20 s (600 frames); BAS its first 1200 frames at 60 fps
    pen_method: str = "auto"  # auto | mesh | capsule | none
    pen_frame_stride: int = 1
    smpl_model: object = None  # dance_rl.eval.smpl_mesh.SMPLModel or None
    phymotion: bool = True
    imitation: bool = True

    @property
    def max_frames(self) -> int:
        return int(round(self.seconds * FPS))


def rot6d_from_axis_angle(poses: np.ndarray) -> np.ndarray:
    import torch

    from dance_rl.motion.rotations import axis_angle_to_matrix, matrix_to_rot6d

    with torch.no_grad():
        return matrix_to_rot6d(axis_angle_to_matrix(torch.as_tensor(poses, dtype=torch.float64))).numpy()


def phymotion_scores(poses, trans) -> dict:
    """PhyMotion axes of one motion, always with the simulator (a broken MuJoCo import raises, never drops terms)."""
    from dance_rl.rewards.batch import MotionBatch
    from dance_rl.rewards.phymotion import phymotion

    out = phymotion(MotionBatch(poses[None], trans[None], FPS))
    d = out["diagnostics"]
    return {"phymotion": float(out["per_sample"][0]), "phymotion_kinematic": float(d["kinematic"][0]),
            "phymotion_contact": float(d["contact"][0]), "phymotion_dynamic": float(d["dynamic"][0]),
            "phymotion_sim_used": bool(d["sim_used"][0])}


def imitation_scores(poses, trans) -> dict:
    """Imitation reward and success of the simulator's tracking controller (dance_rl.rewards.imitation).

    Success = the tracked body neither fell (head below the termination height, Skeleton2Stage's criterion) nor
    diverged before the last frame; the set's rate is 1 - mean(failures), as PHC reports it. Skeleton2Stage's own
    "Succ." definition is unconfirmed, so this is comparable in spirit, not in digits.
    """
    from dance_rl.rewards.imitation import imitation_reward

    out = imitation_reward(poses[None], trans[None], FPS)
    d = out["diagnostics"]
    failed = bool(np.asarray(d["terminated"])[0]) or bool(np.asarray(d["failed"])[0])
    return {"imitation_reward": float(out["per_sample"][0]), "imitation_success": float(not failed),
            "imitation_survival": float(np.asarray(d["survival"])[0])}


def motion_metrics(motion, opts: EvalOptions, music_beats: np.ndarray | None = None) -> dict:
    """All per-motion numbers of one 30-fps Motion (first ``opts.seconds``); features are kept for FID/Div."""
    from dance_rl.motion.fk import joints_np

    n = opts.max_frames
    poses = np.asarray(motion.poses, dtype=np.float64)[:n]
    trans = np.asarray(motion.trans, dtype=np.float64)[:n]
    joints = joints_np(poses, trans)
    row: dict = {"frames": int(len(poses))}
    row["features"] = motion_features(joints, max_frames=None)
    # BAS uses the full motion up to 1200 frames at 60 fps (= 600 at 30 fps); same crop as above.
    row["bas"] = (bas_mod.motion_bas(joints, music_beats, FPS) if music_beats is not None else float("nan"))
    row["pfc"] = pfc(joints) * PFC_SCALE
    row["_fgd_sums"] = fgd_sums(joints)
    row["_fgd_floor_sums"] = fgd_sums(joints, ground=0.0)
    row.update(reduce_fgd([row["_fgd_sums"]]))
    row.update({k.replace("fgd", "fgd_floor"): v for k, v in reduce_fgd([row["_fgd_floor_sums"]]).items()})
    row["skating_ratio"] = foot_skating_ratio(joints, FPS)
    rot6d = rot6d_from_axis_angle(poses)
    row["motion_magnitude"] = motion_magnitude(rot6d, FPS)
    row["motion_lowpass"] = motion_magnitude_lowpass(rot6d, FPS)
    pen = pen_rate(poses, trans, FPS, opts.pen_method, opts.smpl_model, opts.pen_frame_stride)
    row["pen_rate"], row["pen_method"] = pen["pen_rate"], pen["pen_method"]
    if opts.phymotion:
        row.update(phymotion_scores(poses.astype(np.float32), trans.astype(np.float32)))
    if opts.imitation:
        row.update(imitation_scores(poses.astype(np.float32), trans.astype(np.float32)))
    return row


def _mean(rows, key) -> float:
    vals = [r[key] for r in rows if key in r and r[key] is not None and not _isnan(r[key])]
    return float(np.mean(vals)) if vals else float("nan")


def _isnan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)


def set_metrics(rows: list[dict]) -> dict:
    """Set-level numbers: means over motions (PFC as EDGE: mean of ×10⁴ values), FGD over the total frame count."""
    out = {"count": len(rows)}
    for key in ("bas", "pfc", "skating_ratio", "motion_magnitude", "motion_lowpass", "pen_rate", "phymotion",
                "phymotion_kinematic", "phymotion_contact", "phymotion_dynamic", "imitation_reward", "imitation_success"):
        out[key] = _mean(rows, key)
    out["bas_count"] = sum(1 for r in rows if not _isnan(r.get("bas", float("nan"))))
    out.update(reduce_fgd([r["_fgd_sums"] for r in rows]))
    out.update({k.replace("fgd", "fgd_floor"): v for k, v in reduce_fgd([r["_fgd_floor_sums"] for r in rows]).items()})
    methods = sorted({r["pen_method"] for r in rows})
    out["pen_method"] = methods[0] if len(methods) == 1 else "+".join(methods)
    return out


def stack_features(rows: list[dict]) -> dict[str, np.ndarray]:
    return {k: np.stack([r["features"][k] for r in rows]) for k in ("kinetic", "manual")}


def evaluate_sets(generated: list[dict], reference: list[dict]) -> dict:
    """Combine per-motion rows of both sets into the report (FID/Div need >= 2 motions per set)."""
    gen, ref = set_metrics(generated), set_metrics(reference)
    if len(generated) >= 2 and len(reference) >= 2:
        scores = fid_div(stack_features(generated), stack_features(reference))
        gen.update({k: scores[k] for k in ("fid_k", "fid_g", "div_k", "div_g")})
        ref.update({"div_k": scores["div_k_gt"], "div_g": scores["div_g_gt"]})
    return {"generated": gen, "reference": ref}


COLUMNS = (("FID_k", "fid_k", 2), ("FID_g", "fid_g", 2), ("Div_k", "div_k", 2), ("Div_g", "div_g", 2),
           ("BAS", "bas", 4), ("PFC", "pfc", 4), ("FGD", "fgd", 4), ("FGD floor", "fgd_floor", 4),
           ("Pen. rate", "pen_rate", 2), ("Skate", "skating_ratio", 4), ("Mot. mag.", "motion_magnitude", 4),
           ("PhyMotion", "phymotion", 4), ("Succ.", "imitation_success", 2))


def markdown_table(report: dict) -> str:
    """One row per set, the paper's columns first."""
    head = "| set | " + " | ".join(c[0] for c in COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 1)]
    for name in ("generated", "reference"):
        s = report[name]
        cells = []
        for _, key, digits in COLUMNS:
            v = s.get(key)
            cells.append("—" if v is None or _isnan(v) else f"{v:.{digits}f}")
        lines.append(f"| {name} ({s['count']}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def public_row(row: dict) -> dict:
    """A per-motion row without the private sums and feature vectors (what goes into JSON/CSV)."""
    return {k: v for k, v in row.items() if not k.startswith("_") and k != "features"}


def jsonable(v):
    """Nested dicts/lists of numpy scalars, Paths and floats → JSON-safe values (NaN/inf → None)."""
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, (float, np.floating)):
        return float(v) if np.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if hasattr(v, "__fspath__"):
        return str(v)
    return v


def rows_to_csv(rows: list[dict]) -> str:
    """CSV text with the union of the rows' keys as columns (first-seen order); missing values are empty."""
    import csv
    import io

    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    for r in rows:
        w.writerow({k: "" if r.get(k) is None else r.get(k) for k in keys})
    return buf.getvalue()
