"""Anti-freezing reward (Skeleton2Stage `compute_k`; docs/rewards.md, kinetic features in docs/metrics.md).

Skeleton2Stage: r_anti = (1/48) Σ_{j=1..24} [average_energy_expenditure(j) + average_kinetic_energy(j)]
(``terms="both"``); dance_rl's default keeps the kinetic-energy half, (1/24) Σ_j average_kinetic_energy(j) (see below),

computed on FK joint positions with the **vertical root translation removed** (trans z = 0, "knovertical"), so
bobbing the whole body up and down earns nothing; only moving limbs and travelling do. Definitions follow the
Bailando/fairmotion kinetic features with sliding window w = 2 at frame time 1/fps, batched here in numpy:

* velocity window at frame t (t = 1..T-1): mean of the displacements p[k] - p[k-1] over k ∈ [t-w, t+w] ∩ [1, T-1],
  divided by dt; kinetic energy = mean_t ‖v_t‖².
* acceleration window: mean over k ∈ [t-w, t+w] ∩ [1, T-2] of (v2 - v1)/dt with v2 = (p[k+1]-p[k])/dt,
  v1 = (p[k]-p[k-1])/dt; energy expenditure = mean_t ‖a_t‖.

fairmotion writes v1 as ``p[k] - p[k-1] / dt`` (operator precedence). Whether the Skeleton2Stage port keeps that is
unconfirmed; with it, "acceleration" ≈ (fps² - fps)·p, i.e. proportional to the joints' distance from the world
origin, so the reward would pay for standing far from the origin rather than for moving. We therefore default to the
correct expression and keep the quirk behind ``fairmotion_quirk=True`` (e.g. to reproduce published feature values).

``terms``: "kinetic" (default) scores kinetic energy alone; "both" is Skeleton2Stage's sum. Why: energy expenditure is
a mean acceleration norm, and acceleration amplifies frame-to-frame noise by fps² (900x at 30 fps), so on a noisy
sample it measures jitter, not dancing. `python scripts/measure_reward_response.py` (demo mocap, median of 6 clips):
a 36 % slow-down (corruption ``damp``) at the base model's motion level (motion magnitude 0.12 → 0.08, like issue
13's base → crouch 0.14 → 0.09) lowers "both" to 0.61x on clean clips but only to 0.77x / 0.95x with 0.005 / 0.02 rad
of rotation jitter, while kinetic energy falls to 0.40x / 0.41x / 0.51x. Under per-music normalisation "both"
therefore ranks a jittery, slower sample above a smooth, livelier one; kinetic energy ranks them by how much the
body moves.
"""
from __future__ import annotations

import numpy as np

from dance_rl.errors import UserError
from dance_rl.rewards.batch import MotionBatch, vnorm

SLIDING_WINDOW = 2


def _window_mean(terms: np.ndarray, first: int, last: int, num_frames: int, w: int) -> np.ndarray:
    """For t = 1..T-1, mean of terms[k] over k ∈ [t-w, t+w] ∩ [first, last]; terms indexed by k along axis 1.

    ``terms`` has shape (B, last-first+1, ...). Returns (B, T-1, ...); zero where the window is empty (very short
    clips), where fairmotion would divide by zero.
    """
    t = np.arange(1, num_frames)
    lo = np.maximum(t - w, first)
    hi = np.minimum(t + w, last)
    count = hi - lo + 1
    csum = np.concatenate([np.zeros_like(terms[:, :1]), np.cumsum(terms, axis=1)], axis=1)  # csum[i] = Σ terms[<i]
    lo_i = np.clip(lo - first, 0, terms.shape[1])
    hi_i = np.clip(hi - first + 1, 0, terms.shape[1])
    total = csum[:, hi_i] - csum[:, lo_i]
    shape = (1, -1) + (1,) * (terms.ndim - 2)
    safe = np.maximum(count, 1).reshape(shape)
    return np.where(count.reshape(shape) > 0, total / safe, 0.0)


