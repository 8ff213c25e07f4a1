"""Train the imitation policy (Skeleton2Stage's learned tracker) with RLlib PPO on the new API stack.

    python -m dance_rl.imitation_policy train [--config FILE] [--set k=v] --out DIR [--resume]

The environment is ``dance_rl.sim.tracking_env.DanceTrackingEnv`` over ``data.source``'s train clips with the
simulator limits of ``sim``; the hyper-parameters are ``imitation_policy.*``. RLlib runs as one Ray Tune trial, so
its env runners are Ray actors (asking for the custom ``sim`` resource when the cluster has such nodes, decided as for
the reward actors by ``cluster.sim_resource``), and Tune writes what RLlib reports: TensorBoard events, progress.csv
and result.json under ``DIR/ppo/<trial>/``, and RLlib checkpoints (``checkpoint_NNNNNN/``). Each checkpoint also holds
``policy.pt``: the RLModule's weights and how to rebuild it, loadable with ``torch.load(weights_only=True)``, which
is what ``rewards.imitation.controller=policy`` reads. ``DIR/curve.csv`` is the learning curve (one line per
iteration). ``--resume`` continues an interrupted run from its last checkpoint.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import time
from pathlib import Path

import torch

from dance_rl.config import add_config_args, dump_config, load_config
from dance_rl.errors import UserError, cli_main
from dance_rl.rewards.imitation_policy import POLICY_FILE, frame_reward
from dance_rl.sim.tracking_env import DanceTrackingEnv

EXPERIMENT = "ppo"


class ImitationEnv(DanceTrackingEnv):
    """The tracking environment with the imitation reward's per-frame term (what RLlib instantiates)."""

    def __init__(self, env_config: dict | None = None):
        super().__init__(env_config, frame_reward)


def env_config(cfg) -> dict:
    p = cfg.imitation_policy
    return {"source": cfg.data.source, "cache_dir": str(Path(cfg.data.cache_dir).resolve()), "split": "train",
            "max_clips": cfg.data.max_clips, "episode_frames": p.episode_frames, "horizon": p.horizon,
            "action_scale": p.action_scale, "sim": dataclasses.asdict(cfg.sim)}


def runner_resources(cluster_cfg) -> dict:
    """{'sim': 1} per env runner when ``cluster.sim_resource`` is require, or auto and a node (up or launchable)
    has the ``sim`` resource; as ``dance_rl.cluster.placement.decide_resources`` decides for reward actors."""
    if cluster_cfg.sim_resource == "off":
        return {}
    from dance_rl.cluster.capacity import cluster_capacity
    from dance_rl.cluster.placement import decide_resources

    decided = decide_resources(dataclasses.replace(cluster_cfg, num_samplers=1, num_reward_actors=1),
                               cluster_capacity())
    return {"sim": 1.0} if decided.sim_resource == "require" else {}


def ppo_config(cfg, resources: dict):
    """The RLlib ``PPOConfig`` (new API stack: RLModule, Learner, EnvRunner) of ``cfg.imitation_policy``."""
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

    p = cfg.imitation_policy
    steps_per_runner = max(1, p.train_batch_size // max(1, p.num_env_runners * p.envs_per_runner))
    return (PPOConfig()
            .api_stack(enable_rl_module_and_learner=True, enable_env_runner_and_connector_v2=True)
            .environment(ImitationEnv, env_config=env_config(cfg))
            .env_runners(num_env_runners=p.num_env_runners, num_envs_per_env_runner=p.envs_per_runner,
                         num_cpus_per_env_runner=p.cpus_per_runner, custom_resources_per_env_runner=resources,
                         rollout_fragment_length=steps_per_runner,
                         sample_timeout_s=900.0)  # RLlib's 60 s: on a loaded machine iterations came back empty
            .learners(num_learners=0)
            .training(train_batch_size_per_learner=p.train_batch_size, minibatch_size=p.minibatch_size,
                      num_epochs=p.num_epochs, lr=p.lr, gamma=p.gamma, lambda_=p.lambda_, clip_param=p.clip_param,
                      entropy_coeff=p.entropy_coeff, vf_clip_param=100.0)
            .rl_module(model_config=DefaultModelConfig(fcnet_hiddens=list(p.hiddens), fcnet_activation="tanh",
                                                       vf_share_layers=False))
            .debugging(seed=p.seed))


def export_policy(algo, path: Path) -> None:
    """Write ``policy.pt``: the RLModule's (inference) weights as tensors plus what rebuilds it (plain types only)."""
    from ray.rllib.core import DEFAULT_MODULE_ID

    state = algo.learner_group.get_weights([DEFAULT_MODULE_ID])[DEFAULT_MODULE_ID]
    env = algo.config.env_config
    model = algo.config.model_config
    model = model if isinstance(model, dict) else dataclasses.asdict(model)
    torch.save({"format": "dance_rl.imitation_policy/1",
                "state_dict": {k: torch.as_tensor(v) for k, v in state.items()},
                "model": {"fcnet_hiddens": list(model["fcnet_hiddens"]), "fcnet_activation": model["fcnet_activation"],
                          "vf_share_layers": bool(model["vf_share_layers"])},
                "env": {k: env[k] for k in ("horizon", "action_scale", "episode_frames", "sim")},
                "iteration": int(algo.iteration)}, path)


def _algorithm_class():
    from ray.rllib.algorithms.ppo import PPO

    class ImitationPPO(PPO):
        """PPO whose checkpoints also carry ``policy.pt`` (torch weights; see the module docstring)."""

        def save_checkpoint(self, checkpoint_dir: str) -> None:
            super().save_checkpoint(checkpoint_dir)
            export_policy(self, Path(checkpoint_dir) / POLICY_FILE)

    return ImitationPPO


def _curve_callback(out: Path):
    from ray import tune

    class Curve(tune.Callback):
        """Prints and appends one learning-curve line per iteration to ``out/curve.csv``."""

        def on_trial_result(self, iteration, trials, trial, result, **info):
            r = result.get("env_runners", {})
            row = {"iteration": result.get("training_iteration"), "time_s": round(result.get("time_total_s", 0), 1),
                   "env_steps": result.get("num_env_steps_sampled_lifetime"),
                   "episode_return_mean": r.get("episode_return_mean"), "episode_len_mean": r.get("episode_len_mean"),
                   "num_episodes": r.get("num_episodes")}
            path = out / "curve.csv"
            new = not path.is_file()
            with open(path, "a", newline="") as f:
                w = csv.DictWriter(f, fieldnames=list(row))
                if new:
                    w.writeheader()
                w.writerow(row)
            print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)

    return Curve()


