"""Ray Tune sweeps over the reward weights (imitation, FGD, anti-freezing, …): the main job.

    python -m dance_rl.tune [--config tune_configs/demo.yaml] [--set k=v ...] [--address auto|ray://host:10001]
                            [--storage-path DIR|s3://bucket/path] [--resume]

One trial per point of ``tune.search_space`` (× ``tune.points``). Each trial reserves its driver, learner, samplers
and reward actors in one placement group (``tune.with_resources`` + ``PlacementGroupFactory``), runs the shared RLFT
loop (dance_rl.rlft), reports every iteration (reward components, loss/throughput, and every rl.eval_every iterations
the held-out metrics of dance_rl.compare against the base model: eval/*, vs_base/* with CIs) and checkpoints with
``tune.Checkpoint``. The driver prepares the base model, the music windows and the held-out set (with the base model's
scores) once and ships them to trials through the object store, so worker nodes need no local data. At the end
``report.md`` (base row, trial table with changes and CIs, the winner by a held-out objective within the guardrails,
Pareto plot), ``best_model.pt`` with its card and ``best_vs_base.mp4`` are written into the experiment directory.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_TRAIN_ENABLE_V2_MIGRATION_WARNINGS", "0")

import numpy as np

from dance_rl.config import Config, add_config_args, apply_dotted, load_config
from dance_rl.errors import UserError, cli_main
from dance_rl.sweep import expected_trials, param_space, trial_config

# The default sweep ships inside the package (pyproject package-data), so any install has it; tune_configs/demo.yaml
# in the repository is a link to this file.
DEFAULT_CONFIG = Path(__file__).resolve().parent / "configs" / "demo.yaml"


def unfinished_trials(results, cfg: Config) -> int:
    """Trials not yet finished or failed (Tune returns normally after Ctrl-C; such a sweep gets no report)."""
    trials = getattr(getattr(results, "_experiment_analysis", None), "trials", None) or []
    running = sum(1 for t in trials if t.status not in ("TERMINATED", "ERROR"))
    return running + max(0, expected_trials(cfg) - len(trials))


# ----------------------------------------------------------------------------------------------------------------------
# The trainable


def rlft_trainable(config: dict, base=None, conditions=None, held=None):
    """One trial: build the run inside the trial's placement group, run the shared RLFT loop, report, checkpoint."""
    import json

    from ray import tune

    from dance_rl.cluster.run import RLRun
    from dance_rl.diffusion.checkpoint import TRIAL_CKPT_FILE, load_run_checkpoint
    from dance_rl.rlft import iterate, make_guard

    cfg = trial_config(config["base"], {k: v for k, v in config.items() if k != "base"})
    run = RLRun(cfg, base, conditions[0], conditions[1])
    start, record, state = 0, None, None
    ckpt = tune.get_checkpoint()
    if ckpt is not None:
        with ckpt.as_directory() as d:
            state = load_run_checkpoint(Path(d) / TRIAL_CKPT_FILE)
            start, record = run.restore(state), state.get("heldout")
    guard = make_guard(cfg, state and state.get("guardrails"))
    try:
        for step in iterate(run, cfg, start, cfg.tune.iterations or cfg.rl.iterations, held, guard):
            metrics = step.metrics
            metrics.setdefault("objective", float("nan"))
            # Trials checkpoint at each held-out evaluation (every rl.eval_every and the last iteration), so every
            # checkpoint has a fresh objective and Tune keeps the best ones within the guardrails.
            if step.heldout is not None or step.stop:
                record = step.heldout or record
                with tempfile.TemporaryDirectory() as d:
                    os.replace(run.save(Path(d), step.iteration, heldout=record,
                                        guardrails=guard and guard.state_dict()), Path(d) / TRIAL_CKPT_FILE)
                    (Path(d) / "heldout.json").write_text(json.dumps(record, default=_json_default))
                    tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(d))
            else:
                tune.report(metrics)
    finally:
        run.shutdown()


def _json_default(v):
    return float(v) if isinstance(v, (np.floating, np.integer)) else str(v)


# ----------------------------------------------------------------------------------------------------------------------
# Driver


