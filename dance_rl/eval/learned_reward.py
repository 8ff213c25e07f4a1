"""How good is a learned reward model: ranking accuracy, the physics of its ranks, validity on corrupted mocap.

* pair accuracy: on held-out music, for every pair of ranks (real, ε = 0.02 … 1.0) the fraction of windows where
  the better rank scores higher (E3D2's figure 3 as a table).
* physics per rank: mean physical metrics of each rank's motions (foot skating ratio, PFC, FGD to the z = 0 floor,
  jerk), and whether each grows monotonically with ε: the automatic ranking is only a ranking if it does.
* validity: real mocap with held-out music, each corruption of `rewards.corruptions` at the severities of
  tests/test_rewards_validity.py: the clean clip must score above every corrupted copy, and the reward should fall
  strictly with severity.
"""
from __future__ import annotations

import numpy as np

from dance_rl.eval.physical import fgd as fgd_metric
from dance_rl.eval.physical import foot_skating_ratio, pfc
from dance_rl.rewards.batch import MotionBatch
from dance_rl.rewards.corruptions import corrupt
from dance_rl.rewards.learned import score_net
from dance_rl.rewards.ranked_demos import demo_inputs, pair_accuracy, score_inputs

VALIDITY_CLIPS = ("dance_a", "dance_b", "walk", "punch")
VALIDITY_CASES = {  # the severities of tests/test_rewards_validity.py (sink: the fgd_ground levels)
    "slide": (0.1, 0.2, 0.4, 0.8),
    "float": (0.02, 0.05, 0.1, 0.2),
    "sink": (0.04, 0.08, 0.12, 0.16),
    "jitter": (0.005, 0.01, 0.015, 0.02),
    "freeze": (0.25, 0.5, 0.75, 1.0),
    "self_penetrate": (0.1, 0.2, 0.3),
}


def jerk(joints: np.ndarray, fps: float) -> float:
    """Mean joint jerk magnitude (m/s³) of one sequence: the roughness that injected noise adds."""
    d3 = np.diff(np.asarray(joints, np.float64), n=3, axis=0) * fps ** 3
    return float(np.linalg.norm(d3, axis=-1).mean())


def physics_per_rank(features: np.ndarray, fps: float) -> dict[str, list[float]]:
    """features (R, N, T, 151) → {metric: [mean over the N windows of rank r]}."""
    r, n = features.shape[:2]
    joints = MotionBatch.from_features(features.reshape((r * n,) + features.shape[2:]), fps=fps).joints
    joints = joints.reshape((r, n) + joints.shape[1:])
    out = {"foot_skating_ratio": [], "pfc": [], "fgd_ground_mm": [], "jerk": []}
    for rank in joints:
        out["foot_skating_ratio"].append(float(np.mean([foot_skating_ratio(j, fps) for j in rank])))
        out["pfc"].append(float(np.mean([pfc(j, 1.0 / fps) for j in rank]) * 1e4))
        out["fgd_ground_mm"].append(float(np.mean([fgd_metric(j, 0.0)["fgd"] for j in rank])))
        out["jerk"].append(float(np.mean([jerk(j, fps) for j in rank])))
    return out


def validity_clips(data_cfg) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """{clip: (poses (T,24,3), trans (T,3), music (T,35))}: the first held-out (test-split) window of each
    VALIDITY_CLIPS source clip, i.e. real mocap with music the reward model never saw."""
    from dance_rl.data.dataset import dataset_from_config

    ds = dataset_from_config(data_cfg, "test")
    out = {}
    for i in range(len(ds)):
        cid, start = ds.window_info(i)
        name = next((c for c in VALIDITY_CLIPS if cid.startswith(c + "_")), None)
        if name is None or name in out:
            continue
        motion, music = ds.raw_item(i)
        b = MotionBatch.from_features(motion.numpy()[None], fps=data_cfg.fps)
        out[name] = (b.poses[0], b.trans[0], music.numpy())
    return out


