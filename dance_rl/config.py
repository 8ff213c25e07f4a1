"""One typed configuration tree shared by every CLI and by Ray Tune.

A run is described by :class:`Config` (dataclasses). It loads from YAML, takes dotted overrides (``--set rl.lr=1e-5``)
and is validated on load: an unknown key, a wrong type or an out-of-range value raises one :class:`UserError` that names
the key. Tune search spaces address the same dotted keys (``rewards.imitation.weight``).
"""
from __future__ import annotations

import copy
import dataclasses
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from dance_rl.errors import UserError

_DEVICE_RE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def _f(default, *, lo=None, hi=None, choices=None, doc=""):
    """A field with validation metadata (inclusive bounds, allowed values)."""
    kw = {"default_factory": (lambda d=default: copy.deepcopy(d))} if isinstance(default, (dict, list)) else {"default": default}
    return field(metadata={"lo": lo, "hi": hi, "choices": choices, "doc": doc}, **kw)


@dataclass
class DataConfig:
    source: str = _f("demo", doc="'demo' (built-in corpus), 'aistpp:/path/to/aist_plusplus' or 'folder:/path' (a corpus "
                                  "built by 'python -m dance_rl.data folder', or a folder with motions/ + music/)")
    cache_dir: str = _f(".cache/dance_rl", doc="demo corpus, music features and the cached base model live here")
    fps: int = _f(30, lo=1)
    window_frames: int = _f(150, lo=8)
    train_stride_s: float = _f(0.5, lo=0.01)
    test_stride_s: float = _f(2.5, lo=0.01)
    max_clips: int = _f(0, lo=0, doc="0 = all clips")


MODEL_PRESETS = {
    # Dropout belongs to the preset: EDGE trains for days with 0.1; the 5-minute demo model learns faster without it.
    "demo": dict(latent_dim=128, ff_size=256, num_layers=2, num_heads=4, dropout=0.0),
    "edge": dict(latent_dim=512, ff_size=1024, num_layers=8, num_heads=8, dropout=0.1),
}


@dataclass
class ModelConfig:
    preset: str = _f("demo", choices=tuple(MODEL_PRESETS), doc="fills the sizes below unless they are set explicitly")
    latent_dim: int = _f(128, lo=8)
    ff_size: int = _f(256, lo=8)
    num_layers: int = _f(2, lo=1)
    num_heads: int = _f(4, lo=1)
    dropout: float = _f(0.0, lo=0.0, hi=0.9)
    cond_dim: int = _f(35, choices=(35, 4800), doc="35 = EDGE baseline librosa features, 4800 = Jukebox")
    seq_len: int = _f(150, lo=8)
    nfeats: int = _f(151, choices=(151,))


@dataclass
class DiffusionConfig:
    timesteps: int = _f(1000, lo=10)
    ddim_steps: int = _f(50, lo=2)
    eta: float = _f(1.0, lo=0.0, hi=1.0)
    guidance_weight: float = _f(2.0, lo=0.0)
    cond_drop_prob: float = _f(0.25, lo=0.0, hi=1.0)
    clip_denoised: bool = _f(True)
    fgd_guidance: bool = _f(False, doc="test-time foot-ground guidance at the last DDIM step")


@dataclass
class PretrainConfig:
    """Defaults are the demo recipe, measured on the demo corpus on 2 CPU cores: batch 32 at lr 1e-3 reaches
    feet-on-the-ground samples in ~900 steps (~5 min); EDGE's lr 4e-4 / batch 64 needs several times longer
    (tune_configs/paper.yaml carries EDGE's values)."""
    lr: float = _f(1e-3, lo=0.0)
    weight_decay: float = _f(0.02, lo=0.0)
    batch_size: int = _f(32, lo=1)
    steps: int = _f(900, lo=1)
    ema_decay: float = _f(0.999, lo=0.0, hi=1.0)
    checkpoint_every: int = _f(500, lo=1)
    seed: int = _f(0)
    max_minutes: float = _f(5.0, lo=0.0, doc="stop early after this much wall time (0 = no limit)")
    device: str = _f("auto", doc="auto | cpu | cuda | cuda:N (auto = CUDA when present); --device on the CLI")
    precision: str = _f("auto", choices=("auto", "off", "bf16", "fp16"),
                        doc="mixed precision: auto = bf16 on GPUs that support it, fp16 + grad scaler on older GPUs, "
                            "off on CPU")
    num_workers: int = _f(1, lo=1, doc="data-parallel workers; > 1 runs on Ray Train (TorchTrainer, DDP), "
                                       "1 = the embedded single-process loop")
    use_gpu: bool = _f(False, doc="Ray Train: one GPU per worker (NCCL); otherwise CPU workers on gloo")
    max_failures: int = _f(3, lo=0, doc="Ray Train: restarts from the last checkpoint after a worker dies")
    storage_path: str = _f("runs/pretrain", doc="Ray Train: where run state and checkpoints live (shared storage "
                                                "on a multi-node cluster, e.g. s3:// or NFS)")


