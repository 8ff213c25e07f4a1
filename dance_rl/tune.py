"""Ray Tune sweeps over the reward weights (imitation, FGD, anti-freezing, …): the main job.

    python -m dance_rl.tune [--config tune_configs/demo.yaml] [--set k=v ...] [--address auto|ray://host:10001]
                            [--storage-path DIR|s3://bucket/path] [--resume]

One trial per point of ``tune.search_space`` (× ``tune.points``). Each trial reserves its driver, learner, samplers
and reward actors in one placement group (``tune.with_resources`` + ``PlacementGroupFactory``), runs the RLFT loop,
reports every iteration (all reward components, loss/throughput, and physical metrics on a fixed evaluation set of
music: PFC, FGD, Pen, motion magnitude, BAS, PhyMotion, imitation) and checkpoints with ``tune.Checkpoint``.
The driver prepares the base model and music windows once and ships them to trials through the object store, so
worker nodes need no local data. At the end ``report.md`` (trial table, best trial, Pareto plot, a rendered clip
from the best trial) is written into the experiment directory; TensorBoard logs are in each trial's folder.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_TRAIN_ENABLE_V2_MIGRATION_WARNINGS", "0")

import numpy as np

from dance_rl.config import Config, add_config_args, apply_dotted, config_from_dict, load_config
from dance_rl.errors import UserError, cli_main

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "tune_configs" / "demo.yaml"
POINT_KEY = "__point__"


# ----------------------------------------------------------------------------------------------------------------------
# Search space


def param_space(cfg: Config) -> dict:
    """tune.search_space ({key: {grid|choice|uniform|loguniform: ...}}) and tune.points → a Tune param_space."""
    from ray import tune

    kinds = {"grid": tune.grid_search, "choice": tune.choice,
             "uniform": lambda v: tune.uniform(*v), "loguniform": lambda v: tune.loguniform(*v)}
    space = {}
    for key, spec in cfg.tune.search_space.items():
        if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in kinds:
            raise UserError(f"tune.search_space.{key}: expected one of {{grid: [...]}}, {{choice: [...]}}, "
                            "{uniform: [lo, hi]}, {loguniform: [lo, hi]}")
        try:
            cfg.get(key)
        except AttributeError:
            raise UserError(f"tune.search_space: '{key}' is not a config key") from None
        (kind, values), = spec.items()
        space[key] = kinds[kind](values)
    if cfg.tune.points:
        space[POINT_KEY] = tune.grid_search(list(range(len(cfg.tune.points))))
    return space


def trial_config(base: dict, params: dict) -> Config:
    """The validated config of one trial: the base config with the trial's dotted keys (and explicit point) set."""
    cfg = config_from_dict(base)
    overrides = {k: v for k, v in params.items() if k != POINT_KEY}
    if POINT_KEY in params:
        overrides.update(cfg.tune.points[params[POINT_KEY]])
    return apply_dotted(cfg, overrides) if overrides else cfg


def swept_values(cfg: Config, trial_cfg: Config) -> dict:
    """{reward weight: value} of one trial — what the report table shows as its setting."""
    from dance_rl.rewards.composite import weights_from_config
    return {f"w_{k}": v for k, v in weights_from_config(trial_cfg.rewards).items()}


def expected_trials(cfg: Config) -> int:
    """num_samples × grid sizes × explicit points (Tune creates grid trials lazily, so count them up front)."""
    n = cfg.tune.num_samples * max(1, len(cfg.tune.points))
    for spec in cfg.tune.search_space.values():
        if "grid" in spec:
            n *= len(spec["grid"])
    return n


def unfinished_trials(results, cfg: Config) -> int:
    """Trials not yet finished or failed (Tune returns normally after Ctrl-C; such a sweep gets no report)."""
    trials = getattr(getattr(results, "_experiment_analysis", None), "trials", None) or []
    running = sum(1 for t in trials if t.status not in ("TERMINATED", "ERROR"))
    return running + max(0, expected_trials(cfg) - len(trials))


def objective(weights: dict, metrics: dict) -> float:
    return float(sum(w * float(metrics.get(k, 0.0)) for k, w in weights.items()))


# ----------------------------------------------------------------------------------------------------------------------
# Evaluation on the fixed music set


