"""PhyMotion structured physics scores, as in the official release's headline reward (docs/rewards.md, PhyMotion).

Three axes in [0, 1], each 1 − mean(violations); the reward is their mean.

* **kinematic** (the release's v1 joint checker): joint speed > 5 m/s (fraction of frames), jitter ramp
  clip((jitter_global + jitter_local − 4.5)/90), self-collision ramp clip((pct − 2)/18) and the limb-length-consistency
  "joint limit" term. Acceleration > 40 m/s² is reported but, as in the release, not scored.
* **contact** (v3, MuJoCo): foot slip, ground penetration, foot floating (velocity-ratio test), balance (centre of mass
  to the support polygon of the feet in contact).
* **dynamic** (v3, MuJoCo): torque over limits, root force over body weight, torque×velocity effort, and balance again
  (the release counts balance in both axes).

Foot bodies are the FK foot joints (``skeleton.FOOT_JOINTS``: ankles and toes): the simulator's body frames sit on the
joints, so this equals the release's body positions without a MuJoCo pass.

Parameters (all rewards here): ``use_sim``, ``floor``, ``ground``, ``self_collision`` and ``jitter`` (see below),
``contact_height`` / ``contact_speed`` (the release's 0.02 m / 0.05 m/s contact test; on the DeepMimic demo clips
planted toes move 0.07-0.3 m/s, so with the release values almost no contact is ever detected and balance reads
"no support"), ``nthread`` (simulator threads).

Deviations from the release:
* ``floor="ground"`` (default) measures foot heights from the world plane z = 0; the release's ``"min_foot"`` (lowest
  foot body over the clip = 0) makes penetration zero by construction and floating/sinking invisible. ``"clip"``
  measures from the clip's mean lowest-joint height: dips below it still count as penetration, but a rigid float or
  sink changes nothing. RL uses it (``rewards.phymotion.floor``) because with ``"ground"`` the penetration term, which
  has no height-based floating counterpart, paid for floating: on 24 samples of the 1800-step model a 10-cm raise
  gained +0.015 PhyMotion (0.4 of its within-batch standard deviation) while fgd_ground lost 0.29 (1.0 of its own), so
  at the recipe's weights (0.4 and 0.2) after per-reward normalisation a rigid float was nearly free.
* Self-collision "percent" comes from simulator capsule contacts between non-adjacent bodies, not mesh triangles:
  pct_t = 100 · Σ penetration depth / ``SELF_PEN_DEPTH_REF`` (see `physics_probe.py`).
* Self-collision violation is graded beyond the release's "severe" 20 % (``self_collision="graded"``, default):
  x/(x + 18) with x = max(pct − 2, 0) has the release ramp's slope 1/18 at the 2 % baseline, reads 0.5 at 20 % and
  keeps falling after it (0.75 at 56 %, 0.86 at 110 %), where the release's clip((pct − 2)/18, 0, 1) is flat at 1:
  on the demo mocap with arms pushed into the torso (corruptions.self_penetrate) pct reaches 20-120, so the release
  term gave no signal across most of that range. ``self_collision="release"`` restores the clipped ramp.
* Jitter is graded the same way (``jitter="graded"``, default; `jitter_violation`): the release ramp is flat at 1
  from 94.5 m/s² on, where the demo base model's 10-step samples all sit; ``jitter="release"`` restores it.
* Foot floating skips frames whose root moves < 1 mm/frame (the release's v1 ``delta_ts``; v3 has no gate): there
  ρ = ‖v_foot − v_root‖/‖v_root‖ divides by ~0, and a dancer standing still would be flagged on every frame.
* Without a simulator (``use_sim=False``, an explicit choice; a broken MuJoCo import raises) the centre of mass, torques and root force come from
  the release's v1 joint-only fallback and self-collision counts as 0; ``diagnostics["sim_used"]`` says which.
"""
from __future__ import annotations

from itertools import combinations

import numpy as np

from dance_rl.errors import UserError
from dance_rl.motion.skeleton import FOOT_JOINTS
from dance_rl.rewards.batch import MotionBatch, vnorm
from dance_rl.sim import GRAVITY

