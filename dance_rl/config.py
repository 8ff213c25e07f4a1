"""One typed configuration tree shared by every CLI and by Ray Tune.

A run is described by :class:`Config` (dataclasses). It loads from YAML, takes dotted overrides (``--set rl.lr=1e-5``)
and is validated on load: an unknown key, a wrong type or an out-of-range value raises one :class:`UserError` that names
the key. Tune search spaces address the same dotted keys (``rewards.imitation.weight``). Every field carries a doc;
``--help-config`` on any CLI with ``--config`` lists them, and :func:`dump_config` writes them as YAML comments.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import re
import textwrap
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from dance_rl.errors import UserError

_DEVICE_RE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def _f(default, *, lo=None, hi=None, choices=None, doc=""):
    """A field with validation metadata (inclusive bounds, allowed values) and its doc."""
    kw = {"default_factory": (lambda d=default: copy.deepcopy(d))} if isinstance(default, (dict, list)) else {"default": default}
    return field(metadata={"lo": lo, "hi": hi, "choices": choices, "doc": doc}, **kw)


def _section(cls, doc: str):
    """A nested section (a dataclass field) and its doc."""
    return field(default_factory=cls, metadata={"doc": doc})


@dataclass
class DataConfig:
    source: str = _f("demo", doc="'demo' (built-in corpus), 'aistpp:/path/to/aist_plusplus' or 'folder:/path' (a corpus "
                                  "built by 'python -m dance_rl.data folder', or a folder with motions/ + music/)")
    cache_dir: str = _f(".cache/dance_rl", doc="demo corpus, music features and the cached base model live here")
    fps: int = _f(30, lo=1, doc="frame rate of the windows (every corpus is resampled to 30 fps); turns the strides "
                                "into frames and is the rate the rewards assume, so keep 30")
    window_frames: int = _f(150, lo=8, doc="frames per window; must equal model.seq_len")
    train_stride_s: float = _f(0.5, lo=0.01, doc="seconds between the starts of consecutive training windows")
    test_stride_s: float = _f(2.5, lo=0.01, doc="seconds between the starts of consecutive test windows")
    max_clips: int = _f(0, lo=0, doc="use only the first N clips of each split (ignored for the demo corpus); "
                                     "0 = all clips")


MODEL_PRESETS = {
    # The one table of model sizes (diffusion.model.ModelSpec.preset reads it too). Dropout belongs to the preset:
    # EDGE trains for days with 0.1; the 5-minute demo model learns faster without it.
    "demo": dict(latent_dim=128, ff_size=256, num_layers=2, num_heads=4, dropout=0.0),
    "edge": dict(latent_dim=512, ff_size=1024, num_layers=8, num_heads=8, dropout=0.1),
}
_DEMO = MODEL_PRESETS["demo"]


@dataclass
class ModelConfig:
    preset: str = _f("demo", choices=tuple(MODEL_PRESETS), doc="size preset: demo (small, CPU) or edge (EDGE's model); "
                                                                "fills the sizes below unless they are set explicitly")
    latent_dim: int = _f(_DEMO["latent_dim"], lo=8, doc="transformer width (from model.preset unless set)")
    ff_size: int = _f(_DEMO["ff_size"], lo=8, doc="feed-forward width of each layer (from model.preset unless set)")
    num_layers: int = _f(_DEMO["num_layers"], lo=1, doc="decoder layers (from model.preset unless set)")
    num_heads: int = _f(_DEMO["num_heads"], lo=1, doc="attention heads; must divide latent_dim (from model.preset "
                                                       "unless set)")
    dropout: float = _f(_DEMO["dropout"], lo=0.0, hi=0.9, doc="dropout in attention and feed-forward layers "
                                                               "(from model.preset unless set)")
    cond_dim: int = _f(35, choices=(35, 4800), doc="35 = EDGE baseline librosa features, 4800 = Jukebox")
    music_cmn: bool = _f(False, doc="subtract each window's mean MFCC and chroma before the music encoder (cepstral "
                                    "mean normalisation: indifferent to gain, EQ and key; 35-d features only). On the "
                                    "demo corpus it grounds the model on real songs but doubles its skating "
                                    "(docs/results.md, session 17)")
    seq_len: int = _f(150, lo=8, doc="frames the model generates per window (150 = 5 s at 30 fps); "
                                     "must equal data.window_frames")
    nfeats: int = _f(151, choices=(151,), doc="motion features per frame (EDGE's layout: contacts, root position, "
                                              "24 joint rotations in 6D)")


@dataclass
class DiffusionConfig:
    """Stored with a pretrained model: these are the settings it is sampled with afterwards."""
    timesteps: int = _f(1000, lo=10, doc="noise levels of the diffusion schedule (training and sampling)")
    ddim_steps: int = _f(50, lo=2, doc="DDIM denoising steps per sample")
    ddim_spacing: str = _f("uniform", choices=("uniform", "quadratic"),
                           doc="where the DDIM steps sit: uniform (EDGE) or quadratic (denser near the clean end; "
                               "with few steps the last x0 prediction then starts from little noise)")
    eta: float = _f(1.0, lo=0.0, hi=1.0, doc="DDIM noise: 1 = stochastic steps (needed for RL log-probabilities), "
                                             "0 = deterministic")
    guidance_weight: float = _f(2.0, lo=0.0, doc="classifier-free guidance w: unconditional + w x (music - "
                                                  "unconditional); 1 = no guidance")
    cond_drop_prob: float = _f(0.25, lo=0.0, hi=1.0, doc="pretraining: fraction of windows trained without their "
                                                         "music (what classifier-free guidance needs)")
    clip_denoised: bool = _f(True, doc="clamp each predicted clean motion to the normalised range [-1, 1]")
    fgd_guidance: bool = _f(False, doc="test-time foot-ground guidance at the last DDIM step")


@dataclass
class PretrainConfig:
    """Defaults are the demo recipe, measured on the demo corpus on 2 CPU cores: batch 32 at lr 1e-3 reaches
    feet-on-the-ground samples in ~900 steps (~5 min); EDGE's lr 4e-4 / batch 64 needs several times longer
    (tune_configs/paper.yaml carries EDGE's values). loss_weighting=min_snr with lr_schedule=cosine (not EDGE's
    uniform/constant) because in the same 900 steps it keeps the input's motion at low noise: the samples move 2.2x
    more at low frequency (docs/results.md, "Base model: Min-SNR"; the trade-offs on real music are there too)."""
    lr: float = _f(1e-3, lo=0.0, doc="AdamW learning rate (after a short linear warm-up)")
    lr_schedule: str = _f("cosine", choices=("constant", "cosine"), doc="after the warm-up: constant (EDGE) or a cosine "
                                                                       "decay to 0.1 x lr at pretrain.steps")
    loss_weighting: str = _f("min_snr", choices=("uniform", "min_snr"),
                             doc="weight of each window's loss by its noise level: uniform (EDGE) or Min-SNR-gamma, "
                                 "which makes a short run learn the low-noise steps every sample ends with")
    min_snr_gamma: float = _f(5.0, lo=0.01, doc="gamma of pretrain.loss_weighting=min_snr: the SNR at which weights "
                                                "stop growing")
    weight_decay: float = _f(0.02, lo=0.0, doc="AdamW weight decay")
    batch_size: int = _f(32, lo=1, doc="windows per step (the global batch, split evenly over Ray Train workers)")
    steps: int = _f(900, lo=1, doc="optimiser steps")
    ema_decay: float = _f(0.999, lo=0.0, hi=1.0, doc="decay of the EMA weights (what loading the model uses; "
                                                      "ramped up over the first steps)")
    checkpoint_every: int = _f(500, lo=1, doc="save a checkpoint every N steps (and at the end)")
    seed: int = _f(0, doc="seeds the initial weights, batch order and diffusion noise")
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
    """The MuJoCo tracker behind the imitation reward (sim/tracker.py takes this dataclass as its settings)."""
    physics_hz: int = _f(240, lo=30, doc="MuJoCo steps per second (rounded to a whole multiple of the control rate)")
    control_hz: int = _f(60, lo=10, doc="setpoint updates per second (rounded to a whole multiple of the frame rate)")
    termination_head_height: float = _f(0.3, lo=0.0, doc="m; a clip ends when the head falls below this "
                                                          "(Skeleton2Stage: 0.3)")
    residual_force_limit: float = _f(350.0, lo=0.0, doc="N per world axis; below body weight (687 N) so the "
                                                         "residual cannot hold a floating body up")
    residual_torque_limit: float = _f(400.0, lo=0.0, doc="N·m; bound of the residual root torque (norm)")
    kp_scale: float = _f(3.0, lo=0.0, doc="multiplier on PhyMotion's PD gains of the joint servos")
    feedforward: bool = _f(True, doc="inverse-dynamics feed-forward torques in the tracker")
    max_qvel: float = _f(100.0, lo=1.0, doc="rad/s or m/s; a velocity above this marks the rollout diverged")
    root_kp: float = _f(8000.0, lo=0.0, doc="N/m; stiffness of the residual pelvis position servo")
    root_kd: float = _f(1200.0, lo=0.0, doc="N·s/m; damping of the residual pelvis position servo")
    root_rot_kp: float = _f(1500.0, lo=0.0, doc="N·m/rad; stiffness of the residual pelvis orientation servo")
    root_rot_kd: float = _f(200.0, lo=0.0, doc="N·m·s/rad; damping of the residual pelvis orientation servo")
    num_threads: int = _f(1, lo=1, doc="threads stepping a batch of clips (results are identical at any count); "
                                       "Ray reward actors use cluster.reward_threads instead")


@dataclass
class RewardTerm:
    weight: float = _f(0.0, lo=0.0, doc="weight of this reward's per-music normalised advantage in the update (and of "
                                        "its score in the logged total); 0 = not computed")


def _term(w: float, doc: str):
    return field(default_factory=lambda: RewardTerm(weight=w), metadata={"doc": doc})


@dataclass
class LearnedRewardTerm(RewardTerm):
    checkpoint: str = _f("", doc="reward-model file from `python -m dance_rl.reward_model train --out PATH`; "
                                 "required when the weight is > 0")


@dataclass
class AntifreezeTerm(RewardTerm):
    root: str = _f("vertical", choices=("vertical", "all", "none"),
                   doc="root translation removed before measuring kinetic energy: 'vertical' (Skeleton2Stage: "
                       "travelling counts, bobbing does not), 'all' (limb motion relative to the root only)")


@dataclass
class SkatingTerm(RewardTerm):
    speed_scale: float = _f(0.5, lo=1e-3, doc="m/s; per frame r = exp(-speed / speed_scale) of the fastest foot in "
                                              "contact. 0.5 = GMD's skating threshold; larger keeps a gradient "
                                              "for feet that slide faster than that")


@dataclass
class PhyMotionTerm(RewardTerm):
    floor: str = _f("clip", choices=("clip", "ground", "min_foot"),
                    doc="foot heights measured from: 'clip' = the clip's mean lowest-joint height (a rigid float or "
                        "sink changes nothing; fgd_ground punishes those), 'ground' = z = 0 (what evaluation reports; "
                        "its penetration term then pays for floating), 'min_foot' = the release's lowest foot")


@dataclass
class RewardsConfig:
    """Weights per registered reward (paper: imitation 0.51, anti-freezing 0.49, FGD 0.01). Weight 0 = not computed."""
    imitation: ImitationTerm = field(default_factory=lambda: ImitationTerm(weight=0.51),
                                     metadata={"doc": "how well a simulated humanoid can perform the motion; its "
                                                      "controller is the PD tracker (sim.*) or a trained policy"})
    antifreeze: AntifreezeTerm = field(default_factory=lambda: AntifreezeTerm(weight=0.49),
                                       metadata={"doc": "anti-freezing: mean joint kinetic energy (rewards motion)"})
    fgd: RewardTerm = _term(0.01, "foot-ground deviation: a steady lowest-joint height (relative to the clip's own "
                                  "mean, so blind to a constant float)")
    phymotion: PhyMotionTerm = field(default_factory=PhyMotionTerm,
                                     metadata={"doc": "PhyMotion's kinematic, contact and dynamic plausibility scores"})
    fgd_ground: RewardTerm = _term(0.0, "FGD against the z = 0 floor (punishes a constant float/sink)")
    skating: SkatingTerm = field(default_factory=SkatingTerm,
                                 metadata={"doc": "foot sliding while in contact with the floor"})
    root_smoothness: RewardTerm = _term(0.0, "a steady root: low frame-to-frame acceleration of the pelvis position "
                                             "(the jitter PFC is built on)")
    learned: LearnedRewardTerm = _section(LearnedRewardTerm, "E3D2 reward model learned from ranked demonstrations")


DRAFT_ERRORS = ("pfc", "fgd", "floor", "skate", "pen", "lift")  # differentiable errors of rl/draft.py
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
    motion_lowpass_min_ratio: float = _f(0.9, lo=0.0, doc="low-pass motion magnitude (jitter removed, "
                                                          "rewards/antifreeze.py) >= this x the base model's")
    motion_lowpass_action: str = _f("keep_best", choices=GUARDRAIL_ACTIONS, doc="action when low-pass motion is low")
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
    algorithm: str = _f("reinforce", choices=("reinforce", "ppo_clip", "draft"),
                        doc="policy gradient over the DDIM steps: reinforce, or ppo_clip (clipped probability ratio; "
                            "required by rl.lag, and what keeps inner_epochs > 1 near the sampling policy); or draft: "
                            "exact gradients of differentiable physics errors through the last rl.draft_steps steps "
                            "(rl/draft.py; the reward actors' scores are then logged, not used)")
    iterations: int = _f(30, lo=1, doc="RL iterations (sample, score, update); a sweep uses tune.iterations if set")
    conditions_per_iter: int = _f(4, lo=1, doc="music windows sampled per iteration")
    samples_per_condition: int = _f(4, lo=1, doc="samples per music window; the advantage compares them "
                                                        "(Skeleton2Stage: 4)")
    ddim_steps: int = _f(0, lo=0, doc="DDIM steps of the RL samples (each is a policy step); 0 = diffusion.ddim_steps")
    lr: float = _f(1e-5, lo=0.0, doc="learner AdamW learning rate; paper: 1e-6 for the full EDGE model")
    weight_decay: float = _f(0.01, lo=0.0, doc="AdamW weight decay of the learner")
    grad_clip: float = _f(1.0, lo=0.0, doc="clip the gradient norm of each update to this (0 = no clipping)")
    ema_decay: float = _f(0.99, lo=0.0, hi=1.0, doc="decay of the learner's EMA weights (what held-out evaluation "
                                                     "and loading the fine-tuned model use)")
    adv_clip: float = _f(5.0, lo=0.0, doc="clip the combined per-frame advantage to +-this")
    tracker_buffer: int = _f(32, lo=1, doc="rewards kept per music window for the advantage statistics (DDPO's "
                                           "per-prompt stat tracker; x frames for per-frame rewards)")
    tracker_min_count: int = _f(16, lo=1, doc="below this many stored rewards a music window uses the batch's "
                                              "statistics instead; must be <= tracker_buffer")
    adv_std_floor: dict = _f({}, doc="reward name -> minimum std (reward units) in the per-music advantage "
                                     "normalisation; smaller within-music differences count as noise "
                                     "(rl/advantages.py); {} = none, as the paper")
    clip_range: float = _f(0.2, lo=0.0, doc="ppo_clip: the probability ratio is clipped to 1 +- this")
    inner_epochs: int = _f(1, lo=1, doc="passes of the update over each iteration's samples")
    kl_weight: float = _f(0.0, lo=0.0, doc="KL to the frozen base model (DPOK); 0 = off")
    ptx_steps: int = _f(0, lo=0, doc="after each policy update, this many optimiser steps of the pretraining loss on the "
                                     "training mocap (InstructGPT's PPO-ptx): they undo the drift toward stillness that "
                                     "the policy gradient's noise causes (docs/results.md, session 13); 0 = off")
    ptx_lr: float = _f(1e-4, lo=0.0, doc="learning rate of the rl.ptx_steps (the policy update keeps rl.lr)")
    ptx_batch: int = _f(32, lo=1, doc="mocap windows per rl.ptx_steps step")
    draft_steps: int = _f(2, lo=1, doc="draft: the last DDIM steps replayed with autograd (DRaFT-K)")
    draft_errors: dict = _f({"pfc": 1.0, "fgd": 1.0, "floor": 1.0, "skate": 1.0, "pen": 1.0, "lift": 0.0},
                            doc="draft: weight of each differentiable error (rewards/differentiable.py: pfc, fgd, floor, "
                                "skate, pen, lift), each relative to the base model's value on the same latents; a dict you "
                                "set replaces this one (errors left out get weight 0)")
    draft_target: float = _f(0.5, lo=0.0, doc="draft: an error stops being pushed down once below this fraction of "
                                             "the base model's (per sample); 0 = push toward zero, past real dancing")
    draft_targets: dict = _f({}, doc="draft: error name -> its own target, overriding rl.draft_target for that error "
                                     "(e.g. {skate: 0.25})")
    draft_motion_weight: float = _f(5.0, lo=0.0, doc="draft: the anti-freezing term, a hinge on each sample's motion "
                                                     "magnitude (plain and low-pass) and kinetic energy below what the "
                                                     "base model makes from the same latents; 0 = off")
    draft_anchor_weight: float = _f(100.0, lo=0.0, doc="draft: mean squared distance (normalised features) between the "
                                                      "sample and the base model's from the same latents")
    draft_chain_weight: float = _f(100.0, lo=0.0, doc="draft: mean squared distance between the model's and the base's "
                                                       "x0 predictions on earlier (not replayed) steps of the stored chain: "
                                                       "they decide the large-scale motion and drift without it")
    draft_chain_steps: int = _f(2, lo=1, doc="draft: earlier steps per update the chain anchor looks at (drawn anew "
                                             "each update)")
    placebo: bool = _f(False, doc="replace every advantage by a per-sample standard normal draw: a run that learns "
                                  "nothing, to measure what the updates alone do to the model (docs/results.md)")
    lag: bool = _f(False, doc="let sampling use weights one version old (requires ppo_clip)")
    seed: int = _f(0, doc="seeds the music windows drawn each iteration and the sampling noise")
    checkpoint_every: int = _f(10, lo=1, doc="save a checkpoint every N iterations (and at the end)")
    render_every: int = _f(0, lo=0, doc="python -m dance_rl.train: render a fixed-seed clip every N iterations "
                                         "(clips/iter_N.mp4 + a TensorBoard frame strip); 0 = never")
    micro_batch: int = _f(0, lo=0, doc="samples per learner micro-batch (0 = whole batch); same gradient, less memory")
    music: str = _f("", doc="folder of audio files whose windows (half-window stride) condition the RL samples; '' = "
                            "data.source's training music. RL needs no paired dance, so real songs can stand in for "
                            "the demo corpus's synthesised music (scripts/game_music.sh train)")
    music_with_corpus: bool = _f(False, doc="with rl.music: draw from its windows and data.source's training music "
                                            "together (the demo base floats on most real songs and skates on the "
                                            "corpus's music; the updates see both failure modes)")
    music_shift: float = _f(0.0, lo=0.0, doc="with rl.music: every other song window gets a constant offset on its MFCC "
                                             "and chroma, N(0, (music_shift x SD)^2) per channel, SD = the spread of "
                                             "the songs' window means. Unfamiliar timbre and key are what throw the "
                                             "demo base into the poses it fails on (docs/results.md, session 17); "
                                             "this way the updates see them. 0 = off")
    base_checkpoint: str = _f("", doc="model to fine-tune: any model source (file, RLFT checkpoint, run/trial/sweep "
                                      "directory); '' = the cached demo base model, built if missing")
    eval_every: int = _f(0, lo=0, doc="held-out evaluation (eval.*) every N iterations; 0 = only at the end")
    guardrails: GuardrailsConfig = _section(GuardrailsConfig, "held-out metric bounds relative to the base model")


@dataclass
class ClusterConfig:
    """The Ray roles of one RL run (one learner, samplers, reward actors) and what each reserves."""
    address: Optional[str] = _f(None, doc="Ray address; null = RAY_ADDRESS or a local cluster")
    num_samplers: int = _f(1, lo=1, doc="sampler actors generating motions with the latest weights")
    num_reward_actors: int = _f(1, lo=1, doc="reward actors scoring the samples (MuJoCo runs here)")
    sampler_gpus: float = _f(0.0, lo=0.0, doc="GPUs reserved per sampler (a fraction shares one); 0 = CPU")
    learner_gpus: float = _f(0.0, lo=0.0, doc="GPUs reserved for the learner (a fraction shares one); 0 = CPU")
    sampler_cpus: float = _f(1.0, lo=0.0, doc="CPUs reserved per sampler; its torch threads = the whole part (>= 1)")
    learner_cpus: float = _f(1.0, lo=0.0, doc="CPUs reserved for the learner; its torch threads = the whole part "
                                              "(>= 1)")
    reward_cpus: float = _f(1.0, lo=0.0, doc="CPUs reserved per reward actor")
    reward_threads: int = _f(1, lo=1, doc="MuJoCo threads per reward actor (replaces sim.num_threads there)")
    sim_resource: str = _f("auto", choices=("auto", "require", "off"),
                           doc="reward actors ask for the custom 'sim' resource: require (an error when no node type "
                               "has it), off, or auto (when some node type has it)")
    chunk_size: int = _f(4, lo=1, doc="samples per sampler→reward chunk")
    max_restarts: int = _f(3, lo=0, doc="Ray restarts (and task retries) of a sampler or reward actor that dies")
    device: str = _f("auto", doc="sampler/learner device: auto = CUDA when the role has a GPU share and sees one; "
                                 "cpu; cuda or cuda:N (needs sampler_gpus/learner_gpus > 0)")
    precision: str = _f("auto", choices=("auto", "off", "bf16", "fp16"),
                        doc="sampling and learner precision, resolved per role's device (auto: bf16 on GPUs that "
                            "support it, fp16 on older GPUs, off on CPU); keep samplers and learner on the same kind "
                            "of device so recomputed log-probs match the sampled ones")


@dataclass
class TuneConfig:
    name: str = _f("dance_rl_sweep", doc="experiment name: the sweep's directory under the storage path")
    storage_path: str = _f("runs/tune", doc="where sweeps live (a local folder or s3:// / gs://); --storage-path wins")
    search_space: dict = _f({}, doc="dotted key -> {grid: [...]} | {choice: [...]} | {uniform: [lo, hi]} | "
                                    "{loguniform: [lo, hi]}")
    points: list = _f([], doc="explicit trials, each {dotted key: value} (e.g. leave-one-out ablations); "
                              "crossed with search_space")
    iterations: int = _f(0, lo=0, doc="iterations per trial (0 = rl.iterations)")
    trainable_cpus: float = _f(0.5, lo=0.0, doc="CPU share of each trial's driver (bundle 0 of its placement group)")
    num_samples: int = _f(1, lo=1, doc="Tune's num_samples: repeats of the grid (random spaces draw this many points)")
    max_concurrent_trials: int = _f(0, lo=0, doc="trials running at once; 0 = as many as resources allow")
    metric: str = _f("objective", doc="reported metric Tune ranks trials and keeps checkpoints by")
    mode: str = _f("max", choices=("max", "min"), doc="whether a higher or a lower tune.metric is better")
    scheduler: str = _f("none", choices=("none", "asha"), doc="asha stops weak trials early (grace period: a quarter "
                                                              "of the iterations); none runs every trial to the end")
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
    data: DataConfig = _section(DataConfig, "the dance corpus and how it is cut into windows")
    model: ModelConfig = _section(ModelConfig, "the diffusion model's architecture (EDGE's DanceDecoder)")
    diffusion: DiffusionConfig = _section(DiffusionConfig, "noise schedule and DDIM sampling")
    pretrain: PretrainConfig = _section(PretrainConfig, "pretraining the base model (python -m dance_rl.pretrain)")
    sim: SimConfig = _section(SimConfig, "the MuJoCo tracker behind the imitation reward")
    rewards: RewardsConfig = _section(RewardsConfig, "reward weights (weight 0 = not computed)")
    rl: RLConfig = _section(RLConfig, "RL fine-tuning (python -m dance_rl.train, each sweep trial)")
    cluster: ClusterConfig = _section(ClusterConfig, "Ray roles and resources of one RL run")
    tune: TuneConfig = _section(TuneConfig, "Ray Tune sweeps (python -m dance_rl.tune)")
    eval: EvalConfig = _section(EvalConfig, "held-out evaluation (python -m dance_rl.evaluate, during training)")
    imitation_policy: ImitationPolicyConfig = _section(ImitationPolicyConfig, "training the RLlib imitation policy "
                                                       "(python -m dance_rl.imitation_policy)")

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


def _build(cls, data: dict, prefix: str, explicit: set, base=None):
    """``data`` over ``base`` (the parent field's own default, e.g. ``AntifreezeTerm(weight=0.49)``; the class
    defaults when None): a key left out keeps the default the tree declares, not the section class's."""
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
            f = fields[name]
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else None
            kwargs[name] = _build(tp, value, key + ".", explicit, default)
        else:
            kwargs[name] = _check_value(key, fields[name], tp, value)
            explicit.add(key)
    return dataclasses.replace(base, **kwargs) if base is not None else cls(**kwargs)


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
    if cfg.model.music_cmn and cfg.model.cond_dim != 35:
        raise UserError(f"config key 'model.music_cmn': it needs the 35-d librosa features, not cond_dim="
                        f"{cfg.model.cond_dim}; set model.music_cmn=false")
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
    if cfg.rl.tracker_min_count > cfg.rl.tracker_buffer:
        raise UserError(f"config key 'rl.tracker_min_count': {cfg.rl.tracker_min_count} exceeds rl.tracker_buffer="
                        f"{cfg.rl.tracker_buffer}; the buffer could never be used")
    for key in ("draft_errors", "draft_targets"):  # error name -> number >= 0
        for name, v in getattr(cfg.rl, key).items():
            if name not in DRAFT_ERRORS:
                raise UserError(f"config key 'rl.{key}.{name}': not a differentiable error; use one of "
                                f"{', '.join(DRAFT_ERRORS)}")
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
                raise UserError(f"config key 'rl.{key}.{name}': expected a number >= 0, got {v!r}")
    if cfg.rl.algorithm == "draft" and cfg.rl.placebo:
        raise UserError("config key 'rl.placebo': the placebo replaces policy-gradient advantages; rl.algorithm=draft "
                        "uses none (set rl.placebo=false, or a reinforce/ppo_clip algorithm)")
    if cfg.rl.music_shift > 0 and not cfg.rl.music:
        raise UserError("config key 'rl.music_shift': shifts rl.music's song windows, but rl.music is empty; set "
                        "rl.music=DIR or rl.music_shift=0")
    if cfg.rl.music_with_corpus and not cfg.rl.music:
        raise UserError("config key 'rl.music_with_corpus': mixes rl.music's songs with the corpus's music, but "
                        "rl.music is empty; set rl.music to a folder of songs (scripts/game_music.sh train)")
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
    """The standard --config/--set/--help-config arguments every CLI shares."""
    parser.add_argument("--config", default=None, help="YAML config file (default: the built-in demo defaults)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set rl.lr=1e-5 (repeatable)")
    parser.add_argument("--help-config", action=_HelpConfig,
                        help="list every config key with its type, default and meaning, then exit")