@dataclass
class SimConfig:
    physics_hz: int = _f(240, lo=30)
    control_hz: int = _f(60, lo=10)
    termination_head_height: float = _f(0.3, lo=0.0)
    residual_force_limit: float = _f(350.0, lo=0.0, doc="N per world axis; below body weight (687 N) so the "
                                                         "residual cannot hold a floating body up")
    residual_torque_limit: float = _f(400.0, lo=0.0, doc="N·m; bound of the residual root torque")
    kp_scale: float = _f(3.0, lo=0.0, doc="multiplier on PhyMotion's PD gains")
    feedforward: bool = _f(True, doc="inverse-dynamics feed-forward torques in the tracker")
    max_qvel: float = _f(100.0, lo=1.0, doc="velocity above which a rollout counts as diverged")
    root_kp: float = _f(8000.0, lo=0.0)
    root_kd: float = _f(1200.0, lo=0.0)
    root_rot_kp: float = _f(1500.0, lo=0.0)
    root_rot_kd: float = _f(200.0, lo=0.0)
    num_threads: int = _f(2, lo=1)


@dataclass
class RewardTerm:
    weight: float = _f(0.0, lo=0.0)


def _term(w: float):
    return field(default_factory=lambda: RewardTerm(weight=w), metadata={"doc": "reward term"})


@dataclass
class LearnedRewardTerm(RewardTerm):
    checkpoint: str = _f("", doc="reward-model file from `python -m dance_rl.reward_model train --out PATH`; "
                                 "required when the weight is > 0")


@dataclass
class RewardsConfig:
    """Weights per registered reward (paper: imitation 0.51, anti-freezing 0.49, FGD 0.01). Weight 0 = not computed."""
    imitation: ImitationTerm = field(default_factory=lambda: ImitationTerm(weight=0.51),
                                     metadata={"doc": "imitation reward; its controller is the PD tracker or a policy"})
    antifreeze: RewardTerm = _term(0.49)
    fgd: RewardTerm = _term(0.01)
    phymotion: RewardTerm = _term(0.0)
    fgd_ground: RewardTerm = _term(0.0)   # FGD against the z = 0 floor (punishes a constant float/sink)
    skating: RewardTerm = _term(0.0)      # foot sliding while in contact
    learned: LearnedRewardTerm = field(default_factory=LearnedRewardTerm,
                                       metadata={"doc": "E3D2 reward model learned from ranked demonstrations"})


GUARDRAIL_ACTIONS = ("ignore", "warn", "stop", "keep_best")


@dataclass
class GuardrailsConfig:
    """Bounds on held-out realism metrics relative to the base model, each with an action (rl/guardrails.py).

    Rewards can rise while the dance gets worse (issue 13: a deep crouch raised imitation and PhyMotion while motion
    magnitude fell 35% and FID_g rose 5x), so metrics that no reward optimises are checked at each evaluation.
    Actions: 'ignore' (not checked), 'warn' (logged only), 'stop' (end the run after ``patience`` violating
    evaluations in a row), 'keep_best' (the run goes on; the checkpoint kept is the best evaluation that satisfied
    every bound)."""
    enabled: bool = _f(True, doc="check the bounds at every held-out evaluation")
    metric_prefix: str = _f("", doc="prefix of the metric keys in the evaluation dicts, e.g. 'eval/'")
    motion_magnitude_min_ratio: float = _f(0.9, lo=0.0, doc="motion magnitude >= this x the base model's")
    motion_magnitude_action: str = _f("keep_best", choices=GUARDRAIL_ACTIONS, doc="action when motion magnitude is low")
    fid_k_max_ratio: float = _f(1.1, lo=0.0, doc="FID_k (kinetic) <= this x the base model's")
    fid_k_action: str = _f("keep_best", choices=GUARDRAIL_ACTIONS, doc="action when FID_k is high")
    fid_g_max_ratio: float = _f(1.1, lo=0.0, doc="FID_g (geometric) <= this x the base model's")
    fid_g_action: str = _f("keep_best", choices=GUARDRAIL_ACTIONS, doc="action when FID_g is high")
    pelvis_height_max_shift: float = _f(0.05, lo=0.0, doc="|mean pelvis height - the base model's| <= this, metres "
                                                          "(eval/posture.py; a crouch lowers the pelvis)")
    pelvis_height_action: str = _f("keep_best", choices=GUARDRAIL_ACTIONS, doc="action when the pelvis height shifts")
    patience: int = _f(1, lo=1, doc="consecutive violating evaluations before a 'stop' bound ends the run")