def validity(net, clips: dict, fps: float = 30.0) -> dict:
    """Per corruption: {"scores": {clip: [clean, level 1, …]}, "clean_above_all": bool, "falls": bool}."""
    report = {}
    for name, levels in VALIDITY_CASES.items():
        poses, trans, music = [], [], []
        for p, t, m in clips.values():
            for s in (0.0,) + tuple(levels):
                cp, ct = corrupt(p, t, fps, name, s)
                poses.append(cp)
                trans.append(ct)
                music.append(m)
        batch = MotionBatch(np.stack(poses), np.stack(trans), fps=fps, music=np.stack(music))
        values = score_net(net, batch)["per_sample"].reshape(len(clips), len(levels) + 1)
        report[name] = {"levels": list(levels),
                        "scores": {c: [round(float(v), 4) for v in row] for c, row in zip(clips, values)},
                        "clean_above_all": bool((values[:, :1] > values[:, 1:]).all()),
                        "falls": bool((np.diff(values, axis=1) < 0).all())}
    return report


def evaluate_reward_model(net, demos: dict, *, fps: float, rank_names: list[str], data_cfg) -> dict:
    """The full report for one reward model on held-out ranked demonstrations ``demos`` (see module doc)."""
    scores = score_inputs(net, demo_inputs(demos, net.spec, fps))
    acc = pair_accuracy(scores)
    phys = physics_per_rank(demos["features"], fps)
    monotone = {k: bool((np.diff(v[1:]) > 0).all()) for k, v in phys.items()}
    valid = validity(net, validity_clips(data_cfg), fps)
    return {"ranks": rank_names, "windows": int(scores.shape[1]), "pair_accuracy": acc.tolist(),
            "mean_reward": scores.mean(axis=1).tolist(), "physics": phys, "physics_grows_with_eps": monotone,
            "validity": valid,
            "validity_summary": {"clean_above_all": sum(v["clean_above_all"] for v in valid.values()),
                                 "falls": sum(v["falls"] for v in valid.values()), "of": len(valid)}}


def format_report(rep: dict) -> str:
    """Markdown tables of a report (docs/results.md uses the same layout)."""
    names = rep["ranks"]
    lines = [f"Held-out ranking accuracy ({rep['windows']} windows; row ranked above column):", "",
             "| better \\ worse | " + " | ".join(names[1:]) + " |", "|---" * len(names) + "|"]
    for a in range(len(names) - 1):
        cells = ["" if b <= a else f"{rep['pair_accuracy'][a][b]:.2f}" for b in range(1, len(names))]
        lines.append(f"| {names[a]} | " + " | ".join(cells) + " |")
    lines += ["", "Mean per rank (held-out windows):", "", "| metric | " + " | ".join(names) + " | grows with ε |",
              "|---" * (len(names) + 2) + "|",
              "| learned reward | " + " | ".join(f"{v:.3f}" for v in rep["mean_reward"]) + " | |"]
    for k, v in rep["physics"].items():
        grows = "yes" if rep["physics_grows_with_eps"][k] else "no"
        lines.append(f"| {k} | " + " | ".join(f"{x:.3g}" for x in v) + f" | {grows} |")
    lines += ["", "Validity on real mocap (held-out music):", "", "| corruption | severities | clean above all | "
              "falls with severity | scores per clip (clean → worst) |", "|---|---|---|---|---|"]
    for name, v in rep["validity"].items():
        rows = "; ".join(f"{c}: " + " ".join(f"{s:.2f}" for s in row) for c, row in v["scores"].items())
        sev, above, falls = ", ".join(f"{x:g}" for x in v["levels"]), v["clean_above_all"], v["falls"]
        lines.append(f"| {name} | {sev} | {'yes' if above else 'no'} | {'yes' if falls else 'no'} | {rows} |")
    s = rep["validity_summary"]
    lines += ["", f"clean above all: {s['clean_above_all']}/{s['of']}; falls with severity: {s['falls']}/{s['of']}"]
    return "\n".join(lines)
