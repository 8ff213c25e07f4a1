"""Validity and agreement of the imitation reward with a trained policy (controller=policy) next to the PD tracker.

Validity: the corruptions and severity levels of tests/test_rewards_validity.py (plus the imitation test's jitter
levels) on the real mocap it uses (demo sources dance_a, dance_b, walk, punch; 5 s at 30 fps). Per (corruption, clip)
and controller: "clean above" = the clean clip scores above every corrupted copy; "falling" = the scores fall strictly
with severity. Agreement: Spearman correlation of the two controllers' per-clip scores over the demo corpus clips
(first ``--seconds`` of each) and over every clip of the validity batch.

    python scripts/eval_imitation_policy.py --policy runs/ip_demo [--out results.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
from scipy.stats import spearmanr

from dance_rl.config import SimConfig
from dance_rl.data import demo
from dance_rl.errors import cli_main
from dance_rl.rewards.corruptions import corrupt
from dance_rl.rewards.imitation import imitation_reward
from dance_rl.rewards.imitation_policy import policy_imitation_reward

CLIPS = ("dance_a", "dance_b", "walk", "punch")
CASES = [("slide", (0.1, 0.2, 0.4, 0.8)), ("float", (0.02, 0.05, 0.1, 0.2)), ("sink", (0.04, 0.08, 0.12, 0.16)),
         ("jitter", (0.02, 0.04, 0.08)), ("freeze", (0.25, 0.5, 0.75, 1.0)), ("self_penetrate", (0.1, 0.2, 0.3))]


def corpus_clips(seconds: float) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """First ``seconds`` of every demo corpus clip (both splits)."""
    from dance_rl.data.clips import list_clips
    from dance_rl.motion.io import load_motion

    folder = demo.build_demo_corpus(".cache/dance_rl")
    n = int(round(seconds * 30))
    refs = list_clips(folder, "train") + list_clips(folder, "test")
    motions = [load_motion(r.path) for r in refs]
    return (np.stack([m.poses[:n] for m in motions]), np.stack([m.trans[:n] for m in motions]),
            [r.clip_id for r in refs])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--policy", required=True, help="run folder / checkpoint / policy.pt of dance_rl.imitation_policy")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None, help="write the numbers as JSON here")
    args = ap.parse_args(argv)
    sim = SimConfig(num_threads=args.threads)
    score = {"pd": lambda p, t: imitation_reward(p, t, 30.0, sim=sim)["per_sample"],
             "policy": lambda p, t: policy_imitation_reward(p, t, 30.0, sim=sim,
                                                            policy_checkpoint=args.policy)["per_sample"]}
    real = {n: demo.clip_motion(demo.source_clip(n), seconds=args.seconds) for n in CLIPS}
    out = {"validity": {}, "spearman": {}}
    all_scores = {c: [] for c in score}
    t0 = time.time()
    for name, levels in CASES:
        copies = [corrupt(*real[c], 30.0, name, s) for c in CLIPS for s in (0.0,) + levels]
        poses, trans = np.stack([p for p, _ in copies]), np.stack([t for _, t in copies])
        for ctrl, fn in score.items():
            rows = np.asarray(fn(poses, trans)).reshape(len(CLIPS), len(levels) + 1)
            all_scores[ctrl].append(rows.ravel())
            for clip, row in zip(CLIPS, rows):
                out["validity"].setdefault(ctrl, {})[f"{name}/{clip}"] = {
                    "scores": np.round(row, 4).tolist(), "clean_above": bool(row[0] > row[1:].max()),
                    "falling": bool((np.diff(row) < 0).all())}
    print(f"validity batch scored in {time.time() - t0:.0f} s")
    for ctrl, cases in out["validity"].items():
        above = sum(c["clean_above"] for c in cases.values())
        falling = sum(c["falling"] for c in cases.values())
        print(f"{ctrl:6s}: clean above every corrupted copy {above}/{len(cases)}, strictly falling {falling}/{len(cases)}")
        for name, _ in CASES:
            sub = {k: v for k, v in cases.items() if k.startswith(name + "/")}
            print(f"   {name:15s} clean above {sum(v['clean_above'] for v in sub.values())}/{len(sub)}  "
                  f"falling {sum(v['falling'] for v in sub.values())}/{len(sub)}")
    a, b = np.concatenate(all_scores["pd"]), np.concatenate(all_scores["policy"])
    out["spearman"]["validity_batch"] = {"rho": float(spearmanr(a, b)[0]), "n": int(a.size)}
    poses, trans, ids = corpus_clips(args.seconds)
    pd, pol = score["pd"](poses, trans), score["policy"](poses, trans)
    out["spearman"]["demo_corpus"] = {"rho": float(spearmanr(pd, pol)[0]), "n": len(ids),
                                      "pd_mean": float(pd.mean()), "policy_mean": float(pol.mean())}
    for k, v in out["spearman"].items():
        print(f"spearman {k}: rho={v['rho']:.3f} (n={v['n']})" +
              (f"; mean score PD {v['pd_mean']:.3f}, policy {v['policy_mean']:.3f}" if "pd_mean" in v else ""))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(cli_main(main))
