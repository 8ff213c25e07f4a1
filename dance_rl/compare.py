"""Paired comparison of models on held-out music: the one way dance_rl says "better".

    python -m dance_rl.compare --models base.pt runs/x [more ...] [--music DIR|demo-test] [--seconds S] [--seeds K]
                               [--num-clips N] --out DIR

Every model dances to the same music clips with the same initial noise (paired samples). Each sample gets the full
metric suite (dance_rl.eval.paired); per metric the report gives each model's mean, the paired difference to the
first model with a 95% bootstrap CI (resampling music clips) and a Wilcoxon signed-rank p-value; FID/Div (set-level,
against the training mocap) get bootstrap CIs and p-values. Writes into DIR: compare.md (table, arrows = better/worse
where the CI excludes 0; a last column gives the training mocap's means for scale), compare.json, compare.csv (one row
per sample), pareto.png (physical error index vs motion magnitude, error bars, first model marked, the mocap as a
cross or, off the axes, a note) and side_by_side.mp4 (the models dancing to the first clip, music muxed).
Models: any source the model loader takes (base/EDGE/exported file, RLFT checkpoint, run, trial or sweep directory).

    python -m dance_rl.compare --pool DIR DIR [...] --out DIR

pools finished comparisons (e.g. one per held-out music set) into one table: the per-sample metrics of every run's
compare.csv, paired as before, the bootstrap resampling the clips of all runs together. Every run must have the same
baseline (first model, by name); the models present in every run are pooled. FID/Div are set-level and need the
motions, which compare.csv does not keep: they are reported per run only.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dance_rl.errors import UserError, cli_main
from dance_rl.fileio import atomic_dir

FPS = 30


@dataclass
class Clip:
    """One held-out music clip: features (N, 35) at 30 fps, where it comes from (for the video's sound)."""
    key: str
    music: np.ndarray
    audio: Path | None = None
    start_s: float = 0.0

    @property
    def beats_60(self) -> np.ndarray:
        """Beat frames at 60 fps from EDGE's beat one-hot channel (the last feature), for BAS."""
        return np.nonzero(self.music[:, -1] > 0.5)[0] * 2


@dataclass
class Models:
    names: list
    models: list
    normalizers: list
    cards: list = field(default_factory=list)


# ------------------------------------------------------------------------------------------------------ inputs
def _cut(key: str, feats: np.ndarray, frames: int, limit: int, audio: Path | None) -> list[Clip]:
    """Non-overlapping ``frames``-long clips from the start of one song, at most ``limit``."""
    n = min(limit, len(feats) // frames)
    return [Clip(f"{key}@{i * frames / FPS:g}s", feats[i * frames:(i + 1) * frames], audio, i * frames / FPS)
            for i in range(n)]


def heldout_clips(music: str, cfg, seconds: float, num_clips: int, clips_per_song: int = 2) -> list[Clip]:
    """``demo-test`` (the configured data source's test split) or a folder of audio files → up to ``num_clips``
    clips of ``seconds`` s, spread evenly over the songs (fixed choice: the same clips every time)."""
    from dance_rl.music.features import extract_features

    frames = int(round(seconds * FPS))
    clips: list[Clip] = []
    if music in ("demo-test", "test"):
        from dance_rl.data.clips import clip_features, list_clips
        from dance_rl.data.dataset import resolve_source
        from dance_rl.motion.io import load_motion

        data_dir, _ = resolve_source(cfg.data.source, "test", cfg.data.cache_dir, cfg.data.max_clips)
        refs = list_clips(data_dir, "test", cfg.data.max_clips)
        if not refs:
            raise UserError(f"--music {music}: data.source={cfg.data.source} has no test split; pass a folder of audio")
        for r in refs:
            audio = load_motion(r.path).audio
            audio_path = Path(audio) if audio and Path(audio).is_file() else r.path.with_suffix(".wav")
            clips += _cut(r.clip_id, clip_features(r, cfg.data.cache_dir)[1], frames, clips_per_song,
                          audio_path if audio_path.is_file() else None)
    else:
        from dance_rl.music.audio import audio_files

        # songs shorter than one clip are skipped (_cut gives none); unreadable ones are an error
        for f in audio_files(music, "--music", " or demo-test"):
            clips += _cut(f.stem, extract_features(f, min_seconds=0.0), frames, clips_per_song, f)
    if not clips:
        raise UserError(f"--seconds {seconds:g}: every song of --music {music} is shorter than that; pass fewer seconds")
    return pick_even(clips, num_clips)


def pick_even(items: list, n: int) -> list:
    """At most ``n`` items, evenly spread over ``items`` (first and last kept)."""
    if len(items) <= n:
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, n).round().astype(int)]