class _HelpConfig(argparse.Action):
    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(config_help())
        parser.exit(0)


# ----------------------------------------------------------------------------------------------------------------------
# Showing the tree: --help-config and dump_config read the same field docs


def config_fields(cls=Config, prefix: str = ""):
    """Every field of the tree in file order as (dotted key, dataclasses.Field, type); a section before its fields."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        yield prefix + f.name, f, hints[f.name]
        if dataclasses.is_dataclass(hints[f.name]):
            yield from config_fields(hints[f.name], prefix + f.name + ".")


def _inline(value) -> str:
    """One value as inline (flow-style) YAML."""
    return yaml.safe_dump([value], default_flow_style=True, width=1 << 30, allow_unicode=True).strip()[1:-1]


def _kind(f: dataclasses.Field, tp) -> str:
    args = typing.get_args(tp) if typing.get_origin(tp) is typing.Union else (tp,)
    kind = " or ".join("null" if a is type(None) else a.__name__ for a in args)
    m = f.metadata
    if m.get("choices"):
        return f"{kind}: {' | '.join(map(str, m['choices']))}"
    if m.get("lo") is not None or m.get("hi") is not None:
        lo, hi = m.get("lo"), m.get("hi")
        return f"{kind} in [{lo}, {hi}]" if lo is not None and hi is not None else \
            f"{kind} >= {lo}" if lo is not None else f"{kind} <= {hi}"
    return kind


def config_help() -> str:
    """Every config key grouped by section: type (with its allowed values), default and doc."""
    defaults = Config()
    lines = ["Config keys: set them in the --config YAML file (sections below) or with --set KEY=VALUE."]
    for key, f, tp in config_fields():
        doc = f.metadata.get("doc", "")
        if dataclasses.is_dataclass(tp):
            lines += [""] if "." not in key else []
            lines += textwrap.wrap(f"{key}: {doc}", 120, initial_indent="  " if "." in key else "",
                                   subsequent_indent="      ", break_on_hyphens=False)
            continue
        text = f"{key} ({_kind(f, tp)}; default {_inline(defaults.get(key))}): {doc}"
        lines += textwrap.wrap(text, 120, initial_indent="  ", subsequent_indent="      ", break_on_hyphens=False)
    return "\n".join(lines)


def dump_config(cfg: Config) -> str:
    """``cfg`` as YAML with each field's doc as a comment above it; load_config reads it back unchanged."""
    lines = []
    for key, f, tp in config_fields():
        indent = "  " * key.count(".")
        name = key.rsplit(".", 1)[-1]
        if indent == "" and lines:
            lines.append("")
        lines += textwrap.wrap(f.metadata.get("doc", ""), 120, initial_indent=indent + "# ",
                               subsequent_indent=indent + "# ", break_on_hyphens=False)
        lines.append(f"{indent}{name}:" if dataclasses.is_dataclass(tp) else f"{indent}{name}: {_inline(cfg.get(key))}")
    return "\n".join(lines) + "\n"
