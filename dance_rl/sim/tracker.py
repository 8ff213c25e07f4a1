"""Physics-based tracking of reference motions: the simulator half of the imitation reward.

Skeleton2Stage scores a dance by how well a physically simulated character can imitate it (a learned PD policy with
a residual force on the pelvis, Isaac Gym). Here the policy is a fixed controller, so no policy has to be trained:

- joints: the humanoid's built-in PD servos (humanoid.py) track the reference hinge angles and velocities, with
  inverse-dynamics feed-forward torque (from the reference's finite-difference accelerations, with the ground
  reactions the soles can supply estimated by ``dynamics.inverse_dynamics_grf``, so stance legs carry the body), all
  clamped at the per-joint torque limits;
- root: a residual wrench on the pelvis from servos inside the physics step (implicitly integrated, so stiff gains
  stay stable): three translational PD servos on the pelvis site along the world axes, each clamped at
  ``residual_force_limit``, and one geodesic orientation servo (MuJoCo's SO3 actuator, quaternion target) clamped at
  ``residual_torque_limit`` in norm. It is the only non-physical force; it keeps balance (which a fixed controller
  cannot learn) but, bounded well below body weight, cannot hold a floating body up, so physically implausible
  references drift away from the simulation and score lower. Its magnitude is reported per frame.
- the reference is at the motion's fps; setpoints change at ``control_hz`` (linear interpolation between frames,
  velocity feed-forward folded into the setpoint), physics runs at ``physics_hz`` (both rounded to whole multiples
  of the frame rate). As every controller lives inside MuJoCo, Python only writes setpoints;
- a clip terminates when the head falls below ``termination_head_height`` (Skeleton2Stage: 0.3 m); a clip whose state
  turns non-finite, whose velocities explode, or which raises a MuJoCo warning or error is marked failed with a
  diagnostic, and never raises.

Clips run side by side in a ``mujoco.batch.Batch`` (one state row per clip, stepped on ``num_threads`` threads;
results are bit-identical to a serial loop at any thread count), so a batch costs one Python iteration per control
step, and terminated clips stop costing anything.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import mujoco
import numpy as np
from mujoco import batch as mj_batch

from dance_rl.config import SimConfig
from dance_rl.sim import humanoid as hum
from dance_rl.sim.dynamics import inverse_dynamics_grf, run_threaded
from dance_rl.sim.retarget import velocity_acceleration

NU_HINGE = hum.NUM_HINGES  # tracking-model ctrl: 69 hinge setpoints, root position (3), root quaternion (4)


@dataclass
class TrackResult:
    qpos: np.ndarray  # (B,T,nq) simulated state at each reference frame (frame 0 = the reference's first frame)
    qvel: np.ndarray  # (B,T,nv)
    qvel_ref: np.ndarray  # (B,T,nv) finite-difference velocity of the reference
    alive: np.ndarray  # (B,T) bool: frame reached before termination / failure
    terminated: np.ndarray  # (B,) bool: head fell below the termination height
    failed: np.ndarray  # (B,) bool: simulation diverged (reward 0)
    messages: list  # per clip: '' or the failure diagnostic
    residual_force: np.ndarray  # (B,T) N, mean |root residual force| over the frame's control steps
    residual_torque: np.ndarray  # (B,T) N·m
    steps: np.ndarray  # (B,) physics steps simulated (for benchmarks: terminated clips stop early)


def _quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw], -1)


def _rotvec_to_quat(v: np.ndarray) -> np.ndarray:
    angle = np.linalg.norm(v, axis=-1, keepdims=True)
    k = np.where(angle < 1e-9, 0.5, np.sin(0.5 * angle) / np.maximum(angle, 1e-12))
    return np.concatenate([np.cos(0.5 * angle), v * k], axis=-1)


def tracking_model(config: SimConfig, timestep: float, smpl_model_path: str | None = None) -> mujoco.MjModel:
    """The humanoid plus the root residual servos (translation along world x/y/z, SO3 orientation)."""
    c = config
    offsets = radius = None
    if smpl_model_path is not None:
        from dance_rl.sim.smpl_shape import shape_from_smpl
        offsets, radius = shape_from_smpl(smpl_model_path)
    spec = hum.build_spec(offsets, radius, kp_scale=c.kp_scale, timestep=timestep)
    spec.option.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_AUTORESET)
    spec.worldbody.add_site(name="origin")
    spec.body(hum.JOINT_NAMES[0]).add_site(name="root_site")
    limited = mujoco.mjtLimited.mjLIMITED_TRUE
    for k in range(3):
        a = spec.add_actuator(name=f"residual_{'xyz'[k]}", trntype=mujoco.mjtTrn.mjTRN_SITE, target="root_site",
                              refsite="origin")
        a.gear = list(np.eye(6)[k])
        a.gaintype, a.biastype = mujoco.mjtGain.mjGAIN_FIXED, mujoco.mjtBias.mjBIAS_AFFINE
        a.gainprm = [c.root_kp] + [0.0] * 9
        a.biasprm = [0.0, -c.root_kp, -c.root_kd] + [0.0] * 7
        a.forcelimited, a.forcerange = limited, [-c.residual_force_limit, c.residual_force_limit]
    o = spec.add_actuator(name="residual_rot", trntype=mujoco.mjtTrn.mjTRN_SITE, target="root_site",
                          refsite="origin")
    o.set_to_orientation(kp=c.root_rot_kp, kv=c.root_rot_kd, dampratio=-1,
                         ctrlspec=int(mujoco.mjtCtrlChart.mjCHART_QUAT))
    o.forcelimited, o.forcerange = limited, [0.0, c.residual_torque_limit]
    model = spec.compile()
    hum.check_layout(model)
    return model


class Tracker:
    """Tracks batches of reference qpos trajectories. Safe to share between threads: each ``track`` call owns its
    Batch and MjData; only the compiled models (read-only) are shared."""

    def __init__(self, config: SimConfig | None = None, smpl_model_path: str | None = None):
        self.config = config or SimConfig()
        self.smpl_model_path = smpl_model_path
        self._models: dict[float, mujoco.MjModel] = {}
        self._lock = threading.Lock()

    def rates(self, fps: float) -> tuple[int, int]:
        """(control steps per frame, physics steps per control step) for a reference at ``fps``."""
        c = self.config
        cpf = max(1, int(round(c.control_hz / fps)))
        nsub = max(1, int(round(c.physics_hz / (fps * cpf))))
        return cpf, nsub

    def model(self, fps: float) -> mujoco.MjModel:
        """The tracking model for ``fps`` (timestep 1/(fps·cpf·nsub)), built once per fps."""
        with self._lock:
            if fps not in self._models:
                cpf, nsub = self.rates(fps)
                self._models[fps] = tracking_model(self.config, 1.0 / (fps * cpf * nsub), self.smpl_model_path)
            return self._models[fps]

    def setpoints(self, qpos_ref: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
        """(ctrl (B, (T-1)·cpf+1, nu) at every control instant, reference qvel (B,T,nv) at the frames)."""
        c = self.config
        m = self.model(fps)
        cpf, _ = self.rates(fps)
        B, T, _ = qpos_ref.shape
        qvel = np.zeros((B, T, m.nv))
        ff = np.zeros((B, T, NU_HINGE))

        def work(clips):
            data = mujoco.MjData(m)
            for b in clips:
                qvel[b], qacc = velocity_acceleration(m, qpos_ref[b], fps)
                if c.feedforward:
                    ff[b] = inverse_dynamics_grf(qpos_ref[b], qvel[b], qacc, m, data=data)["torque"]

        run_threaded(work, B, max(1, c.num_threads))
        s = np.arange((T - 1) * cpf + 1) / cpf  # fractional frame index of each control instant
        k0 = np.clip(np.floor(s).astype(int), 0, max(T - 2, 0))
        k1 = np.minimum(k0 + 1, T - 1)
        a = (s - k0)[None, :, None]
        lerp = lambda x: (1 - a) * x[:, k0] + a * x[:, k1]
        q = qpos_ref[..., 3:7].copy()  # make q(t) and q(t+1) the same hemisphere so normalised lerp is fine
        q[:, 1:] *= np.cumprod(np.where((q[:, 1:] * q[:, :-1]).sum(-1) < 0, -1.0, 1.0), axis=1)[..., None]
        quat = lerp(q)
        quat /= np.linalg.norm(quat, axis=-1, keepdims=True)
        kp = np.repeat([c.kp_scale * hum.PD_KP[hum.BONE_NAMES[j]] for j in range(1, hum.NUM_JOINTS)], 3)
        kv = 0.1 * kp
        # PD servos damp the absolute velocity; a setpoint lead of kv/kp·v_ref turns that into kv·(v_ref − v)
        ctrl = np.concatenate([
            lerp(qpos_ref[..., hum.HINGE_QPOS]) + (lerp(ff) + kv * lerp(qvel[..., hum.HINGE_DOF])) / kp,
            lerp(qpos_ref[..., 0:3]) + c.root_kd / c.root_kp * lerp(qvel[..., 0:3]),
            _quat_mul(quat, _rotvec_to_quat(c.root_rot_kd / c.root_rot_kp * lerp(qvel[..., 3:6]))),
        ], axis=-1)
        return ctrl, qvel

    def track(self, qpos_ref: np.ndarray, fps: float = 30.0) -> TrackResult:
        """Simulate every clip of ``qpos_ref`` (B,T,nq) from its first frame; see the module docstring."""
        qpos_ref = np.asarray(qpos_ref, dtype=np.float64)
        if qpos_ref.ndim != 3:
            raise ValueError(f"qpos_ref must be (B,T,nq), got {qpos_ref.shape}")
        c = self.config
        m = self.model(fps)
        cpf, nsub = self.rates(fps)
        B, T, _ = qpos_ref.shape
        res = TrackResult(qpos=np.repeat(qpos_ref[:, :1], T, 1), qvel=np.zeros((B, T, m.nv)),
                          qvel_ref=np.zeros((B, T, m.nv)), alive=np.zeros((B, T), dtype=bool),
                          terminated=np.zeros(B, dtype=bool), failed=np.zeros(B, dtype=bool), messages=[""] * B,
                          residual_force=np.zeros((B, T)), residual_torque=np.zeros((B, T)),
                          steps=np.zeros(B, dtype=np.int64))
        finite = np.isfinite(qpos_ref).all(axis=(1, 2))
        for b in np.flatnonzero(~finite):
            res.failed[b], res.messages[b] = True, "reference motion has non-finite values"
        if B == 0 or T == 0:
            return res
        safe_ref = np.where(finite[:, None, None], qpos_ref, np.asarray(m.qpos0)[None, None, :])
        ctrl_all, res.qvel_ref = self.setpoints(safe_ref, fps)

        batch = mj_batch.Batch(m, nsim=B, nthread=max(1, c.num_threads))
        batch.reset(stage=mujoco.mjtStage.mjSTAGE_NONE)
        qpos, qvel, ctrl = batch.bind("qpos"), batch.bind("qvel"), batch.bind("ctrl")
        xpos, act_force = batch.bind("xpos"), batch.bind("actuator_force")
        qpos[:], qvel[:] = safe_ref[:, 0], res.qvel_ref[:, 0]
        res.qvel[:, 0] = res.qvel_ref[:, 0]
        res.alive[:, 0] = finite
        active = finite.copy()
        head = hum.BODY_IDS[15]
        for k in range(1, T):
            f_sum, t_sum = np.zeros(B), np.zeros(B)
            for ci in range(cpf):
                ids = np.flatnonzero(active)
                if ids.size == 0:
                    break
                ctrl[ids] = ctrl_all[ids, (k - 1) * cpf + ci + 1]  # setpoint at the END of the control interval
                res.steps[ids] += nsub
                try:
                    batch.step(ids=ids, nstep=nsub)
                except mj_batch.SimulationError as e:
                    for b in e.ids:
                        self._fail(res, active, int(b), f"MuJoCo error at frame {k}: {batch.error(int(b))}")
                f_sum[ids] += np.linalg.norm(act_force[ids, NU_HINGE:NU_HINGE + 3], axis=-1)
                t_sum[ids] += np.linalg.norm(act_force[ids, NU_HINGE + 3:NU_HINGE + 6], axis=-1)
            res.residual_force[:, k], res.residual_torque[:, k] = f_sum / cpf, t_sum / cpf
            self._check(res, active, batch, qpos, qvel, np.flatnonzero(active), k)
            ids = np.flatnonzero(active)
            fell = ids[xpos[ids, head, 2] < c.termination_head_height]  # one substep behind: fine for a fall
            res.terminated[fell] = True
            active[fell] = False
            ids = np.flatnonzero(active)
            res.qpos[ids, k], res.qvel[ids, k] = qpos[ids], qvel[ids]
            res.alive[ids, k] = True
        return res

    def _check(self, res: TrackResult, active, batch, qpos, qvel, ids, k) -> None:
        """Once per frame: non-finite state, exploding velocity or a MuJoCo warning → that clip failed."""
        q, v = qpos[ids], qvel[ids]
        bad = ~(np.isfinite(q).all(-1) & np.isfinite(v).all(-1))
        fast = ~(np.abs(v).max(-1) <= self.config.max_qvel)  # NaN counts as fast
        warned = batch.warning[ids, :, 0].any(-1)
        if not (bad.any() or fast.any() or warned.any()):
            return
        for j in np.flatnonzero(bad | fast | warned):
            b = int(ids[j])
            if bad[j]:
                why = "non-finite state"
            elif fast[j]:
                why = f"velocity above {self.config.max_qvel:g}"
            else:
                why = "MuJoCo warning " + ",".join(mujoco.mjtWarning(w).name
                                                   for w in np.flatnonzero(batch.warning[b, :, 0]))
            self._fail(res, active, b, f"diverged at frame {k}: {why}")

    @staticmethod
    def _fail(res: TrackResult, active: np.ndarray, b: int, message: str) -> None:
        if not res.failed[b]:
            res.failed[b], res.messages[b] = True, message
        active[b] = False
        res.alive[b] = False
