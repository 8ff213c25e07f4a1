"""Evaluate a folder of generated dances against a reference folder: the paper-table metrics as JSON, CSV, markdown.

    python -m dance_rl.evaluate --motions gen/ --reference gt/ [--music music/] --out report.json

Motion files: ``.npz`` interchange, AIST++/EDGE ``.pkl`` or ``.bvh`` (resampled to 30 fps if needed). Music for BAS
is found from the motion's ``audio`` field (a path, or a file name looked up in --music) or from the motion file's
stem (``<stem>.wav``), or from an AIST++ music id in the stem (``..._mBR0_...`` → ``mBR0.wav``). Writes
``report.json`` and ``report.csv`` (one row per motion) atomically; prints the table.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from dance_rl.errors import UserError, cli_main
from dance_rl.fileio import atomic_write
from dance_rl.music.audio import AUDIO_SUFFIXES

MOTION_SUFFIXES = (".npz", ".pkl", ".bvh")
_AIST_MUSIC = re.compile(r"(?:^|_)(m[A-Z]{2}\d)(?:_|$)")


def list_motions(folder: str | Path, label: str) -> list[Path]:
    d = Path(folder)
    if not d.is_dir():
        raise UserError(f"--{label} {d}: not a folder; pass a directory of motion files (.npz/.pkl/.bvh)")
    files = sorted(p for p in d.iterdir() if p.suffix.lower() in MOTION_SUFFIXES and p.is_file())
    if not files:
        raise UserError(f"--{label} {d}: no motion files (.npz/.pkl/.bvh) found; check the folder")
    return files


def load_motion_30fps(path: Path):
    from dance_rl.motion.io import load_any, resample

    m = load_any(path)
    if m.num_frames < 3:
        raise UserError(f"{path}: {m.num_frames} frames; evaluation needs at least 3")
    return m if float(m.fps) == 30.0 else resample(m, 30.0)


def find_music(motion_path: Path, audio_field: str | None, music_dir: Path | None) -> Path | None:
    """The audio file for a motion (see module docstring for the order), or None."""
    if audio_field:
        p = Path(audio_field)
        if p.is_file():
            return p
        if music_dir is not None and (music_dir / p.name).is_file():
            return music_dir / p.name
    if music_dir is None:
        return None
    stems = [motion_path.stem]
    m = _AIST_MUSIC.search(motion_path.stem)
    if m:
        stems.append(m.group(1))
    for stem in stems:
        for suf in AUDIO_SUFFIXES:
            if (music_dir / f"{stem}{suf}").is_file():
                return music_dir / f"{stem}{suf}"
    return None


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: f.write(text), "w")


def build_parser() -> argparse.ArgumentParser:
    from dance_rl.config import add_config_args

    p = argparse.ArgumentParser(prog="python -m dance_rl.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("--motions", required=True, help="folder of generated motions")
    p.add_argument("--reference", required=True, help="folder of ground-truth motions (FID normalisation, GT row)")
    p.add_argument("--music", default=None, help="folder of music files for BAS (matched by audio field or stem)")
    p.add_argument("--out", required=True, help="report .json path; a .csv with per-motion rows is written beside it")
    p.add_argument("--pen", default="auto", choices=("auto", "mesh", "capsule", "none"),
                   help="Pen. rate method: SMPL mesh (needs eval.smpl_dir), simulator capsules, or skip")
    p.add_argument("--pen-stride", type=int, default=1, help="evaluate Pen. rate on every N-th frame (mesh is slow)")
    p.add_argument("--no-phymotion", action="store_true", help="skip PhyMotion scores")
    p.add_argument("--no-imitation", action="store_true", help="skip the imitation success rate (simulator tracking)")
    add_config_args(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from dance_rl.config import load_config
    from dance_rl.eval import bas as bas_mod
    from dance_rl.eval.report import (
        EvalOptions,
        evaluate_sets,
        jsonable,
        markdown_table,
        motion_metrics,
        public_row,
        rows_to_csv,
    )
    from dance_rl.eval.smpl_mesh import find_smpl_file, load_smpl_model

    args = build_parser().parse_args(argv)
    cfg = load_config(args.config, args.overrides)
    out = Path(args.out)
    if out.suffix.lower() != ".json":
        raise UserError(f"--out {out}: must end in .json (the CSV is written next to it)")
    if args.pen_stride < 1:
        raise UserError(f"--pen-stride {args.pen_stride}: must be >= 1")
    music_dir = Path(args.music) if args.music else None
    if music_dir is not None and not music_dir.is_dir():
        raise UserError(f"--music {music_dir}: not a folder; pass the directory holding the music files")
    gen_files = list_motions(args.motions, "motions")
    ref_files = list_motions(args.reference, "reference")
    smpl_path = find_smpl_file(cfg.eval.smpl_dir)
    if args.pen == "mesh" and smpl_path is None:
        raise UserError(f"--pen mesh: no SMPL_NEUTRAL.npz/.pkl in eval.smpl_dir={cfg.eval.smpl_dir!r}; "
                        "set --set eval.smpl_dir=/path/to/smpl or use --pen auto")
    opts = EvalOptions(seconds=cfg.eval.seconds, pen_method=args.pen, pen_frame_stride=args.pen_stride,
                       smpl_model=load_smpl_model(smpl_path) if smpl_path and args.pen in ("auto", "mesh") else None,
                       phymotion=not args.no_phymotion, imitation=not args.no_imitation)
    # Load (and so validate) every input before computing or writing anything.
    gen = [(p, load_motion_30fps(p)) for p in gen_files]
    ref = [(p, load_motion_30fps(p)) for p in ref_files]

    beat_cache: dict[Path, np.ndarray] = {}
    t0 = time.perf_counter()

    def rows_for(items, label):
        rows = []
        for path, m in items:
            song = find_music(path, m.audio, music_dir)
            beats = None
            if song is not None:
                if song not in beat_cache:
                    beat_cache[song] = bas_mod.music_beats(song)
                beats = beat_cache[song]
            row = {"set": label, "name": path.name, "music": str(song) if song else None}
            row.update(motion_metrics(m, opts, beats))
            rows.append(row)
            print(f"[{label}] {path.name}: done", file=sys.stderr)
        return rows

    gen_rows, ref_rows = rows_for(gen, "generated"), rows_for(ref, "reference")
    report = evaluate_sets(gen_rows, ref_rows)
    report["notes"] = {
        "frames": opts.max_frames, "fps": 30,
        "pen_method": report["generated"]["pen_method"],
        "pen_comparable_with_papers": report["generated"]["pen_method"] == "smpl_mesh",
        "fgd": "Skeleton2Stage eval_ground: ground = clip mean of lowest-joint height; fgd = penetration + floating "
               "(mm/frame); fgd_floor = same against the world floor z = 0",
        "features": "AIST++ API kinetic/manual, default time constants, 30-fps joints, y-up, root-relative",
        "seconds_elapsed": round(time.perf_counter() - t0, 2),
    }
    report["motions"] = [public_row(r) for r in gen_rows + ref_rows]
    table = markdown_table(report)
    _atomic_write_text(out, json.dumps(jsonable(report), indent=2) + "\n")
    _atomic_write_text(out.with_suffix(".csv"), rows_to_csv(jsonable(report["motions"])))
    print(table)
    print(f"\nPen. rate method: {report['notes']['pen_method']}; wrote {out} and {out.with_suffix('.csv')}")
    return 0


if __name__ == "__main__":
    sys.exit(cli_main(main))