@dataclass
class RLConfig:
    algorithm: str = _f("reinforce", choices=("reinforce", "ppo_clip"))
    iterations: int = _f(30, lo=1)
    conditions_per_iter: int = _f(4, lo=1, doc="music windows sampled per iteration")
    samples_per_condition: int = _f(4, lo=1, doc="Skeleton2Stage: 4")
    ddim_steps: int = _f(0, lo=0, doc="0 = diffusion.ddim_steps")
    lr: float = _f(1e-5, lo=0.0, doc="paper: 1e-6 for the full EDGE model")
    weight_decay: float = _f(0.01, lo=0.0)
    grad_clip: float = _f(1.0, lo=0.0)
    ema_decay: float = _f(0.99, lo=0.0, hi=1.0)
    adv_clip: float = _f(5.0, lo=0.0)
    tracker_buffer: int = _f(32, lo=1)
    tracker_min_count: int = _f(16, lo=1)
    adv_std_floor: dict = _f({}, doc="reward name -> minimum std (reward units) in the per-music advantage "
                                     "normalisation; smaller within-music differences count as noise "
                                     "(rl/advantages.py); {} = none, as the paper")
    clip_range: float = _f(0.2, lo=0.0)
    inner_epochs: int = _f(1, lo=1)
    kl_weight: float = _f(0.0, lo=0.0, doc="KL to the frozen base model (DPOK); 0 = off")
    lag: bool = _f(False, doc="let sampling use weights one version old (requires ppo_clip)")
    seed: int = _f(0)
    checkpoint_every: int = _f(10, lo=1)
    render_every: int = _f(0, lo=0, doc="python -m dance_rl.train: render a fixed-seed clip every N iterations "
                                         "(clips/iter_N.mp4 + a TensorBoard frame strip); 0 = never")
    micro_batch: int = _f(0, lo=0, doc="samples per learner micro-batch (0 = whole batch); same gradient, less memory")
    base_checkpoint: str = _f("", doc="model to fine-tune: any model source (file, RLFT checkpoint, run/trial/sweep "
                                      "directory); '' = the cached demo base model, built if missing")
    eval_every: int = _f(0, lo=0, doc="held-out evaluation (eval.*) every N iterations; 0 = only at the end")
    guardrails: GuardrailsConfig = field(default_factory=GuardrailsConfig,
                                         metadata={"doc": "held-out metric bounds relative to the base model"})


@dataclass
class ClusterConfig:
    address: Optional[str] = _f(None, doc="Ray address; None = RAY_ADDRESS or a local cluster")
    num_samplers: int = _f(1, lo=1)
    num_reward_actors: int = _f(1, lo=1)
    sampler_gpus: float = _f(0.0, lo=0.0)
    learner_gpus: float = _f(0.0, lo=0.0)
    sampler_cpus: float = _f(1.0, lo=0.0)
    learner_cpus: float = _f(1.0, lo=0.0)
    reward_cpus: float = _f(1.0, lo=0.0)
    reward_threads: int = _f(1, lo=1)
    sim_resource: str = _f("auto", choices=("auto", "require", "off"), doc="custom 'sim' resource for reward actors")
    chunk_size: int = _f(4, lo=1, doc="samples per sampler→reward chunk")
    max_restarts: int = _f(3, lo=0)
    device: str = _f("auto", doc="sampler/learner device: auto = CUDA when the role has a GPU share and sees one; "
                                 "cpu; cuda or cuda:N (needs sampler_gpus/learner_gpus > 0)")
    precision: str = _f("auto", choices=("auto", "off", "bf16", "fp16"),
                        doc="sampling and learner precision, resolved per role's device (auto: bf16 on GPUs that "
                            "support it, fp16 on older GPUs, off on CPU); keep samplers and learner on the same kind "
                            "of device so recomputed log-probs match the sampled ones")