# Thresholds of the release (docs/rewards.md, PhyMotion).
MAX_JOINT_SPEED = 5.0  # m/s
MAX_JOINT_ACC = 40.0  # m/s², diagnostics only
JITTER_BASE, JITTER_SPAN = 4.5, 90.0  # m/s²
SELF_COLLISION_BASE, SELF_COLLISION_SPAN = 2.0, 18.0  # percent
LIMBS = ((16, 18), (18, 20), (1, 4), (4, 7))  # upper arm, forearm, thigh, shank
# A foot joint is in contact when lower than CONTACT_HEIGHT and slower than CONTACT_SPEED_M_PER_S (per second, unlike
# EDGE's per-frame rule in motion/skeleton.py).
CONTACT_HEIGHT, CONTACT_SPEED_M_PER_S = 0.02, 0.05  # m, m/s
SLIP_NORM, PEN_NORM = 0.05, 0.05  # m
FLOAT_RATIO_LO, FLOAT_RATIO_HI = 0.6, 1.75
ROOT_STATIONARY = 0.001  # m/frame; v1's delta_ts: frames with a still root are not tested for floating
BALANCE_CLIP = 0.5  # m
NO_SUPPORT_DISTANCE = 1.0  # m, balance distance when no foot is in contact
GRF_VERTICAL_BW, GRF_HORIZONTAL_BW = 3.0, 0.5
MET_NORM = 10000.0
# v1 fallback: 70 kg, CoM = joint mean with pelvis weight 3, torque proxy |joint acc|, limits by joint index.
V1_MASS = 70.0


def _clip01(x):
    return np.clip(x, 0.0, 1.0)


def _backward_speed(x: np.ndarray, fps: float) -> np.ndarray:
    """(B,T,...,3) → (B,T,...) speed by backward differences × fps; frame 0 copies frame 1."""
    v = np.empty(x.shape[:-1])
    v[:, 1:] = vnorm(x[:, 1:] - x[:, :-1]) * fps
    v[:, 0] = v[:, 1]
    return v


# ---------------------------------------------------------------------------------------------------------- kinematic
def jitter_violation(jitter: np.ndarray, mode: str = "graded") -> np.ndarray:
    """Jitter (B,) in m/s² → violation in [0, 1]. "release": clip((j − 4.5)/90), flat at 1 from 94.5 m/s² on.
    "graded" (default): y/(y + 90) with y = max(j − 4.5, 0): the release slope at the start, 0.5 at 94.5, and still
    falling beyond. Why: the demo mocap sits at 13-46 (median 27), but the demo base model at 10 uniform DDIM steps at
    160-290 on every sample (docs/results.md, session 9), where the release term reads 1.0 and gives RL no signal."""
    return _ramp_violation(jitter, JITTER_BASE, JITTER_SPAN, mode, "jitter")


def self_collision_violation(pct: np.ndarray, mode: str = "graded") -> np.ndarray:
    """Self-collision percent (B,) → violation in [0, 1]; see the module doc for "graded" vs "release"."""
    return _ramp_violation(pct, SELF_COLLISION_BASE, SELF_COLLISION_SPAN, mode, "self_collision")


def _ramp_violation(value: np.ndarray, base: float, span: float, mode: str, param: str) -> np.ndarray:
    """The release's ramp clip((value − base)/span) ("release"), or y/(y + span) with y = max(value − base, 0)
    ("graded": the same slope at ``base``, 0.5 where the release saturates, never flat)."""
    y = np.maximum(np.asarray(value, dtype=np.float64) - base, 0.0)
    if mode == "graded":
        return y / (y + span)
    if mode == "release":
        return _clip01(y / span)
    raise UserError(f"phymotion {param}={mode!r}: unknown; use 'graded' or 'release'")