def run_sweep(cfg: Config, storage_path: str, resume: bool = False, address: str | None = None, log=print):
    from ray import tune

    from dance_rl.cluster.inputs import load_base_model, load_conditions
    from dance_rl.cluster.placement import decide_config, trial_bundles
    from dance_rl.cluster.roles import absolute_data_paths, reward_weights
    from dance_rl.cluster.run import init_ray
    from dance_rl.heldout import build_heldout
    from dance_rl.tune_report import write_report

    reward_weights(cfg)
    space = param_space(cfg)
    if "://" not in storage_path:
        storage_path = str(Path(storage_path).resolve())
    exp_dir = Path(storage_path) / cfg.tune.name if "://" not in storage_path else None
    if exp_dir is not None and exp_dir.exists() and not resume:
        raise UserError(f"experiment {exp_dir} exists; pass --resume to continue it, or set tune.name / --storage-path")
    base = load_base_model(cfg, log=log)
    conditions = load_conditions(cfg, "train", log=log)
    held = build_heldout(cfg, base, log=log)
    init_ray(address or cfg.cluster.address)
    # Resource shapes are decided once, here; trials get the decision in cfg (param_space "base") and their bundles.
    cfg = decide_config(cfg, log=log, trainable_cpus=cfg.tune.trainable_cpus)
    cfg = dataclasses.replace(cfg, data=absolute_data_paths(cfg.data))  # trials run in their own directories
    bundles = trial_bundles(cfg.cluster, cfg.tune.trainable_cpus)
    trainable = tune.with_resources(
        tune.with_parameters(rlft_trainable, base=base, conditions=conditions, held=held),
        tune.PlacementGroupFactory(bundles, strategy="PACK"))
    iterations = cfg.tune.iterations or cfg.rl.iterations
    scheduler = None
    if cfg.tune.scheduler == "asha":
        from ray.tune.schedulers import ASHAScheduler
        scheduler = ASHAScheduler(max_t=iterations, grace_period=max(1, iterations // 4))
    if resume:
        if not tune.Tuner.can_restore(str(exp_dir) if exp_dir else f"{storage_path}/{cfg.tune.name}"):
            raise UserError(f"--resume: no experiment to restore at {storage_path}/{cfg.tune.name}")
        tuner = tune.Tuner.restore(str(exp_dir) if exp_dir else f"{storage_path}/{cfg.tune.name}", trainable,
                                   resume_errored=True, resume_unfinished=True,
                                   param_space={"base": cfg.to_dict(), **space})
    else:
        tuner = tune.Tuner(
            trainable,
            param_space={"base": cfg.to_dict(), **space},
            tune_config=tune.TuneConfig(metric=cfg.tune.metric, mode=cfg.tune.mode, scheduler=scheduler,
                                        num_samples=cfg.tune.num_samples,
                                        max_concurrent_trials=cfg.tune.max_concurrent_trials or None),
            run_config=tune.RunConfig(name=cfg.tune.name, storage_path=storage_path,
                                      checkpoint_config=tune.CheckpointConfig(
                                          num_to_keep=2, checkpoint_score_attribute="objective",
                                          checkpoint_score_order=cfg.tune.mode),
                                      failure_config=tune.FailureConfig(max_failures=1)),
        )
    t0 = time.perf_counter()
    results = tuner.fit()
    wall = time.perf_counter() - t0
    unfinished = unfinished_trials(results, cfg)
    if unfinished:
        log(f"sweep interrupted: {unfinished} trial(s) not finished; continue with the same command plus --resume")
        return results, None
    report = write_report(results, cfg, Path(results.experiment_path) if exp_dir is None else exp_dir, wall,
                          base=base, held=held, log=log)
    return results, report


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m dance_rl.tune", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_args(p)
    p.add_argument("--address", default=None, help="join a running cluster: 'auto' or ray://host:10001 "
                                                   "(default: RAY_ADDRESS, else start a local Ray)")
    p.add_argument("--storage-path", default=None, help="experiment storage: a local dir or s3://… / gs://… "
                                                        "(multi-node needs shared storage; default: tune.storage_path)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted sweep of the same name")
    args = p.parse_args(argv)
    path = args.config or DEFAULT_CONFIG
    if args.config is None and not DEFAULT_CONFIG.is_file():
        raise UserError(f"the default sweep {DEFAULT_CONFIG} is missing (a broken install: reinstall dance_rl); "
                        "or pass --config FILE")
    cfg = load_config(path, args.overrides)
    if args.address:
        cfg = apply_dotted(cfg, {"cluster.address": args.address})
    storage = args.storage_path or cfg.tune.storage_path
    print(f"sweep '{cfg.tune.name}' from {path}; storage {storage}")
    results, report = run_sweep(cfg, storage, resume=args.resume, address=args.address)
    if report is None:
        return 130
    print(f"\nreport: {report}")
    best = report.parent / "best_model.pt"
    if best.is_file():
        print(f"best model: {best} (card: {best.with_suffix('.md')}); dance with it:\n"
              f"  python -m dance_rl.generate --checkpoint {best} --audio SONG.wav --out dances/")
    if (report.parent / "best_vs_base.mp4").is_file():
        print(f"side by side with the base model: {report.parent / 'best_vs_base.mp4'}")
    print(f"tensorboard --logdir {report.parent}")
    return 0 if results.num_errors == 0 else 1


if __name__ == "__main__":
    sys.exit(cli_main(main))