def kinetic_terms(positions: np.ndarray, fps: float, window: int = SLIDING_WINDOW,
                  fairmotion_quirk: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """positions (B,T,J,3) → (average_kinetic_energy (B,J), average_energy_expenditure (B,J))."""
    p = np.asarray(positions, dtype=np.float64)
    num_frames = p.shape[1]
    dt = 1.0 / fps
    disp = p[:, 1:] - p[:, :-1]  # k = 1..T-1
    vel = _window_mean(disp, 1, num_frames - 1, num_frames, window) / dt
    kinetic = (vnorm(vel) ** 2).mean(axis=1)
    if num_frames < 3:
        return kinetic, np.zeros_like(kinetic)
    v2 = (p[:, 2:] - p[:, 1:-1]) / dt  # k = 1..T-2
    v1 = p[:, 1:-1] - p[:, :-2] / dt if fairmotion_quirk else (p[:, 1:-1] - p[:, :-2]) / dt
    acc = _window_mean((v2 - v1) / dt, 1, num_frames - 2, num_frames, window)
    expenditure = vnorm(acc).mean(axis=1)
    return kinetic, expenditure


ROOT_MODES = ("vertical", "all", "none")


def antifreeze(batch: MotionBatch, window: int = SLIDING_WINDOW, fairmotion_quirk: bool = False,
               root: str = "vertical", terms: str = "kinetic") -> dict:
    """Mean over the 24 joints of kinetic energy ("kinetic") or of kinetic energy + energy expenditure ("both",
    Skeleton2Stage's (1/48)·Σ); higher = more motion.

    ``root``: which part of the root translation is removed before measuring. "vertical" (Skeleton2Stage's
    "knovertical"): bobbing earns nothing, travelling does. "all": only the limbs' motion relative to the root counts.
    Why "all" exists: root translation is cheap kinetic energy (0.5 m/s of travel alone adds 0.25 m²/s² to every
    joint); on 16 demo base-model samples "vertical" gives 0.447 and "all" 0.014, so ~97% of what the reward paid was
    the root moving, and a policy can raise it while its limbs slow down. In the lr 3e-4 run of docs/results.md
    kinetic energy rose 5% while motion magnitude (joint rotation speed) fell 30%.
    "none": world positions as they are.
    """
    if terms not in ("kinetic", "both"):
        raise UserError(f"antifreeze terms={terms!r}: unknown; use 'kinetic' (default) or 'both' (Skeleton2Stage)")
    if root not in ROOT_MODES:
        raise UserError(f"rewards.antifreeze.root={root!r}: unknown; use one of {', '.join(ROOT_MODES)}")
    joints = batch.joints
    if root != "none":  # FK is linear in trans: removing (part of) trans shifts every joint by it
        axes = [2] if root == "vertical" else [0, 1, 2]
        joints = joints.copy()
        joints[..., axes] -= batch.trans[:, :, None, axes].astype(np.float64)
    kinetic, expenditure = kinetic_terms(joints, batch.fps, window, fairmotion_quirk)
    if terms == "both":
        per_sample = (kinetic + expenditure).sum(axis=1) / (2 * joints.shape[2])
    else:
        per_sample = kinetic.mean(axis=1)
    return {
        "per_sample": per_sample,
        "per_frame": None,
        "diagnostics": {"kinetic_energy": kinetic.mean(axis=1), "energy_expenditure": expenditure.mean(axis=1)},
    }


LOWPASS_FRAMES = 5  # box filter of motion_magnitude_lowpass: 1/6 s at 30 fps, first zero at 6 Hz


def motion_magnitude_lowpass(rot6d: np.ndarray, fps: float = 30.0, frames: int = LOWPASS_FRAMES) -> float:
    """motion_magnitude of the 6D rotations after a centred ``frames``-frame moving average ('valid' part only).

    Why: the Skeleton2Stage metric is a mean |Δ6D|·fps, so frame-to-frame jitter counts as motion. Measured
    (docs/results.md, "Motion magnitude is mostly jitter"): the demo mocap keeps 83% of its motion magnitude after this
    filter (0.469 → 0.387), the demo base model at 10 DDIM steps 21% (0.411 → 0.085). Dancing survives the filter,
    jitter does not; a fine-tune that removes jitter lowers motion_magnitude but not this."""
    r = np.asarray(rot6d, dtype=np.float64).reshape(len(rot6d), -1)
    if len(r) < frames + 1:
        return motion_magnitude(r, fps)
    c = np.cumsum(np.concatenate([np.zeros_like(r[:1]), r]), axis=0)
    return motion_magnitude((c[frames:] - c[:-frames]) / frames, fps)


def motion_magnitude(rot6d: np.ndarray, fps: float = 30.0) -> float:
    """Skeleton2Stage ``eval_mag.py``: mean |Δ 6D| between consecutive frames (root translation excluded) × fps.
    A metric, not a reward: logged during training whatever the weights, to see freezing happen."""
    r = np.asarray(rot6d, dtype=np.float64)
    if r.shape[0] < 2:
        return 0.0
    return float(np.abs(r[1:] - r[:-1]).mean() * fps)
