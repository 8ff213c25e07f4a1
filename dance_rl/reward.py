"""Score one motion file with every reward: ``python -m dance_rl.reward --motion FILE.npz [--json] [--rewards a,b]``.

Prints each component's per-sample value and its diagnostics (``--json``: one JSON object). Rewards needing the
simulator (imitation, the PhyMotion dynamic axis) use it when ``dance_rl.sim`` is installed.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

import numpy as np

from dance_rl.errors import UserError, cli_main

DEFAULT_REWARDS = ("imitation", "fgd", "fgd_ground", "antifreeze", "skating", "root_smoothness", "phymotion")


def _parse_params(items: Sequence[str]) -> dict[str, dict]:
    import yaml

    params: dict[str, dict] = {}
    for item in items:
        key, sep, value = item.partition("=")
        name, dot, arg = key.partition(".")
        if not sep or not dot or not name or not arg:
            raise UserError(f"--param {item!r}: expected REWARD.ARG=VALUE, e.g. fgd_ground.ground=0.01")
        params.setdefault(name, {})[arg] = yaml.safe_load(value)
    return params


def _load_batch(path: str):
    """Motion file (.npz interchange; .pkl AIST++/EDGE and .bvh also accepted) → one-motion MotionBatch."""
    from dance_rl.motion.io import load_any
    from dance_rl.rewards.batch import MotionBatch

    try:
        return MotionBatch.from_motions([load_any(path)])
    except UserError as e:
        msg = str(e)
        raise UserError(msg if msg.startswith(str(path)) else f"{path}: {msg}") from None
    except (OSError, ValueError, KeyError, EOFError) as e:  # unreadable or malformed file
        raise UserError(f"{path}: cannot read motion ({type(e).__name__}); pass a dance_rl .npz motion file") from None


def _plain(v):
    """One clip's diagnostic as a JSON value: a number, or text (e.g. simulator messages)."""
    v = np.asarray(v)
    if v.dtype.kind not in "biuf":
        return " ".join(str(x) for x in v.ravel() if str(x)) if v.size else ""
    v = v.astype(np.float64)
    return float(v.ravel()[0]) if v.size == 1 else v.tolist()


def main(argv: Sequence[str] | None = None) -> int:
    from dance_rl.rewards import registry
    from dance_rl.rewards.composite import score

    p = argparse.ArgumentParser(prog="python -m dance_rl.reward", description="Score one motion file with every reward and print each component.")
    p.add_argument("--motion", required=True, help="motion file (.npz interchange format)")
    p.add_argument("--rewards", default=None,
                   help=f"comma-separated reward names (default: {','.join(DEFAULT_REWARDS)}); "
                        f"known: {','.join(registry.available())}")
    p.add_argument("--param", action="append", default=[], metavar="REWARD.ARG=VALUE",
                   help="keyword argument for one reward, e.g. phymotion.use_sim=false (repeatable)")
    p.add_argument("--per-frame", action="store_true", help="with --json, include per-frame values")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = p.parse_args(argv)

    if args.rewards:
        names = [n.strip() for n in args.rewards.split(",") if n.strip()]
        if not names:
            raise UserError("--rewards: empty list; name at least one reward")
        for n in names:
            registry.get_reward(n)  # validates names (and their imports) before any work
    else:
        names = []
        for n in DEFAULT_REWARDS:
            try:
                registry.get_reward(n)
                names.append(n)
            except UserError as e:
                print(f"note: skipping {e}", file=sys.stderr)
    params = _parse_params(args.param)
    batch = _load_batch(args.motion)
    result = score(batch, {n: 1.0 for n in names}, params=params, skip_zero=False)

    report = {"motion": args.motion, "frames": batch.num_frames, "fps": batch.fps, "rewards": {}}
    for name, comp in result["components"].items():
        entry = {"value": _plain(comp["per_sample"]), "diagnostics": {k: _plain(v) for k, v in comp["diagnostics"].items()}}
        if args.per_frame and comp["per_frame"] is not None:
            entry["per_frame"] = comp["per_frame"][0].tolist()
        report["rewards"][name] = entry
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
        return 0
    print(f"{args.motion}: {batch.num_frames} frames at {batch.fps:g} fps")
    for name, entry in report["rewards"].items():
        print(f"{name:<22} {entry['value']:.6g}")
        for k, v in entry["diagnostics"].items():
            print(f"    {k:<34} {v:.6g}" if isinstance(v, float) else f"    {k:<34} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(cli_main(main))
