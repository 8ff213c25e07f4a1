"""Inverse dynamics and self-collision over kinematic trajectories (no forward simulation).

``inverse_dynamics`` answers "what generalised force does this motion need?": with ``contacts=False`` (PhyMotion's
choice) every constraint and passive force is off, so the free-joint rows are the residual wrench that something
(the ground, or a "hand of god") must supply, and a static pose needs exactly the body weight there; with
``contacts=True`` MuJoCo's soft contacts and joint limits take part, and the root residual shrinks by the contact
forces (force balance: root_force + contact_force = m·(a_com − g)).

``self_collisions`` reports, per frame, the contacts between non-adjacent body geoms (parent–child and rest-pose
overlapping pairs are excluded in the model) and their penetration depth.

``physics_probe`` bundles what the physics rewards need for a batch of clips, threaded over clips (each worker owns
an MjData; MuJoCo releases the GIL inside its calls).
"""
from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor

import mujoco
import numpy as np

from dance_rl.sim.humanoid import BODY_IDS, HINGE_DOF, HINGE_QPOS, body_mass, humanoid_model, joint_ranges, \
    sole_points, torque_limits
from dance_rl.sim.retarget import motion_to_qpos, velocity_acceleration

_VARIANTS: dict[tuple[int, int], mujoco.MjModel] = {}


def _variant(model: mujoco.MjModel, disable: int) -> mujoco.MjModel:
    """A copy of ``model`` with extra disable flags (cached; the caller's model is never modified)."""
    key = (id(model), disable)
    if key not in _VARIANTS:
        m = copy.copy(model)  # MjModel.__copy__ is a deep copy
        m.opt.disableflags |= disable
        _VARIANTS[key] = m
    return _VARIANTS[key]


