"""How the issue-13 reward fixes respond on real motion (numbers behind rewards/antifreeze.py, phymotion.py, fgd.py).

    python scripts/measure_reward_response.py                       # demo mocap only (seconds)
    python scripts/measure_reward_response.py --checkpoint .cache/dance_rl/base_model/demo_v2.pt \
        --music /work/heldout_music --groups 12 [--imitation]       # + samples of a model, 4 per music window

Prints markdown tables:
1. anti-freezing (Skeleton2Stage "both" vs the "kinetic" default) when motion drops (corruption ``damp``; 0.36 is the
   base → crouch drop 0.14 → 0.09 of issue 13), on clean clips and with rotation jitter added after the drop;
2. PhyMotion self-collision percent and kinematic score, graded vs release, as the arms are pushed into the torso;
3. FGD per-frame advantages after Skeleton2Stage's per-frame normalisation, defective vs clean frames;
4. with --checkpoint: the model's samples (10 DDIM steps, eta 1, as RL sampling): motion magnitude, how each
   anti-freezing form ranks the 4 samples of a music window against motion magnitude (mean Spearman), its response
   to ``damp`` 0.36, posture, and with --imitation the within-window spread of the imitation reward (what
   ``rl.adv_std_floor.imitation`` should exceed to count as signal).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from dance_rl.errors import UserError, cli_main
from dance_rl.eval.posture import posture_stats
from dance_rl.motion.representation import ROT_SLICE
from dance_rl.rewards.antifreeze import antifreeze, motion_magnitude
from dance_rl.rewards.batch import MotionBatch
from dance_rl.rewards.corruptions import corrupt

CLIPS = ("dance_a", "dance_b", "walk", "punch", "jump", "spin")


def _mm(poses: np.ndarray) -> np.ndarray:
    from dance_rl.eval.report import rot6d_from_axis_angle

    return np.array([motion_magnitude(rot6d_from_axis_angle(p), 30.0) for p in poses])


def _variant(poses, trans, damp: float, jitter: float):
    p, t = corrupt(poses, trans, 30.0, "damp", damp)
    return corrupt(p, t, 30.0, "jitter", jitter, seed=0)


def antifreeze_table(poses: np.ndarray, trans: np.ndarray, levels=((0.0, 0.36), (0.7, 0.81)),
                     jitters=(0.0, 0.005, 0.02, 0.04)) -> list[str]:
    rows = ["| start damp | jitter rad | motion magnitude | 'both' after/before | 'kinetic' after/before |",
            "|---|---|---|---|---|"]
    for lo, hi in levels:
        for jit in jitters:
            (p0, t0), (p1, t1) = _variant(poses, trans, lo, jit), _variant(poses, trans, hi, jit)
            b0, b1 = MotionBatch(p0, t0), MotionBatch(p1, t1)
            ratio = {k: np.median(antifreeze(b1, terms=k)["per_sample"] / antifreeze(b0, terms=k)["per_sample"])
                     for k in ("both", "kinetic")}
            rows.append(f"| {lo} | {jit} | {_mm(p0).mean():.3f} → {_mm(p1).mean():.3f} | {ratio['both']:.2f} | "
                        f"{ratio['kinetic']:.2f} |")
    return rows


def self_collision_table(clips: dict) -> list[str]:
    from dance_rl.rewards.phymotion import phymotion_terms

    levels = (0.0, 0.3, 0.6, 0.9, 1.2, 1.5)
    rows = ["| clip | self_penetrate rad → pct / kinematic graded / kinematic release |", "|---|---|"]
    for name, (p, t) in clips.items():
        pp, tt = zip(*(corrupt(p, t, 30.0, "self_penetrate", s) for s in levels))
        batch = MotionBatch(np.stack(pp), np.stack(tt))
        graded, diag = phymotion_terms(batch)
        release, _ = phymotion_terms(batch, self_collision="release")
        cells = [f"{s}: {pc:.0f} / {g:.3f} / {r:.3f}" for s, pc, g, r in
                 zip(levels, diag["kin_self_collision_pct"], graded["kinematic"], release["kinematic"])]
        rows.append(f"| {name} | {'; '.join(cells)} |")
    return rows


def fgd_table(clips: dict) -> list[str]:
    from dance_rl.rewards.fgd import fgd
    from dance_rl.rl.advantages import AdvantageComputer

    rows = ["| clip | per-sample FGD clean / defective | defect frames: A clean copy / A defective |", "|---|---|---|"]
    names = list(clips)
    for i, name in enumerate(names[:4]):
        p, t = clips[name]
        bad = t.copy()
        bad[40:56, 2] -= 0.06
        bad[90:106, 2] += 0.08
        others = [clips[n] for n in names if n != name][:2]
        batch = MotionBatch(np.stack([p, p] + [o[0] for o in others]), np.stack([t, bad] + [o[1] for o in others]))
        r = fgd(batch)
        adv, _ = AdvantageComputer({"fgd": 1.0}, batch.num_frames)(["m"] * 4, {"fgd": r})
        d = np.r_[40:56, 90:106]
        rows.append(f"| {name} | {r['per_sample'][0]:.3f} / {r['per_sample'][1]:.3f} | "
                    f"{adv[0, d].mean():+.2f} / {adv[1, d].mean():+.2f} |")
    return rows


def model_tables(checkpoint: str, music: str, groups: int, imitation: bool) -> list[str]:
    import torch
    from scipy.stats import spearmanr

    from dance_rl.diffusion.checkpoint import load_model
    from dance_rl.diffusion.sampler import ddim_sample
    from dance_rl.diffusion.schedule import NoiseSchedule
    from dance_rl.music.features import extract_features

    tracks = sorted(p for p in Path(music).iterdir() if p.suffix.lower() in (".ogg", ".wav", ".mp3", ".flac"))
    if not tracks:
        raise UserError(f"--music {music}: no .ogg/.wav/.mp3/.flac files; pass a folder of music")
    model, normalizer, _ = load_model(checkpoint)
    rng = np.random.default_rng(0)
    conds = []
    for i in range(groups):
        f = extract_features(tracks[i % len(tracks)])
        if f.shape[0] < model.spec.seq_len:
            raise UserError(f"{tracks[i % len(tracks)]}: shorter than one {model.spec.seq_len}-frame window")
        s = int(rng.integers(0, f.shape[0] - model.spec.seq_len + 1))
        conds.append(f[s:s + model.spec.seq_len])
    cond = torch.as_tensor(np.repeat(np.stack(conds), 4, axis=0))
    with torch.inference_mode():
        x0 = ddim_sample(model, NoiseSchedule(1000), cond, steps=10, eta=1.0, guidance_weight=2.0,
                         generator=torch.Generator().manual_seed(0), return_chain=False).x0
    feats = normalizer.unnormalize(x0).numpy()
    batch = MotionBatch.from_features(feats)
    mm = np.array([motion_magnitude(f[:, ROT_SLICE], 30.0) for f in feats])
    rows = [f"samples: {len(mm)} ({groups} windows x 4), motion magnitude {mm.mean():.3f}; posture: " +
            ", ".join(f"{k} {v:.3f}" for k, v in posture_stats(batch.joints).items() if "_p" not in k), "",
            "| anti-freezing form | mean Spearman with motion magnitude within a window | after damp 0.36 / before |",
            "|---|---|---|"]
    damped = MotionBatch(*corrupt(batch.poses, batch.trans, 30.0, "damp", 0.36))
    for k in ("both", "kinetic"):
        r = antifreeze(batch, terms=k)["per_sample"]
        rho = np.nanmean([spearmanr(r[g * 4:(g + 1) * 4], mm[g * 4:(g + 1) * 4])[0] for g in range(groups)])
        ratio = np.median(antifreeze(damped, terms=k)["per_sample"] / r)
        rows.append(f"| {k} | {rho:.2f} | {ratio:.2f} |")
    if imitation:
        from dance_rl.rewards.composite import score

        imit = score(batch, {"imitation": 1.0})["components"]["imitation"]["per_sample"].reshape(groups, 4)
        rows += ["", f"imitation: mean {imit.mean():.3f}, within-window std median {np.median(imit.std(1)):.4f} "
                     f"(10-90%: {np.percentile(imit.std(1), 10):.4f}-{np.percentile(imit.std(1), 90):.4f})"]
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default=None, help="also measure samples of this model")
    ap.add_argument("--music", default=None, help="folder of music files for --checkpoint")
    ap.add_argument("--groups", type=int, default=12, help="music windows (4 samples each)")
    ap.add_argument("--imitation", action="store_true", help="also score imitation on the samples (slow)")
    ap.add_argument("--no-sim", action="store_true", help="skip the PhyMotion table (needs MuJoCo)")
    args = ap.parse_args(argv)
    if args.checkpoint and not args.music:
        raise UserError("--checkpoint needs --music FOLDER (held-out music to sample on)")
    from dance_rl.data import demo

    clips = {n: demo.clip_motion(demo.source_clip(n), seconds=5.0) for n in CLIPS}
    poses, trans = np.stack([c[0] for c in clips.values()]), np.stack([c[1] for c in clips.values()])
    out = ["## anti-freezing response (demo mocap, median over clips)", *antifreeze_table(poses, trans), ""]
    if not args.no_sim:
        out += ["## self-collision (demo mocap)", *self_collision_table({n: clips[n] for n in CLIPS[:4]}), ""]
    out += ["## FGD per-frame advantages (demo mocap)", *fgd_table(clips), ""]
    if args.checkpoint:
        out += [f"## samples of {args.checkpoint}", *model_tables(args.checkpoint, args.music, args.groups,
                                                                   args.imitation)]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(cli_main(main))