def evaluate_samples(features: np.ndarray, music: np.ndarray, fps: float = 30.0) -> dict:
    """Physical metrics (means over the evaluation set) of generated 151-d motions; music beats from the beat channel."""
    import torch

    from dance_rl.eval.report import EvalOptions, motion_metrics
    from dance_rl.motion.io import Motion
    from dance_rl.motion.representation import features_to_motion

    poses, trans, _ = features_to_motion(torch.as_tensor(features))
    opts = EvalOptions(seconds=len(features[0]) / fps)
    rows = []
    for i in range(len(features)):
        beats_60 = np.nonzero(music[i][:, -1] > 0.5)[0] * 2  # EDGE's beat one-hot channel, 30 → 60 fps frames
        m = Motion(poses=poses[i].numpy(), trans=trans[i].numpy(), fps=fps)
        rows.append(motion_metrics(m, opts, beats_60))
    keys = ["pfc", "fgd", "fgd_penetration", "fgd_floating", "pen_rate", "motion_magnitude", "bas", "skating_ratio",
            "phymotion", "phymotion_kinematic", "phymotion_contact", "phymotion_dynamic", "imitation_reward",
            "imitation_success", "imitation_survival"]
    out = {}
    for k in keys:
        vals = [float(r[k]) for r in rows if k in r and np.isfinite(float(r[k]))]
        if vals:
            out[f"eval/{k.replace('imitation_reward', 'imitation')}"] = float(np.mean(vals))
    return out


# ----------------------------------------------------------------------------------------------------------------------
# The trainable


def rlft_trainable(config: dict, base=None, conditions=None, eval_set=None):
    """One trial: build the run inside the trial's placement group, iterate, report, checkpoint."""
    from ray import tune

    from dance_rl.cluster.run import RLRun, load_run_checkpoint

    cfg = trial_config(config["base"], {k: v for k, v in config.items() if k != "base"})
    run = RLRun(cfg, base, conditions[0], conditions[1])
    start = 0
    ckpt = tune.get_checkpoint()
    if ckpt is not None:
        with ckpt.as_directory() as d:
            start = run.restore(load_run_checkpoint(Path(d) / "run.pt"))
    iterations = cfg.tune.iterations or cfg.rl.iterations
    every = cfg.tune.eval_every or iterations
    last_eval: dict = {}
    try:
        for it in range(start, iterations):
            metrics = run.iteration(it)
            final = it + 1 == iterations
            if (it + 1) % every == 0 or final:
                last_eval = evaluate_samples(run.sample_fixed(*eval_set), eval_set[0], cfg.data.fps)
            metrics.update(last_eval)
            metrics["objective"] = objective(cfg.tune.objective, metrics)
            if (it + 1) % cfg.rl.checkpoint_every == 0 or final:
                with tempfile.TemporaryDirectory() as d:
                    src = run.save(Path(d), it + 1)
                    os.replace(src, Path(d) / "run.pt")
                    tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(d))
            else:
                tune.report(metrics)
    finally:
        run.shutdown()


# ----------------------------------------------------------------------------------------------------------------------
# Driver


def run_sweep(cfg: Config, storage_path: str, resume: bool = False, address: str | None = None, log=print):
    import ray
    from ray import tune

    from dance_rl.cluster.inputs import eval_conditions, load_base_model, load_conditions
    from dance_rl.cluster.placement import decide_config, trial_bundles
    from dance_rl.cluster.run import init_ray, reward_weights
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
    eval_set = eval_conditions(cfg, log=log)
    init_ray(address or cfg.cluster.address)
    # Resource shapes are decided once, here; trials get the decision in cfg (param_space "base") and their bundles.
    cfg = decide_config(cfg, log=log, trainable_cpus=cfg.tune.trainable_cpus)
    bundles = trial_bundles(cfg.cluster, cfg.tune.trainable_cpus)
    trainable = tune.with_resources(
        tune.with_parameters(rlft_trainable, base=base, conditions=conditions, eval_set=eval_set),
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
                                      checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
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
                          base=base, eval_set=eval_set, log=log)
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
        raise UserError(f"the default sweep {DEFAULT_CONFIG} is missing; pass --config tune_configs/demo.yaml")
    cfg = load_config(path, args.overrides)
    if args.address:
        cfg = apply_dotted(cfg, {"cluster.address": args.address})
    storage = args.storage_path or cfg.tune.storage_path
    print(f"sweep '{cfg.tune.name}' from {path}; storage {storage}")
    results, report = run_sweep(cfg, storage, resume=args.resume, address=args.address)
    if report is None:
        return 130
    print(f"\nreport: {report}\ntensorboard --logdir {report.parent}")
    return 0 if results.num_errors == 0 else 1


if __name__ == "__main__":
    sys.exit(cli_main(main))