@dataclass
class TuneConfig:
    name: str = _f("dance_rl_sweep")
    storage_path: str = _f("runs/tune")
    search_space: dict = _f({}, doc="dotted key -> {grid: [...]} | {choice: [...]} | {uniform: [lo, hi]}")
    points: list = _f([], doc="explicit trials, each {dotted key: value} (e.g. leave-one-out ablations); "
                              "crossed with search_space")
    iterations: int = _f(0, lo=0, doc="iterations per trial (0 = rl.iterations)")
    trainable_cpus: float = _f(0.5, lo=0.0, doc="CPU share of each trial's driver (bundle 0 of its placement group)")
    num_samples: int = _f(1, lo=1)
    max_concurrent_trials: int = _f(0, lo=0, doc="0 = as many as resources allow")
    metric: str = _f("objective")
    mode: str = _f("max", choices=("max", "min"))
    scheduler: str = _f("none", choices=("none", "asha"))
    objective: dict = _f({"vs_base/physical_error": -1.0},
                         doc="objective = sum of weight * reported metric; default: the held-out physical error index's "
                             "relative reduction vs the base model (no reward optimises it). Trials outside the "
                             "guardrails are not ranked")


@dataclass
class EvalConfig:
    seconds: float = _f(20.0, lo=1.0, doc="metrics use the first N seconds of each motion (python -m dance_rl.evaluate)")
    music: str = _f("demo-test", doc="held-out music during training/sweeps: 'demo-test' (data.source's test split) "
                                     "or a folder of audio files")
    num_music: int = _f(8, lo=1, doc="held-out music clips in the evaluation during training and sweeps")
    seeds: int = _f(2, lo=1, doc="noise seeds per held-out clip (paired with the base model)")
    clip_seconds: float = _f(0.0, lo=0.0, doc="length of each held-out clip; 0 = the model's window (5 s)")
    n_boot: int = _f(1000, lo=10, doc="bootstrap resamples for the paired confidence intervals")
    imitation: bool = _f(True, doc="include the simulator tracking metrics (the slowest part of an evaluation)")
    smpl_dir: Optional[str] = _f(None, doc="folder with SMPL model files, for mesh-based metrics")


@dataclass
class ImitationTerm(RewardTerm):
    weight: float = _f(0.51, lo=0.0, doc="paper: 0.51")
    controller: str = _f("pd", choices=("pd", "policy"), doc="who performs the motion in the simulator: 'pd' = the PD "
                                                             "+ inverse-dynamics tracker (no training), 'policy' = a "
                                                             "trained RLlib policy (policy_checkpoint)")
    policy_checkpoint: str = _f("", doc="with controller=policy: a run folder, checkpoint folder or policy.pt of "
                                        "`python -m dance_rl.imitation_policy train --out DIR`")