def kinematic_score(joints: np.ndarray, fps: float, self_collision_pct: np.ndarray | None = None,
                    self_collision: str = "graded", jitter_mode: str = "graded") -> dict:
    """joints (B,T,J,3) → {"score": (B,), sub-terms (B,)}; self_collision_pct (B,T) percent or None (→ 0)."""
    dt = 1.0 / fps
    vel = np.gradient(joints, dt, axis=1)
    acc = np.gradient(vel, dt, axis=1)
    v_vel = (vnorm(vel).max(axis=-1) > MAX_JOINT_SPEED).mean(axis=1)
    v_acc = (vnorm(acc).max(axis=-1) > MAX_JOINT_ACC).mean(axis=1)
    if joints.shape[1] >= 3:
        d2 = joints[:, 2:] - 2 * joints[:, 1:-1] + joints[:, :-2]  # second differences, global and root-relative
        jitter = (vnorm(d2).mean(axis=(1, 2)) + vnorm(d2 - d2[:, :, :1]).mean(axis=(1, 2))) / dt ** 2
    else:
        jitter = np.zeros(joints.shape[0])
    v_jitter = jitter_violation(jitter, jitter_mode)
    pct = np.zeros(joints.shape[0]) if self_collision_pct is None else np.asarray(self_collision_pct).mean(axis=1)
    v_self = self_collision_violation(pct, self_collision)
    lengths = np.stack([vnorm(joints[:, :, a] - joints[:, :, b]) for a, b in LIMBS], axis=-1)
    v_limb = np.minimum(10.0 * lengths.std(axis=1) / (lengths.mean(axis=1) + 1e-6), 1.0).mean(axis=-1)
    total = (v_limb + v_vel + v_jitter + v_self) / 4.0
    return {"score": _clip01(1.0 - total), "velocity_violation": v_vel, "acceleration_violation": v_acc,
            "jitter": jitter, "jitter_violation": v_jitter, "self_collision_pct": pct,
            "self_collision_violation": v_self, "limb_length_violation": v_limb}


# ------------------------------------------------------------------------------------------------------------ contact
def support_distance(com_xy: np.ndarray, feet_xy: np.ndarray, in_contact: np.ndarray) -> np.ndarray:
    """Distance (B,T) from the CoM to the convex hull of the in-contact feet; 0 inside, 1 m when nothing touches.

    With at most 4 support points: a point lies in their hull iff it lies in a triangle of three of them, and outside
    the hull its distance is the minimum over all segments between two of them (hull edges are among those).
    """
    # Points first: (n, ...) slabs, so that every gather and reduction below runs over whole contiguous arrays (numpy
    # reduces a short last axis one element at a time).
    fx, fy = (np.ascontiguousarray(np.moveaxis(feet_xy[..., k], -1, 0)) for k in (0, 1))
    on = np.ascontiguousarray(np.moveaxis(in_contact, -1, 0))
    cx, cy = com_xy[..., 0], com_xy[..., 1]
    # all segments between two support points (a point alone is the segment i == j), vectorised over the pairs
    i, j = np.triu_indices(feet_xy.shape[-2])
    ax, ay, abx, aby = fx[i], fy[i], fx[j] - fx[i], fy[j] - fy[i]
    relx, rely = cx - ax, cy - ay
    t = np.clip((relx * abx + rely * aby) / np.maximum(abx * abx + aby * aby, 1e-12), 0.0, 1.0)
    seg = np.sqrt((relx - t * abx) ** 2 + (rely - t * aby) ** 2)
    best = np.where(on[i] & on[j], seg, np.inf).min(axis=0)
    # inside the triangle of three in-contact points: the point is on the same side of all three edges
    tri = np.array(list(combinations(range(feet_xy.shape[-2]), 3))).T  # (3,K): corners × triangles
    px, py = fx[tri], fy[tri]  # (3,K,...)
    ex, ey = np.roll(px, -1, axis=0) - px, np.roll(py, -1, axis=0) - py
    side = ex * (cy - py) - ey * (cx - px)
    area = np.abs(ex[0] * (py[2] - py[0]) - ey[0] * (px[2] - px[0]))
    inside = (((side >= 0).all(axis=0) | (side <= 0).all(axis=0)) & (area > 1e-12) & on[tri].all(axis=0)).any(axis=0)
    dist = np.where(inside, 0.0, best)
    return np.where(in_contact.any(-1), dist, NO_SUPPORT_DISTANCE)