def mocap_windows(cfg, seconds: float, max_windows: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(poses, trans, joints) of up to ``max_windows`` ``seconds``-long windows of ``cfg.data.source``'s training
    mocap, evenly picked from windows at half-window strides (the FID/Div reference and the mocap column). The windows
    are picked before any is copied or run through FK, so a large corpus is never held whole."""
    from dance_rl.data.clips import list_clips
    from dance_rl.data.dataset import resolve_source
    from dance_rl.motion.fk import joints_np
    from dance_rl.motion.io import load_motion, resample

    def load(record):
        m = load_motion(record.path)
        return resample(m, FPS) if abs(float(m.fps) - FPS) > 1e-6 else m

    data_dir, _ = resolve_source(cfg.data.source, "train", cfg.data.cache_dir, cfg.data.max_clips)
    clips = list_clips(data_dir, "train", cfg.data.max_clips)
    frames = int(round(seconds * FPS))
    starts = [(c, s) for c, r in enumerate(clips) for s in range(0, len(load(r).poses) - frames + 1, max(frames // 2, 1))]
    if len(starts) < 2:
        raise UserError(f"--seconds {seconds:g}: the training mocap has fewer than 2 windows that long")
    windows, loaded = [], (None, None)
    for c, s in pick_even(starts, max_windows):  # in clip order: each clip is loaded once more
        if loaded[0] != c:
            loaded = (c, load(clips[c]))
        poses = np.array(loaded[1].poses[s:s + frames], dtype=np.float64)
        trans = np.array(loaded[1].trans[s:s + frames], dtype=np.float64)
        windows.append((poses, trans, joints_np(poses, trans)))
    return windows


def reference_features(cfg, seconds: float, max_windows: int = 96, windows: list | None = None) -> dict:
    """Stacked AIST++ features of the training mocap, cut into ``seconds``-long windows (FID/Div reference); pass
    ``windows`` (from :func:`mocap_windows`) to reuse windows already cut."""
    from dance_rl.eval.features import motion_features

    windows = windows if windows is not None else mocap_windows(cfg, seconds, max_windows)
    feats = [motion_features(j, max_frames=None) for _, _, j in windows]
    return {k: np.stack([f[k] for f in feats]) for k in ("kinetic", "manual")}


def mocap_reference(windows: list, opts, base_rows: list[dict]) -> dict:
    """{metric: mean} of the per-sample metrics on training-mocap windows (from :func:`mocap_windows`), without
    simulator tracking or BAS (no paired music) and without FID (the mocap is FID's reference). What the recorded
    dancers score puts every model's numbers in scale: on the demo corpus the mocap has more PFC, FGD and skating than
    the barely moving demo base model. The physical error index is relative to the baseline's means, like the models'."""
    from dataclasses import replace

    from dance_rl.eval.paired import PER_SAMPLE, add_physical_error, sample_row

    opts = replace(opts, imitation=False)
    rows = [sample_row(p, t, None, opts) for p, t, _ in windows]
    add_physical_error({"baseline": [dict(r) for r in base_rows], "mocap": rows}, "baseline")
    means = {k: float(np.nanmean(v)) for k in PER_SAMPLE
             if np.isfinite(v := np.array([r.get(k, np.nan) for r in rows], dtype=np.float64)).any()}
    means["windows"] = len(rows)
    return means


def load_models(sources: list[str], use_ema: bool = True) -> Models:
    """Load every model (validating all before any work); names are unique labels for tables and videos."""
    from dance_rl.diffusion.checkpoint import load_model

    if not sources:
        raise UserError("--models: give at least one model (the first is the baseline)")
    out = Models([], [], [], [])
    for s in sources:
        model, normalizer, card = load_model(s, use_ema=use_ema)
        if model.spec.cond_dim != 35:
            raise UserError(f"--models {s}: the model expects {model.spec.cond_dim}-d music features; dance_rl extracts "
                            "EDGE's 35-d baseline features")
        name = card.get("name") or Path(s).stem
        while name in out.names:
            name += "'"
        out.names.append(name)
        out.models.append(model)
        out.normalizers.append(normalizer)
        out.cards.append(card)
    lens = {m.spec.seq_len for m in out.models}
    if len(lens) > 1:
        raise UserError(f"--models: window lengths differ ({sorted(lens)} frames); paired noise needs equal windows")
    return out


def default_settings(cards: list[dict]) -> dict:
    """Sampling settings for every model: those the fine-tuned models were trained with, else the first model's."""
    tuned = [c["sampling"] for c in cards if c.get("kind") == "rlft" or c.get("base")]
    return dict((tuned or [cards[0]["sampling"]])[0])


# -------------------------------------------------------------------------------------------------- generation
def noise_seed(clip_key: str, seed: int) -> int:
    """The same initial noise for every model on (clip, seed)."""
    return zlib.crc32(f"{clip_key}|{seed}".encode()) & 0x7FFFFFFF


def generate(model, normalizer, clip: Clip, seed: int, settings: dict) -> dict:
    from dance_rl.generate import generate_motion

    return generate_motion(model, normalizer, clip.music, seed=noise_seed(clip.key, seed), **settings)


def evaluate_models(models: Models, clips: list[Clip], seeds: int, settings: dict, opts, progress: bool = True,
                    keep_motions: int = 0) -> tuple[dict, list, list, dict]:
    """Generate and score every (model, clip, seed): ({name: rows}, groups, sample ids, {name: [motion]} of the
    first ``keep_motions`` samples)."""
    from tqdm import tqdm

    from dance_rl.eval.paired import sample_row

    rows = {n: [] for n in models.names}
    kept = {n: [] for n in models.names}
    groups, ids = [], []
    bar = tqdm(total=len(models.names) * len(clips) * seeds, desc="compare", unit="sample", disable=not progress)
    for clip in clips:
        for s in range(seeds):
            groups.append(clip.key)
            ids.append({"clip": clip.key, "seed": s})
            for name, model, norm in zip(models.names, models.models, models.normalizers):
                m = generate(model, norm, clip, s, settings)
                rows[name].append(sample_row(m["poses"], m["trans"], clip.beats_60, opts))
                if len(kept[name]) < keep_motions:
                    kept[name].append(m)
                bar.update(1)
    bar.close()
    return rows, groups, ids, kept


# ------------------------------------------------------------------------------------------------------ outputs
def markdown(comparison: dict, names: list[str], header: list[str], mocap: dict | None = None) -> str:
    """The comparison table; ``mocap`` (from :func:`mocap_reference`) adds the training mocap's means as a last
    column, for scale only (it is not paired with the music)."""
    from dance_rl.eval.paired import direction, label, verdict

    base = names[0]
    head = ["metric", f"{base} (baseline)"] + [f"{n}: mean · Δ [95% CI] · p" for n in names[1:]]
    head += ["training mocap (reference)"] if mocap else []
    lines = header + ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, per in comparison.items():
        arrow = {-1: " ↓", 1: " ↑", 0: ""}[direction(key)]
        cells = [f"{label(key)}{arrow}", _num(per[base]["mean_a"])]
        for n in names[1:]:
            s = per[n]
            mark = {"better": " ✅ better", "worse": " ❌ worse", "changed": " (changed)"}.get(verdict(s, key), "")
            rel = f" ({s['rel']:+.0%})" if np.isfinite(s["rel"]) else ""
            cells.append(f"{_num(s['mean_b'])} · {s['diff']:+.4g}{rel} [{s['ci'][0]:+.3g}, {s['ci'][1]:+.3g}] · "
                         f"p={s['p']:.2g}{mark}")
        if mocap:
            cells.append(_num(mocap.get(key)))
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "↓ lower is better, ↑ higher is better. Δ = model − baseline on paired samples; the CI resamples music "
              "clips; ✅/❌ where the CI excludes 0 and the Wilcoxon signed-rank p < 0.05. Physical error index = mean of PFC, FGD, Pen. rate and skating "
              "ratio relative to the baseline's means (baseline = 1)."]
    if mocap:
        lines += ["", f"Training mocap (reference): {mocap['windows']} windows of the training split's recorded "
                  "dancing, scored the same way (no simulator tracking or BAS: no paired music; no FID: it is FID's "
                  "reference); it shows how much of each error real dancing has."]
    return "\n".join(lines)


def _num(v) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{v:.4g}"


def pareto_plot(comparison: dict, names: list[str], path: Path, title: str = "paired comparison",
                mocap: dict | None = None) -> None:
    """Physical error index (↓) vs motion magnitude (↑), mean ± CI of the paired difference, baseline marked; the
    training mocap (:func:`_mark_mocap`) when given."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    for i, n in enumerate(names):
        x, y = comparison["motion_magnitude"][n], comparison["physical_error"][n]
        xe = [[x["diff"] - x["ci"][0]], [x["ci"][1] - x["diff"]]]
        ye = [[y["diff"] - y["ci"][0]], [y["ci"][1] - y["diff"]]]
        ax.errorbar(x["mean_b"], y["mean_b"], xerr=xe if i else None, yerr=ye if i else None, fmt="*" if i == 0 else "o",
                    ms=14 if i == 0 else 7, capsize=3, color="black" if i == 0 else f"C{i}",
                    label=f"{n} (baseline)" if i == 0 else n)
    _mark_mocap(ax, mocap)
    ax.set_xlabel("motion magnitude →")
    ax.set_ylabel("physical error index (baseline = 1) ↓")
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _mark_mocap(ax, mocap: dict | None) -> None:
    """The training mocap as a grey cross when it falls inside the models' axes; otherwise as a note, so that it does
    not stretch the axes over the models' error bars (on the demo corpus it moves 3-4x as much as any model)."""
    x, y = (mocap or {}).get("motion_magnitude", np.nan), (mocap or {}).get("physical_error", np.nan)
    if not (np.isfinite(x) and np.isfinite(y)):
        return
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    if x0 <= x <= x1 and y0 <= y <= y1:
        ax.plot(x, y, "x", ms=10, color="grey", label="training mocap")
    else:
        ax.text(0.98, 0.02, f"training mocap (off the axes): motion {x:.3g}, error index {y:.3g}", color="grey",
                fontsize=7, ha="right", va="bottom", transform=ax.transAxes)


def side_by_side(motions: dict[str, dict], clip: Clip, path: Path, seconds: float) -> Path:
    """The models dancing to one clip next to each other, labelled, with the clip's music muxed in."""
    from dance_rl.render import render_motion

    audio = None
    with tempfile.TemporaryDirectory() as tmp:
        if clip.audio is not None:
            audio = _audio_segment(clip.audio, clip.start_s, seconds, Path(tmp) / "clip.wav")
        names = list(motions)
        return render_motion([motions[n]["poses"] for n in names], [motions[n]["trans"] for n in names], path,
                             [motions[n]["contacts"] for n in names], width=360, height=300, audio=audio, labels=names)


def _audio_segment(src: Path, start_s: float, seconds: float, out: Path) -> Path | None:
    import soundfile as sf

    from dance_rl.music.audio import load_audio

    sr = 44100
    try:
        y = load_audio(src, sr=sr, min_seconds=0.0)
    except UserError:
        return None
    y = y[int(start_s * sr): int((start_s + seconds) * sr)]
    sf.write(out, y, sr)
    return out


def run(args, cfg, log=print) -> Path:
    from dance_rl.eval.paired import compare_models, public_row
    from dance_rl.eval.report import EvalOptions, jsonable, rows_to_csv

    out = _new_out(args.out)
    if args.seeds < 1 or args.num_clips < 1 or args.seconds <= 0:
        raise UserError("--seeds and --num-clips must be >= 1 and --seconds > 0")
    from dance_rl.diffusion.device import resolve_device, resolve_precision

    device = resolve_device(args.device)
    precision = resolve_precision(args.precision, device)
    models = load_models(args.models, use_ema=not args.no_ema)
    models.models = [m.to(device) for m in models.models]
    window_s = models.models[0].spec.seq_len / FPS
    if args.seconds < window_s:
        raise UserError(f"--seconds {args.seconds:g}: shorter than the models' {window_s:g}-s window")
    clips = heldout_clips(args.music, cfg, args.seconds, args.num_clips, args.clips_per_song)
    settings = default_settings(models.cards)
    for k in ("steps", "guidance_weight", "eta", "spacing"):
        if getattr(args, k) is not None:
            settings[k] = getattr(args, k)
    settings["precision"] = precision
    windows = mocap_windows(cfg, args.seconds, max_windows=96)
    reference = reference_features(cfg, args.seconds, windows=windows)
    opts = EvalOptions(seconds=args.seconds, phymotion=not args.no_phymotion, imitation=not args.no_imitation)
    log(f"{len(models.names)} models × {len(clips)} clips × {args.seeds} seeds, {args.seconds:g} s each; "
        f"sampling {settings}")
    rows, groups, ids, kept = evaluate_models(models, clips, args.seeds, settings, opts, progress=not args.no_progress,
                                              keep_motions=1)
    comparison = compare_models(rows, groups, reference, n_boot=args.n_boot)
    mocap = mocap_reference(pick_even(windows, 16), opts, rows[models.names[0]])
    header = [f"# Paired comparison on {args.music}", "",
              f"{len(clips)} music clips × {args.seeds} seeds = {len(groups)} paired samples of {args.seconds:g} s; "
              f"same music and initial noise for every model; DDIM {settings['steps']} steps, CFG "
              f"{settings['guidance_weight']:g}, {'raw' if args.no_ema else 'EMA'} weights. FID/Div against "
              f"{len(reference['kinetic'])} training-mocap windows ({cfg.data.source}).", "",
              "Models: " + "; ".join(f"**{n}** = {c['source']}" for n, c in zip(models.names, models.cards)), ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_dir(out) as tmp:
        (tmp / "compare.md").write_text(markdown(comparison, models.names, header, mocap) + "\n")
        (tmp / "compare.json").write_text(json.dumps(jsonable({
            "models": [{"name": n, "card": {k: v for k, v in c.items() if k not in ("config", "history")}}
                       for n, c in zip(models.names, models.cards)],
            "music": args.music, "seconds": args.seconds, "seeds": args.seeds, "sampling": settings,
            "clips": [c.key for c in clips], "metrics": comparison, "mocap_reference": mocap}), indent=2))
        (tmp / "compare.csv").write_text(rows_to_csv([{"model": n, **ids[i], **public_row(r)}
                                               for n in models.names for i, r in enumerate(rows[n])]))
        pareto_plot(comparison, models.names, tmp / "pareto.png", mocap=mocap)
        if not args.no_video:
            side_by_side({n: kept[n][0] for n in models.names}, clips[0], tmp / "side_by_side.mp4", args.seconds)
    return out


def pool(run_dirs: list[str], out: str, n_boot: int = 2000) -> Path:
    """Pool finished comparisons (their compare.csv) into compare.md / compare.json in ``out`` (see the module doc)."""
    import csv

    from dance_rl.eval.paired import PER_SAMPLE, compare_models
    from dance_rl.eval.report import jsonable

    out_dir = _new_out(out)
    if len(run_dirs) < 2:
        raise UserError("--pool: give at least two comparison folders (written by python -m dance_rl.compare)")
    runs = []
    for d in run_dirs:
        path = Path(d) / "compare.csv"
        if not path.is_file():
            raise UserError(f"--pool {d}: no compare.csv in it; give folders written by python -m dance_rl.compare")
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
        names = list(dict.fromkeys(r["model"] for r in rows))
        if not names:
            raise UserError(f"--pool {path}: holds no samples; give folders written by python -m dance_rl.compare")
        runs.append((d, names, rows))
    baseline = runs[0][1][0]
    for d, names, _ in runs:
        if names[0] != baseline:
            raise UserError(f"--pool {d}: its baseline is '{names[0]}', not '{baseline}'; pool runs that share the "
                            "first model")
    models = [n for n in runs[0][1] if all(n in names for _, names, _ in runs)]
    if len(models) < 2:
        raise UserError(f"--pool: no model besides the baseline '{baseline}' is in every run; compare the same "
                        "models on every set")
    by_model: dict[str, list[dict]] = {n: [] for n in models}
    groups: list[str] = []
    for i, (d, _, rows) in enumerate(runs):
        keyed = {(r["model"], r["clip"], r["seed"]): r for r in rows}
        samples = [(c, s) for m, c, s in keyed if m == baseline]
        for n in models:
            if any((n, c, s) not in keyed for c, s in samples):
                raise UserError(f"--pool {d}: model '{n}' lacks some of the baseline's samples; is compare.csv "
                                "complete?")
            by_model[n] += [{k: _float(keyed[(n, c, s)].get(k)) for k in PER_SAMPLE} for c, s in samples]
        groups += [f"{i}:{c}" for c, _ in samples]
    comparison = compare_models(by_model, groups, reference=None, n_boot=n_boot)
    clips = len(set(groups))
    header = ["# Pooled paired comparison", "",
              f"{len(runs)} comparisons, {clips} music clips, {len(groups)} paired samples; the CIs resample the "
              "clips of all of them together. FID/Div are not pooled (set-level): see each run.", "",
              "Runs: " + "; ".join(f"{d} ({sum(1 for g in groups if g.startswith(f'{i}:'))} samples)"
                                   for i, (d, _, _) in enumerate(runs)), ""]
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with atomic_dir(out_dir) as tmp:
        (tmp / "compare.md").write_text(markdown(comparison, models, header) + "\n")
        (tmp / "compare.json").write_text(json.dumps(jsonable({
            "models": [{"name": n} for n in models], "pooled": [str(d) for d, _, _ in runs], "clips": clips,
            "metrics": comparison}), indent=2))
    return out_dir


def _new_out(out: str) -> Path:
    """--out as a Path, refused (one line) unless it is new or an empty folder: results are written beside it and
    renamed into place (fileio.atomic_dir), never into a folder that holds something else."""
    path = Path(out)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UserError(f"--out {path}: exists and is not empty; choose a new folder")
    return path


def _float(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def build_parser() -> argparse.ArgumentParser:
    from dance_rl.config import add_config_args

    p = argparse.ArgumentParser(prog="python -m dance_rl.compare", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 2)[2])
    p.add_argument("--models", nargs="+", default=[], help="model sources; the first is the baseline")
    p.add_argument("--pool", nargs="+", default=[], metavar="DIR",
                   help="pool finished comparisons (their compare.csv) instead of sampling; no --models")
    p.add_argument("--music", default="demo-test", help="folder of audio files, or demo-test (data.source's test split)")
    p.add_argument("--seconds", type=float, default=10.0, help="length of every clip (default 10)")
    p.add_argument("--seeds", type=int, default=2, help="noise seeds per clip (default 2)")
    p.add_argument("--num-clips", type=int, default=16, help="music clips at most (default 16)")
    p.add_argument("--clips-per-song", type=int, default=2, help="non-overlapping clips cut from each song (default 2)")
    p.add_argument("--out", required=True, help="output folder (must be new or empty)")
    p.add_argument("--steps", type=int, default=None, help="DDIM steps (default: what the fine-tuned models used)")
    p.add_argument("--guidance-weight", type=float, default=None, help="CFG weight (default: as --steps)")
    p.add_argument("--eta", type=float, default=None, help="DDIM eta (default: as --steps)")
    p.add_argument("--spacing", choices=("uniform", "quadratic"), default=None,
                   help="DDIM step spacing (default: as --steps)")
    p.add_argument("--no-ema", action="store_true", help="raw weights instead of the EMA weights")
    p.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples (default 2000)")
    p.add_argument("--no-video", action="store_true", help="skip side_by_side.mp4")
    p.add_argument("--no-imitation", action="store_true", help="skip the simulator tracking metrics (faster)")
    p.add_argument("--no-phymotion", action="store_true", help="skip PhyMotion (faster)")
    p.add_argument("--no-progress", action="store_true")
    from dance_rl.diffusion.device import add_device_args

    add_device_args(p)
    add_config_args(p)
    return p


def main(argv=None) -> int:
    from dance_rl.config import load_config

    args = build_parser().parse_args(argv)
    if args.pool:
        if args.models:
            raise UserError("--pool and --models: pooling reads finished comparisons; give one or the other")
        out = pool(args.pool, args.out, n_boot=args.n_boot)
        print((out / "compare.md").read_text())
        print(f"wrote {out}/compare.md, compare.json")
        return 0
    cfg = load_config(args.config, args.overrides)
    out = run(args, cfg, log=lambda m: print(m, file=sys.stderr))
    print((out / "compare.md").read_text())
    print(f"wrote {out}/compare.md, compare.json, compare.csv, pareto.png"
          + ("" if args.no_video else ", side_by_side.mp4"))
    return 0


if __name__ == "__main__":
    sys.exit(cli_main(main))