def _root_world(data: mujoco.MjData, frc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Free-joint generalised force → (world force, world torque); the angular rows are in the root frame."""
    rot = data.xmat[BODY_IDS[0]].reshape(3, 3)
    return frc[0:3].copy(), rot @ frc[3:6]


def inverse_dynamics(qpos: np.ndarray, qvel: np.ndarray, qacc: np.ndarray, model: mujoco.MjModel | None = None,
                     contacts: bool = False, data: mujoco.MjData | None = None) -> dict[str, np.ndarray]:
    """mj_inverse on every frame of a trajectory (T, nq/nv/nv).

    Returns ``torque`` (T,69) hinge generalised forces in SMPL hinge order (N·m), ``root_force`` (T,3) and
    ``root_torque`` (T,3) world-frame residual wrench at the root, ``com`` (T,3) whole-body centre of mass, and
    with ``contacts`` also ``contact_force`` (T,3) total world-frame force of the floor and ``ncontact`` (T,).
    """
    model = model or humanoid_model()
    flags = mujoco.mjtDisableBit
    if contacts:
        m = model
    else:
        m = _variant(model, int(flags.mjDSBL_CONSTRAINT) | int(flags.mjDSBL_SPRING) | int(flags.mjDSBL_DAMPER))
    d = data if data is not None else mujoco.MjData(m)  # any MjData of the same model sizes works
    T = qpos.shape[0]
    out = {k: np.zeros((T, 3)) for k in ("root_force", "root_torque", "com")}
    out["torque"] = np.zeros((T, len(HINGE_DOF)))
    if contacts:
        out["contact_force"] = np.zeros((T, 3))
        out["ncontact"] = np.zeros(T, dtype=np.int64)
    f6 = np.zeros(6)
    for t in range(T):
        d.qpos[:], d.qvel[:], d.qacc[:] = qpos[t], qvel[t], qacc[t]
        mujoco.mj_inverse(m, d)
        frc = d.qfrc_inverse
        out["torque"][t] = frc[HINGE_DOF]
        out["root_force"][t], out["root_torque"][t] = _root_world(d, frc)
        out["com"][t] = d.subtree_com[BODY_IDS[0]]
        if contacts:
            total = np.zeros(3)
            for i in range(d.ncon):
                c = d.contact[i]
                if m.geom_bodyid[c.geom1] != 0 and m.geom_bodyid[c.geom2] != 0:
                    continue  # self-contact: internal, cancels in the sum
                mujoco.mj_contactForce(m, d, i, f6)
                world = c.frame.reshape(3, 3).T @ f6[:3]  # contact frame rows: normal, tangent1, tangent2
                total += world if m.geom_bodyid[c.geom2] != 0 else -world  # force on geom2's body (the humanoid)
            out["contact_force"][t] = total
            out["ncontact"][t] = d.ncon
    return out


def inverse_dynamics_grf(qpos: np.ndarray, qvel: np.ndarray, qacc: np.ndarray, model: mujoco.MjModel | None = None,
                         contact_height: float = 0.03, friction: float = 1.0, reg: float = 1e-4,
                         data: mujoco.MjData | None = None) -> dict[str, np.ndarray]:
    """Inverse dynamics with estimated ground reactions: who supports the body, the floor or a "hand of god"?

    Contact-free inverse dynamics puts the whole external wrench on the root. Here that wrench is handed, as far as
    possible, to the sole points (heel, ball, toe tip of each foot; ``humanoid.sole_points``) lower than
    ``contact_height``: the regularised least-norm forces F with Σ J_iᵀ F_i = root wrench, then clipped to the
    friction cone (F_z ≥ 0, |F_xy| ≤ μ·F_z). The hinge torques become τ − Σ J_iᵀ F_i (a standing leg now carries the
    body), and what the feet could not supply stays as ``root_force``/``root_torque`` (world frame).
    Returns also ``grf`` (T,6,3) per sole point (world, N) and ``in_contact`` (T,6) bool.
    """
    model = model or humanoid_model()
    base = inverse_dynamics(qpos, qvel, qacc, model, contacts=False, data=data)
    d = data if data is not None else mujoco.MjData(model)
    points = sole_points()
    T, nv = qpos.shape[0], model.nv
    grf = np.zeros((T, len(points), 3))
    in_contact = np.zeros((T, len(points)), dtype=bool)
    torque, root_force, root_torque = base["torque"].copy(), base["root_force"].copy(), base["root_torque"].copy()
    jacp = np.zeros((3, nv))
    for t in range(T):
        d.qpos[:] = qpos[t]
        mujoco.mj_kinematics(model, d)
        mujoco.mj_comPos(model, d)
        world = [d.xpos[BODY_IDS[j]] + d.xmat[BODY_IDS[j]].reshape(3, 3) @ p for j, p in points]
        live = [i for i, w in enumerate(world) if w[2] < contact_height]
        if not live:
            continue
        jac = np.zeros((3 * len(live), nv))
        for n, i in enumerate(live):
            mujoco.mj_jac(model, d, jacp, None, world[i], BODY_IDS[points[i][0]])
            jac[3 * n:3 * n + 3] = jacp
        rot = d.xmat[BODY_IDS[0]].reshape(3, 3)
        wrench = np.r_[base["root_force"][t], rot.T @ base["root_torque"][t]]  # generalised root force
        a = jac[:, :6].T  # (6, 3n): Σ J_iᵀ F_i on the root rows
        f = a.T @ np.linalg.solve(a @ a.T + reg * np.trace(a @ a.T) * np.eye(6), wrench)
        f = f.reshape(-1, 3)
        f[:, 2] = np.maximum(f[:, 2], 0.0)
        horiz = np.linalg.norm(f[:, :2], axis=1, keepdims=True)
        f[:, :2] *= np.minimum(1.0, friction * f[:, 2:3] / np.maximum(horiz, 1e-9))
        gen = jac.T @ f.reshape(-1)
        torque[t] -= gen[HINGE_DOF]
        root_force[t] -= gen[0:3]
        root_torque[t] -= rot @ gen[3:6]
        grf[t, live], in_contact[t, live] = f, True
    return {"torque": torque, "root_force": root_force, "root_torque": root_torque, "com": base["com"],
            "grf": grf, "in_contact": in_contact}


def self_collisions(qpos: np.ndarray, model: mujoco.MjModel | None = None,
                    data: mujoco.MjData | None = None) -> dict[str, np.ndarray]:
    """Per frame of qpos (T, nq): ``count`` (T,) contacts between non-adjacent body geoms, ``depth`` (T,) their summed
    penetration (m) and ``max_depth`` (T,)."""
    model = model or humanoid_model()
    d = data if data is not None else mujoco.MjData(model)
    T = qpos.shape[0]
    count, depth, max_depth = np.zeros(T, dtype=np.int64), np.zeros(T), np.zeros(T)
    body = model.geom_bodyid
    for t in range(T):
        d.qpos[:] = qpos[t]
        mujoco.mj_kinematics(model, d)
        mujoco.mj_collision(model, d)
        for i in range(d.ncon):
            c = d.contact[i]
            if body[c.geom1] == 0 or body[c.geom2] == 0 or c.dist >= 0:
                continue
            count[t] += 1
            depth[t] -= c.dist
            max_depth[t] = max(max_depth[t], -c.dist)
    return {"count": count, "depth": depth, "max_depth": max_depth}


def rom_violation(qpos: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """(...,nq) → (...,69) bool: hinge angle outside the model's anatomical range (± margin rad)."""
    rng = joint_ranges()
    q = np.asarray(qpos)[..., HINGE_QPOS]
    return (q < rng[:, 0] - margin) | (q > rng[:, 1] + margin)


def physics_probe(poses, trans, fps: float = 30.0, nthread: int = 1,
                  model: mujoco.MjModel | None = None) -> dict[str, np.ndarray]:
    """Batch of clips, poses (B,T,24,3), trans (B,T,3) → per-clip physics quantities (see module docstring).

    Keys: ``com`` (B,T,3), ``torque`` (B,T,69) (inverse dynamics without contacts), ``joint_velocity`` (B,T,69),
    ``root_force`` (B,T,3), ``self_penetration`` (B,T) summed depth (m), ``rom_violation`` (B,) fraction of
    hinge-frames outside the joint ranges, ``ok`` (B,) False where the clip could not be processed (non-finite
    input), ``torque_limit`` (69,), ``body_mass`` (float).
    """
    model = model or humanoid_model()
    poses, trans = np.asarray(poses, dtype=np.float64), np.asarray(trans, dtype=np.float64)
    B, T = poses.shape[:2]
    out = {"com": np.zeros((B, T, 3)), "torque": np.zeros((B, T, 69)), "joint_velocity": np.zeros((B, T, 69)),
           "root_force": np.zeros((B, T, 3)), "self_penetration": np.zeros((B, T)), "rom_violation": np.zeros(B),
           "ok": np.zeros(B, dtype=bool), "torque_limit": torque_limits(), "body_mass": body_mass(model)}

    def work(chunk):
        data = mujoco.MjData(model)
        for b in chunk:
            try:
                qpos = motion_to_qpos(poses[b], trans[b])
                qvel, qacc = velocity_acceleration(model, qpos, fps)
                if not (np.isfinite(qpos).all() and np.isfinite(qacc).all()):
                    continue
                idyn = inverse_dynamics(qpos, qvel, qacc, model, contacts=False, data=data)
                coll = self_collisions(qpos, model, data)
            except (FloatingPointError, ValueError):
                continue
            for k in ("com", "torque", "root_force"):
                out[k][b] = idyn[k]
            out["joint_velocity"][b] = qvel[:, HINGE_DOF]
            out["self_penetration"][b] = coll["depth"]
            out["rom_violation"][b] = rom_violation(qpos).mean()
            out["ok"][b] = True

    chunks = [list(range(B))[i::max(1, nthread)] for i in range(max(1, min(nthread, B)))]
    if len(chunks) <= 1:
        work(chunks[0] if chunks else [])
    else:
        with ThreadPoolExecutor(len(chunks)) as pool:
            list(pool.map(work, chunks))
    return out