@dataclass
class ImitationPolicyConfig:
    """RLlib PPO for the imitation policy (``python -m dance_rl.imitation_policy train``); defaults: the 2-core demo
    recipe. The corpus is ``data.source``; the simulator limits come from ``sim``."""
    iterations: int = _f(40, lo=1, doc="PPO iterations (each samples train_batch_size env steps)")
    time_budget_s: float = _f(0.0, lo=0.0, doc="also stop after this many seconds of training; 0 = no limit")
    num_env_runners: int = _f(1, lo=0, doc="RLlib env runners (Ray actors); 0 = sample in the driver")
    envs_per_runner: int = _f(1, lo=1, doc="environments per env runner (vectorised)")
    cpus_per_runner: float = _f(1.0, lo=0.0, doc="CPU share of each env runner")
    train_batch_size: int = _f(2000, lo=32, doc="env steps per PPO iteration")
    minibatch_size: int = _f(250, lo=16, doc="PPO SGD minibatch")
    num_epochs: int = _f(6, lo=1, doc="PPO epochs per iteration")
    lr: float = _f(3e-4, lo=0.0, doc="Adam learning rate")
    gamma: float = _f(0.97, lo=0.0, hi=1.0, doc="discount (per 30-fps frame)")
    lambda_: float = _f(0.95, lo=0.0, hi=1.0, doc="GAE lambda")
    clip_param: float = _f(0.2, lo=0.0, doc="PPO clip range")
    entropy_coeff: float = _f(0.0, lo=0.0, doc="entropy bonus")
    hiddens: list = _f([256, 256], doc="MLP sizes of the policy and value networks")
    episode_frames: int = _f(150, lo=2, doc="longest episode (frames at 30 fps) from a random start frame")
    horizon: int = _f(2, lo=1, doc="future reference frames in the observation")
    action_scale: float = _f(0.2, lo=0.0, doc="rad: hinge setpoint residual at action 1 (on top of the PD tracker's)")
    checkpoint_every: int = _f(5, lo=1, doc="RLlib checkpoint (and policy.pt) every N iterations, and at the end")
    seed: int = _f(0, doc="RLlib seed")


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    sim: SimConfig = field(default_factory=SimConfig)
    rewards: RewardsConfig = field(default_factory=RewardsConfig)
    rl: RLConfig = field(default_factory=RLConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    tune: TuneConfig = field(default_factory=TuneConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    imitation_policy: ImitationPolicyConfig = field(default_factory=ImitationPolicyConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def get(self, dotted: str) -> Any:
        node: Any = self
        for part in dotted.split("."):
            node = getattr(node, part)
        return node


# ----------------------------------------------------------------------------------------------------------------------
# Loading, overriding, validating


def _check_value(key: str, f: dataclasses.Field, tp, value):
    origin = typing.get_origin(tp)
    if origin is typing.Union:  # Optional[X]
        if value is None:
            return None
        tp = next(a for a in typing.get_args(tp) if a is not type(None))
    if tp is bool:
        if not isinstance(value, bool):
            raise UserError(f"config key '{key}': expected true/false, got {value!r}")
    elif tp is int:
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
            raise UserError(f"config key '{key}': expected an integer, got {value!r}")
        value = int(value)
    elif tp is float:
        if isinstance(value, str):  # YAML 1.1 reads '1e-6' as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"config key '{key}': expected a number, got {value!r}")
        value = float(value)
    elif tp is str:
        if isinstance(value, bool) and "off" in (f.metadata.get("choices") or ()):
            value = "on" if value else "off"  # YAML 1.1 reads off/no as false (precision: off)
        if not isinstance(value, str):
            raise UserError(f"config key '{key}': expected a string, got {value!r}")
    elif tp is dict:
        if not isinstance(value, dict):
            raise UserError(f"config key '{key}': expected a mapping, got {value!r}")
    elif tp is list:
        if not isinstance(value, list):
            raise UserError(f"config key '{key}': expected a list, got {value!r}")
    meta = f.metadata
    if meta.get("choices") is not None and value not in meta["choices"]:
        raise UserError(f"config key '{key}': {value!r} is not one of {list(meta['choices'])}")
    if meta.get("lo") is not None and value is not None and value < meta["lo"]:
        raise UserError(f"config key '{key}': {value!r} is below the minimum {meta['lo']}")
    if meta.get("hi") is not None and value is not None and value > meta["hi"]:
        raise UserError(f"config key '{key}': {value!r} is above the maximum {meta['hi']}")
    return value


def _build(cls, data: dict, prefix: str, explicit: set):
    if not isinstance(data, dict):
        raise UserError(f"config key '{prefix.rstrip('.') or '<root>'}': expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise UserError(f"config key '{prefix}{unknown[0]}' is unknown (valid keys here: {', '.join(fields)})")
    kwargs = {}
    for name, value in data.items():
        key = prefix + name
        tp = hints[name]
        if dataclasses.is_dataclass(tp):
            kwargs[name] = _build(tp, value, key + ".", explicit)
        else:
            kwargs[name] = _check_value(key, fields[name], tp, value)
            explicit.add(key)
    return cls(**kwargs)


def parse_override(item: str) -> tuple[str, Any]:
    """'a.b=c' → ('a.b', yaml value of c)."""
    if "=" not in item:
        raise UserError(f"override '{item}': expected KEY=VALUE, e.g. rl.lr=1e-5")
    key, raw = item.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def set_dotted(d: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    node = d
    for p in parts[:-1]:
        nxt = node.setdefault(p, {})
        if not isinstance(nxt, dict):
            raise UserError(f"override '{key}': '{p}' is a value, not a section")
        node = nxt
    node[parts[-1]] = value


def config_from_dict(raw: dict) -> Config:
    """Validate a nested dict into a Config; model presets fill sizes that were not given explicitly."""
    explicit: set[str] = set()
    cfg = _build(Config, raw or {}, "", explicit)
    for k, v in MODEL_PRESETS[cfg.model.preset].items():
        if f"model.{k}" not in explicit:
            setattr(cfg.model, k, v)
    if cfg.model.latent_dim % cfg.model.num_heads:
        raise UserError(f"config key 'model.num_heads': {cfg.model.num_heads} must divide model.latent_dim={cfg.model.latent_dim}")
    rewards = [f.name for f in dataclasses.fields(RewardsConfig)]
    for name, floor in cfg.rl.adv_std_floor.items():
        if name not in rewards:
            raise UserError(f"config key 'rl.adv_std_floor.{name}': not a reward; use one of {', '.join(rewards)}")
        if isinstance(floor, bool) or not isinstance(floor, (int, float)) or not floor >= 0:
            raise UserError(f"config key 'rl.adv_std_floor.{name}': expected a number >= 0, got {floor!r}")
    for key in ("pretrain.device", "cluster.device"):
        if not _DEVICE_RE.match(str(cfg.get(key))):
            raise UserError(f"config key '{key}': {cfg.get(key)!r} is not a device; use auto, cpu, cuda or cuda:N")
    if cfg.rewards.learned.weight > 0 and not cfg.rewards.learned.checkpoint:
        raise UserError("config key 'rewards.learned.checkpoint': required when rewards.learned.weight > 0; train one "
                        "with `python -m dance_rl.reward_model train --out rm.pt`")
    if cfg.rl.lag and cfg.rl.algorithm != "ppo_clip":
        raise UserError("config key 'rl.lag': the one-version lag needs rl.algorithm=ppo_clip (ratio correction)")
    return cfg


def load_yaml(path: str | Path) -> dict:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"config file '{p}' not found; pass an existing YAML file (see tune_configs/)")
    try:
        raw = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise UserError(f"config file '{p}' is not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise UserError(f"config file '{p}' must contain a mapping of sections")
    return raw


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = (),
                base: dict | None = None) -> Config:
    """Defaults ← ``base`` ← YAML file ← ``overrides`` (each 'a.b=c'); validated."""
    raw = copy.deepcopy(base) if base else {}
    if path is not None:
        _deep_update(raw, load_yaml(path))
    for item in overrides:
        key, value = parse_override(item)
        set_dotted(raw, key, value)
    return config_from_dict(raw)


def _deep_update(dst: dict, src: dict) -> dict:
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict) and k not in ("search_space", "objective"):
            _deep_update(dst[k], v)
        else:
            dst[k] = v
    return dst


def apply_dotted(cfg: Config, params: dict[str, Any]) -> Config:
    """Return a validated copy of ``cfg`` with dotted keys set (how Tune trials get their config)."""
    raw = cfg.to_dict()
    for k, v in params.items():
        set_dotted(raw, k, v)
    return config_from_dict(_strip_preset_fill(raw, cfg, params))


def _strip_preset_fill(raw: dict, cfg: Config, params: dict[str, Any]) -> dict:
    # Sizes in a materialised config are explicit values; when the preset changes, the new preset fills them, except
    # the sizes set in the same call ({model.preset: edge, model.num_layers: 4} gives 4 layers).
    if raw["model"]["preset"] != cfg.model.preset:
        for k in MODEL_PRESETS[raw["model"]["preset"]]:
            if f"model.{k}" not in params:
                raw["model"].pop(k, None)
    return raw


def add_config_args(parser) -> None:
    """The standard --config/--set arguments every CLI shares."""
    parser.add_argument("--config", default=None, help="YAML config file (default: the built-in demo defaults)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set rl.lr=1e-5 (repeatable)")


def dump_config(cfg: Config) -> str:
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)