def contact_score(joints: np.ndarray, com: np.ndarray, fps: float, floor: str = "ground", ground: float = 0.0,
                  contact_height: float = CONTACT_HEIGHT, contact_speed: float = CONTACT_SPEED_M_PER_S) -> dict:
    """joints (B,T,J,3), com (B,T,3) → {"score": (B,), sub-terms (B,), "balance_violation" (B,)}."""
    num_frames = joints.shape[1]
    dt = 1.0 / fps
    feet = joints[:, :, list(FOOT_JOINTS)]
    if floor == "ground":
        height = feet[..., 2] - ground
    elif floor == "clip":
        height = feet[..., 2] - joints[..., 2].min(axis=-1).mean(axis=1)[:, None, None]
    elif floor == "min_foot":
        height = feet[..., 2] - feet[..., 2].min(axis=(1, 2), keepdims=True)
    else:
        raise UserError(f"phymotion floor={floor!r}: unknown; use 'ground' (plane z = ground), 'clip' (the clip's mean "
                        "lowest-joint height) or 'min_foot'")
    speed = _backward_speed(feet, fps)
    in_contact = (height < contact_height) & (speed < contact_speed)
    slip = (speed * in_contact).sum(axis=(1, 2)) * dt / (2 * num_frames)
    v_slip = _clip01(slip / SLIP_NORM)
    pen = np.maximum(-height, 0.0).sum(axis=(1, 2)) / (2 * num_frames)
    v_pen = _clip01(pen / PEN_NORM)
    root = joints[:, :, 0]
    v_root = np.empty_like(root)
    v_root[:, 1:] = (root[:, 1:] - root[:, :-1]) * fps
    v_root[:, 0] = v_root[:, 1]
    v_feet = np.empty_like(feet)
    v_feet[:, 1:] = (feet[:, 1:] - feet[:, :-1]) * fps
    v_feet[:, 0] = v_feet[:, 1]
    root_speed = vnorm(v_root)[..., None]
    ratio = vnorm(v_feet - v_root[:, :, None]) / (root_speed + 1e-6)
    moving = root_speed >= ROOT_STATIONARY * fps  # the ratio is meaningless for a still root (see module doc)
    v_float = (((ratio < FLOAT_RATIO_LO) | (ratio > FLOAT_RATIO_HI)) & moving).mean(axis=(1, 2))
    d = support_distance(com[..., :2], feet[..., :2], in_contact)
    v_bal = (np.clip(d, 0.0, BALANCE_CLIP) / BALANCE_CLIP).mean(axis=1)
    score = _clip01(1.0 - 0.25 * (v_slip + v_pen + v_float + v_bal))
    return {"score": score, "slip": slip, "slip_violation": v_slip, "penetration": pen, "penetration_violation": v_pen,
            "float_violation": v_float, "balance_violation": v_bal, "contact_fraction": in_contact.mean(axis=(1, 2))}


# ------------------------------------------------------------------------------------------------------------ dynamic
def dynamic_score(torque: np.ndarray, joint_velocity: np.ndarray, torque_limit: np.ndarray, root_force: np.ndarray,
                  body_mass: float, balance_violation: np.ndarray, fps: float) -> dict:
    """v3 dynamic axis from inverse dynamics: torque (B,T,D) N·m, joint_velocity (B,T,D), torque_limit (D,),
    root_force (B,T,3) N (free-joint linear force), balance_violation (B,)."""
    bw = body_mass * GRAVITY
    v_vert = (root_force[..., 2] > GRF_VERTICAL_BW * bw).mean(axis=1)
    v_horiz = (vnorm(root_force[..., :2]) > GRF_HORIZONTAL_BW * bw).mean(axis=1)
    s_grf = 1.0 - 0.5 * (v_vert + v_horiz)
    over = np.abs(torque) > np.asarray(torque_limit)
    s_tau = 1.0 - over.mean(axis=1).mean(axis=-1)
    effort = (np.abs(torque) * np.abs(joint_velocity)).sum(axis=(1, 2)) / fps
    s_met = np.maximum(0.0, 1.0 - effort / MET_NORM)
    s_bal = 1.0 - balance_violation
    return {"score": _clip01((s_tau + s_grf + s_met + s_bal) / 4.0), "torque_score": s_tau, "grf_score": s_grf,
            "grf_vertical_violation": v_vert, "grf_horizontal_violation": v_horiz, "effort": effort,
            "effort_score": s_met}


