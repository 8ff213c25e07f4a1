"""Build training data: ``python -m dance_rl.data {demo,aistpp,folder} --help``.

    python -m dance_rl.data demo --out data/demo [--seed 0] [--max-clips N]
    python -m dance_rl.data aistpp --root /path/to/aist_plusplus --out data/aistpp [--split train|test|all]
    python -m dance_rl.data folder --motions DIR --music DIR --out data/mine [--mapping map.yaml]

All three write to a temp folder beside ``--out`` and rename it at the end: a failure leaves no partial output.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Sequence

from dance_rl.errors import UserError, cli_main


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 0")
    return value


class _Parser(argparse.ArgumentParser):
    """Usage mistakes become a UserError: one line on stderr, exit 2 (argparse would print the usage block)."""

    def error(self, message: str):
        raise UserError(f"{self.prog}: {message}; see --help")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m dance_rl.data", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="{demo,aistpp,folder}")
    demo = sub.add_parser("demo", help="retarget the DeepMimic clips shipped with pybullet, add beat-matched music",
                          description="Build the built-in demo corpus (SMPL .npz + .wav pairs, corpus.json).")
    demo.add_argument("--out", required=True, type=Path, help="output folder (created; replaced if an old corpus)")
    demo.add_argument("--seed", type=int, default=0, help="seed of the random headings and music (default 0)")
    demo.add_argument("--max-clips", type=_non_negative, default=0,
                      help="use only the first N source clips, 6 variants each (default 0 = all)")
    demo.add_argument("--force", action="store_true", help="rebuild even if --out already holds this corpus")
    aist = sub.add_parser("aistpp", help="convert AIST++ (motions/*.pkl + wavs/*.wav) to .npz files",
                          description="Convert an AIST++ download into interchange .npz files with corpus.json.")
    aist.add_argument("--root", required=True, type=Path, help="AIST++ folder holding motions/ and wavs/")
    aist.add_argument("--out", required=True, type=Path, help="output folder (created)")
    aist.add_argument("--split", choices=("train", "test", "all"), default="all",
                      help="EDGE crossmodal split to convert (default all; corpus.json records each clip's split)")
    own = sub.add_parser("folder", help="your own dances: motion files + music files paired by file stem",
                         description="Pair motion files (.bvh of any skeleton, .npz, AIST++/EDGE/PopDanceSet .pkl, "
                                     "FineDance .npy) with music (.wav/.mp3/.ogg/.opus/.flac) by stem, retarget to SMPL-24, "
                                     "check each pair, cache features; broken pairs are reported and skipped.")
    own.add_argument("--motions", required=True, type=Path, help="folder of motion files")
    own.add_argument("--music", required=True, type=Path, help="folder of music files (same stems)")
    own.add_argument("--out", required=True, type=Path, help="output corpus folder (created; use as folder:OUT)")
    own.add_argument("--mapping", type=Path, default=None,
                     help="BVH joint mapping (YAML/JSON 'smpl_joint: source_joint'); default: detect a preset")
    own.add_argument("--cache-dir", type=Path, default=Path(".cache/dance_rl"),
                     help="feature cache, as data.cache_dir (default .cache/dance_rl)")
    own.add_argument("--test-every", type=_non_negative, default=10,
                     help="every N-th clip (by name) is a test clip (default 10; 0 = none)")
    return parser


def run_folder(args: argparse.Namespace) -> None:
    from dance_rl.data.folder import REPORT_FILE, build_folder

    out = args.out.expanduser()
    t0 = time.perf_counter()
    info = build_folder(args.motions, args.music, out, mapping=args.mapping, cache_dir=args.cache_dir,
                        test_every=args.test_every)
    clips, problems = info["clips"], info["problems"]
    n_test = sum(c["split"] == "test" for c in clips)
    print(f"{out}: {len(clips)} clips ({len(clips) - n_test} train, {n_test} test), "
          f"{sum(c['windows'] for c in clips)} training windows in {time.perf_counter() - t0:.1f} s; "
          f"use data.source=folder:{out}")
    if problems:
        print(f"{len(problems)} pair(s) skipped, listed in {out / REPORT_FILE}:")
        for line in problems:
            print(f"  {line}")


def run_demo(args: argparse.Namespace) -> None:
    from dance_rl.data import demo
    from dance_rl.data.retarget_deepmimic import clip_path

    for name in demo.CLIPS[:args.max_clips or None]:  # fail before touching the disk
        clip_path(name)
    out = args.out.expanduser()
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is a file; choose a folder path for --out")
    if out.is_dir() and any(out.iterdir()) and demo.read_corpus_info(out) is None:
        raise UserError(f"{out}: folder exists and is not a demo corpus; choose a new folder or empty it")
    if not args.force and out.is_dir() and demo.is_current(out, args.seed, args.max_clips):
        print(f"{out}: demo corpus is up to date (builder version {demo.BUILDER_VERSION})")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    demo.build_corpus_at(out, seed=args.seed, max_clips=args.max_clips, force=args.force)
    clips = demo.read_corpus_info(out)["clips"]
    n_test = sum(c["split"] == "test" for c in clips)
    print(f"{out}: {len(clips)} clips ({len(clips) - n_test} train, {n_test} test) in {time.perf_counter() - t0:.1f} s")


def run_aistpp(args: argparse.Namespace) -> None:
    root, out = args.root.expanduser(), args.out.expanduser()
    if not root.is_dir():
        raise UserError(f"{root}: AIST++ folder not found; pass --root the folder holding motions/ and wavs/")
    from dance_rl.data.aistpp import build_aistpp, list_sequences  # lazy: needs nothing unless AIST++ is used

    list_sequences(root, args.split)  # validates the layout before anything is created
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = build_aistpp(root, out, split=args.split)
    print(f"{out}: {len(paths)} AIST++ sequences ({args.split})")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    {"demo": run_demo, "aistpp": run_aistpp, "folder": run_folder}[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(cli_main(main))
