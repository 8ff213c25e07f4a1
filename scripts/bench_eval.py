"""Evaluation cost per 20-s motion (600 frames at 30 fps), component by component, on real demo mocap.

    .venv/bin/python scripts/bench_eval.py [--clips 3] [--mesh-frames 20]

Prints seconds per 20-s motion for every metric of `python -m dance_rl.evaluate`, their sum, and the ratio to the
motion's own duration (< 1 = evaluates faster than real time). Music beats are per song (cached per song by the
CLI). The SMPL-mesh Pen. rate is timed on a stand-in mesh of SMPL's size (≈13k faces, cylinders around the bones;
SMPL itself is licence-gated) over ``--mesh-frames`` frames and scaled to 600.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

SECONDS = 20.0
FPS = 30.0


def _timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def proxy_smpl_model(segments: int = 24, rings: int = 13, radius: float = 0.045):
    """An SMPLModel-compatible mesh: one open cylinder per bone, rigidly skinned to the bone's parent joint."""
    from dance_rl.eval.smpl_mesh import SMPLModel
    from dance_rl.motion.skeleton import PARENTS, rest_joint_positions

    rest = rest_joint_positions().astype(np.float64)
    verts, faces, weights = [], [], []
    for c in range(1, 24):
        p = PARENTS[c]
        a, b = rest[p], rest[c]
        axis = (b - a) / max(np.linalg.norm(b - a), 1e-6)
        ref = np.array([1.0, 0, 0]) if abs(axis[0]) < 0.9 else np.array([0, 1.0, 0])
        u = np.cross(axis, ref)
        u /= np.linalg.norm(u)
        v = np.cross(axis, u)
        ang = np.linspace(0, 2 * np.pi, segments, endpoint=False)
        base = sum(len(x) for x in verts)
        ring = [a + (b - a) * s + radius * (np.cos(ang)[:, None] * u + np.sin(ang)[:, None] * v)
                for s in np.linspace(0.0, 1.0, rings)]
        verts.append(np.concatenate(ring))
        for r in range(rings - 1):
            for k in range(segments):
                i0, i1 = base + r * segments + k, base + r * segments + (k + 1) % segments
                faces += [[i0, i1, i0 + segments], [i1, i1 + segments, i0 + segments]]
        w = np.zeros((rings * segments, 24))
        w[:, p] = 1.0
        weights.append(w)
    V = sum(len(x) for x in verts)
    # The joint regressor reads 24 extra helper vertices placed on the joints (not part of any face).
    v_template = np.concatenate(verts + [rest])
    weights = np.concatenate(weights + [np.eye(24)])
    jreg = np.concatenate([np.zeros((24, V)), np.eye(24)], axis=1)
    n = len(v_template)
    return SMPLModel(v_template, np.asarray(faces, dtype=np.int64), jreg, weights, np.zeros((n, 3, 207)),
                     np.zeros((n, 3, 10)), np.array(PARENTS))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=3, help="demo clips to average over (dance_a, dance_b, spin, …)")
    ap.add_argument("--mesh-frames", type=int, default=20, help="frames for the mesh Pen. rate timing")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    from dance_rl.data.demo import clip_motion, music_for_motion, source_clip
    from dance_rl.eval import bas
    from dance_rl.eval.features import aist_frame
    from dance_rl.eval.kinetic import extract_kinetic_features
    from dance_rl.eval.manual import extract_manual_features
    from dance_rl.eval.penetration import capsule_pen_rate, mesh_pen_rate
    from dance_rl.eval.physical import fgd_sums, foot_skating_ratio, motion_magnitude, pfc
    from dance_rl.eval.report import imitation_scores, phymotion_scores, rot6d_from_axis_angle
    from dance_rl.motion.fk import joints_np
    from dance_rl.render.skeleton import render_frames

    names = ("dance_a", "dance_b", "spin", "jump", "kick", "punch")[:max(1, args.clips)]
    model = proxy_smpl_model()
    rows = {}
    for name in names:
        poses, trans = clip_motion(source_clip(name), seconds=SECONDS)
        joints, t_fk = _timed(joints_np, poses, trans)
        song, _, _ = music_for_motion(joints, FPS, SECONDS, sr=bas.SR)
        j_aist = aist_frame(joints)
        r = {"FK (600 frames)": t_fk}
        _, r["kinetic features"] = _timed(extract_kinetic_features, j_aist)
        _, r["manual features"] = _timed(extract_manual_features, j_aist)
        beats, r["music beats (per song)"] = _timed(bas.music_beats, song)
        _, r["BAS (motion side)"] = _timed(bas.motion_bas, joints, beats)
        t = time.perf_counter()
        pfc(joints), fgd_sums(joints), fgd_sums(joints, 0.0), foot_skating_ratio(joints)
        motion_magnitude(rot6d_from_axis_angle(poses))
        r["PFC+FGD+skate+magnitude"] = time.perf_counter() - t
        _, r["Pen. rate, sim capsules"] = _timed(capsule_pen_rate, poses, trans)
        idx = np.linspace(0, len(poses) - 1, args.mesh_frames).astype(int)
        _, t = _timed(mesh_pen_rate, poses[idx], trans[idx], model)
        r["Pen. rate, SMPL-size mesh*"] = t * len(poses) / len(idx)
        _, r["PhyMotion"] = _timed(phymotion_scores, poses.astype(np.float32), trans.astype(np.float32))
        _, r["imitation (tracking sim)"] = _timed(imitation_scores, poses.astype(np.float32), trans.astype(np.float32))
        _, r["render skeleton video frames"] = _timed(render_frames, joints)
        for k, v in r.items():
            rows.setdefault(k, []).append(v)
        print(f"{name}: done", flush=True)

    print(f"\nEvaluation time per 20-s motion (600 frames), mean of {len(names)} demo clips, 1 torch thread "
          f"(mesh Pen. rate: up to 4 numpy threads)")
    print(f"mesh: {len(model.faces)} faces (SMPL: 13776)\n")
    print("| component | s per 20-s motion | × real time |")
    print("|---|---|---|")
    for k, v in rows.items():
        print(f"| {k} | {np.mean(v):.3f} | {np.mean(v) / SECONDS:.3f} |")
    core = [k for k in rows if k not in ("render skeleton video frames", "Pen. rate, SMPL-size mesh*")]
    total_core = sum(np.mean(rows[k]) for k in core)
    total_mesh = total_core - np.mean(rows["Pen. rate, sim capsules"]) + np.mean(rows["Pen. rate, SMPL-size mesh*"])
    print(f"| **total, capsule Pen. rate** | {total_core:.3f} | {total_core / SECONDS:.3f} |")
    print(f"| **total, mesh Pen. rate** | {total_mesh:.3f} | {total_mesh / SECONDS:.3f} |")


if __name__ == "__main__":
    main()