def v1_com(joints: np.ndarray) -> np.ndarray:
    """Joint-only centre of mass of the v1 checker: weighted joint mean, pelvis weight 3, others 1."""
    w = np.ones(joints.shape[2])
    w[0] = 3.0
    return (joints * w[:, None]).sum(axis=2) / w.sum()


def v1_dynamic_score(joints: np.ndarray, balance_violation: np.ndarray, fps: float) -> dict:
    """Joint-only fallback (the release's v1): GRF from CoM acceleration of a 70 kg body, torque proxy = |joint acceleration|."""
    dt = 1.0 / fps
    com_acc = np.gradient(np.gradient(v1_com(joints), dt, axis=1), dt, axis=1)
    bw = V1_MASS * GRAVITY
    vert = np.maximum(V1_MASS * (GRAVITY + com_acc[..., 2]), 0.0)
    horiz = V1_MASS * vnorm(com_acc[..., :2])
    v_grf = 0.5 * ((vert > GRF_VERTICAL_BW * bw).mean(axis=1) + (horiz > GRF_HORIZONTAL_BW * bw).mean(axis=1))
    vel = np.gradient(joints, dt, axis=1)
    torque = vnorm(np.gradient(vel, dt, axis=1))  # (B,T,J), "torque" = |acc| · 1.0
    j = np.arange(joints.shape[2])
    limit = np.where(j < 3, 200.0, np.where(j < 6, 300.0, np.where(j < 9, 400.0, 200.0)))
    v_tau = (torque > limit).mean(axis=(1, 2))
    effort = (torque * vnorm(vel)).sum(axis=(1, 2)) * dt
    s_met = np.maximum(0.0, 1.0 - effort / MET_NORM)
    score = (1.0 - v_tau + 1.0 - v_grf + 1.0 - balance_violation + s_met) / 4.0
    return {"score": _clip01(score), "torque_score": 1.0 - v_tau, "grf_score": 1.0 - v_grf, "effort": effort,
            "effort_score": s_met}


# ------------------------------------------------------------------------------------------------------------- reward
def phymotion_terms(batch: MotionBatch, use_sim: bool = True, floor: str = "ground", ground: float = 0.0,
                    contact_height: float = CONTACT_HEIGHT, contact_speed: float = CONTACT_SPEED_M_PER_S,
                    nthread: int = 1, self_collision: str = "graded", jitter: str = "graded") -> tuple[dict, dict]:
    """All three axes and their sub-terms, cached on the batch (the per-axis rewards reuse one computation)."""
    def compute() -> tuple[dict, dict]:
        probe = None
        if use_sim:
            from dance_rl.rewards.physics_probe import physics_probe

            probe = physics_probe(batch, nthread)
        joints = batch.joints  # after the probe: its kinematics serve as the FK when the batch has none yet
        com = probe.com if probe is not None else v1_com(joints)
        kin = kinematic_score(joints, batch.fps, None if probe is None else probe.self_collision_pct, self_collision,
                              jitter)
        con = contact_score(joints, com, batch.fps, floor, ground, contact_height, contact_speed)
        if probe is not None:
            dyn = dynamic_score(probe.torque, probe.joint_velocity, probe.torque_limit, probe.root_force,
                                probe.body_mass, con["balance_violation"], batch.fps)
        else:
            dyn = v1_dynamic_score(joints, con["balance_violation"], batch.fps)
        ok = np.ones(len(joints), bool) if probe is None else np.asarray(probe.ok, bool)
        axes = {"kinematic": kin["score"], "contact": con["score"], "dynamic": dyn["score"]}
        axes = {k: np.where(ok, v, 0.0) for k, v in axes.items()}  # a failed simulator pass scores 0, as the release
        diag = {**{f"kin_{k}": v for k, v in kin.items() if k != "score"},
                **{f"con_{k}": v for k, v in con.items() if k != "score"},
                **{f"dyn_{k}": v for k, v in dyn.items() if k != "score"},
                "sim_used": np.full(len(joints), float(probe is not None)), "failed": (~ok).astype(np.float64)}
        if probe is not None and probe.rom_violation is not None:
            diag["rom_violation"] = probe.rom_violation  # anatomical range of motion; reported, not scored (as release)
        return axes, diag
    self_collision_violation(np.zeros(1), self_collision)  # a bad mode fails before any simulator work
    jitter_violation(np.zeros(1), jitter)
    return batch.cached(("phymotion", use_sim, floor, ground, contact_height, contact_speed, self_collision, jitter),
                        compute)