def train(cfg, out: Path, resume: bool = False) -> Path:
    """Run (or resume) PPO; returns the last checkpoint folder."""
    import ray
    from ray import tune

    from dance_rl.cluster.run import init_ray
    from dance_rl.data.dataset import resolve_source

    p = cfg.imitation_policy
    exp = out / EXPERIMENT
    if resume and not exp.is_dir():
        raise UserError(f"--resume: {out} has no run to resume (no {exp}); drop --resume to start one")
    if not resume and exp.exists():
        raise UserError(f"--out {out}: already holds a run; pass --resume to continue it or choose a new folder")
    resolve_source(cfg.data.source, "train", cfg.data.cache_dir, cfg.data.max_clips)  # build the corpus once, here
    started = not ray.is_initialized()
    init_ray(cfg.cluster.address, num_cpus=max(2, p.num_env_runners + 1))
    resources = runner_resources(cfg.cluster)
    print(f"env runners {'ask for' if resources else 'do not ask for'} the 'sim' resource", flush=True)
    algo_cls, config = _algorithm_class(), ppo_config(cfg, resources)
    stop = {"training_iteration": p.iterations}
    if p.time_budget_s:
        stop["time_total_s"] = p.time_budget_s
    run_config = tune.RunConfig(
        name=EXPERIMENT, storage_path=str(out.resolve()), stop=stop, verbose=0, callbacks=[_curve_callback(out)],
        checkpoint_config=tune.CheckpointConfig(checkpoint_frequency=p.checkpoint_every, checkpoint_at_end=True,
                                                num_to_keep=3))
    if resume:
        tuner = tune.Tuner.restore(str(exp.resolve()), trainable=algo_cls, param_space=config,
                                   resume_unfinished=True, resume_errored=True)
    else:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.yaml").write_text(dump_config(cfg))
        tuner = tune.Tuner(algo_cls, param_space=config, run_config=run_config)
    result = tuner.fit()[0]
    if started:
        ray.shutdown()
    if result.error:
        raise RuntimeError(f"PPO trial failed: {result.error}")
    ckpt = result.checkpoint
    if ckpt is None:
        raise RuntimeError("PPO trial ended without a checkpoint")
    print(f"checkpoint: {ckpt.path}\npolicy: {Path(ckpt.path) / POLICY_FILE}", flush=True)
    done = (result.metrics or {}).get("training_iteration", 0)
    if done < p.iterations and not (p.time_budget_s and result.metrics.get("time_total_s", 0) >= p.time_budget_s):
        print(f"stopped early at iteration {done} of {p.iterations}; continue with --resume", flush=True)
    return Path(ckpt.path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dance_rl.imitation_policy", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train the imitation policy with RLlib PPO")
    add_config_args(t)
    t.add_argument("--out", required=True, help="run folder (RLlib checkpoints, TensorBoard, curve.csv)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    args = ap.parse_args(argv)
    cfg = load_config(args.config, args.overrides)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    t0 = time.time()
    train(cfg, Path(args.out), resume=args.resume)
    print(f"done in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(cli_main(main))