# The four rewards spell out phymotion_terms' parameters (the registry reads them from the signature to reject unknown
# reward params; tests/test_rewards_phymotion.py checks that the lists agree).
def phymotion(batch: MotionBatch, use_sim: bool = True, floor: str = "ground", ground: float = 0.0,
              contact_height: float = CONTACT_HEIGHT, contact_speed: float = CONTACT_SPEED_M_PER_S, nthread: int = 1,
              self_collision: str = "graded", jitter: str = "graded") -> dict:
    """PhyMotion reward = mean(kinematic, contact, dynamic) ∈ [0, 1] per sample; params as `phymotion_terms`."""
    axes, diag = phymotion_terms(batch, use_sim, floor, ground, contact_height, contact_speed, nthread, self_collision,
                                 jitter)
    return {"per_sample": (axes["kinematic"] + axes["contact"] + axes["dynamic"]) / 3.0, "per_frame": None,
            "diagnostics": {**axes, **diag}}


def _axis(axis: str, terms: tuple[dict, dict]) -> dict:
    """One axis as a reward, with its own diagnostics (``kin_``/``con_``/``dyn_``) and the simulator flags."""
    axes, diag = terms
    prefix = axis[:3] + "_"
    return {"per_sample": axes[axis], "per_frame": None,
            "diagnostics": {k: v for k, v in diag.items() if k.startswith(prefix) or k in ("sim_used", "failed")}}


def phymotion_kinematic(batch: MotionBatch, use_sim: bool = True, floor: str = "ground", ground: float = 0.0,
                        contact_height: float = CONTACT_HEIGHT, contact_speed: float = CONTACT_SPEED_M_PER_S,
                        nthread: int = 1, self_collision: str = "graded", jitter: str = "graded") -> dict:
    """The PhyMotion kinematic axis alone, in [0, 1]."""
    return _axis("kinematic", phymotion_terms(batch, use_sim, floor, ground, contact_height, contact_speed, nthread,
                                              self_collision, jitter))


def phymotion_contact(batch: MotionBatch, use_sim: bool = True, floor: str = "ground", ground: float = 0.0,
                      contact_height: float = CONTACT_HEIGHT, contact_speed: float = CONTACT_SPEED_M_PER_S,
                      nthread: int = 1, self_collision: str = "graded", jitter: str = "graded") -> dict:
    """The PhyMotion contact axis alone, in [0, 1]."""
    return _axis("contact", phymotion_terms(batch, use_sim, floor, ground, contact_height, contact_speed, nthread,
                                            self_collision, jitter))


def phymotion_dynamic(batch: MotionBatch, use_sim: bool = True, floor: str = "ground", ground: float = 0.0,
                      contact_height: float = CONTACT_HEIGHT, contact_speed: float = CONTACT_SPEED_M_PER_S,
                      nthread: int = 1, self_collision: str = "graded", jitter: str = "graded") -> dict:
    """The PhyMotion dynamic axis alone, in [0, 1]."""
    return _axis("dynamic", phymotion_terms(batch, use_sim, floor, ground, contact_height, contact_speed, nthread,
                                            self_collision, jitter))
