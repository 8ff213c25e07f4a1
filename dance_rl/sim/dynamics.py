"""Inverse dynamics and self-collision over kinematic trajectories (no forward simulation).

``inverse_dynamics`` answers "what generalised force does this motion need?": with ``contacts=False`` (PhyMotion's
choice) every constraint and passive force is off, so the free-joint rows are the residual wrench that something
(the ground, or a "hand of god") must supply, and a static pose needs exactly the body weight there; with
``contacts=True`` MuJoCo's soft contacts and joint limits take part, and the root residual shrinks by the contact
forces (force balance: root_force + contact_force = m·(a_com − g)). ``inverse_dynamics_grf`` hands the contact-free
root wrench to the soles as far as the friction cone allows (what the tracker uses as feed-forward).

``self_collisions`` reports, per frame, the contacts between non-adjacent body geoms (parent–child and rest-pose
overlapping pairs are excluded in the model) and their penetration depth.

``physics_probe`` bundles what the physics rewards need for a batch of clips: contact-free inverse dynamics and
self-contacts of every frame, computed in chunks of frames by ``mujoco.batch`` (C loops, no per-frame Python).
"""
from __future__ import annotations

import contextlib
import copy
import threading
from concurrent.futures import ThreadPoolExecutor

import mujoco
import numpy as np
from mujoco import batch as mj_batch
from scipy.sparse import csr_array
from scipy.spatial.transform import Rotation

from dance_rl.sim.humanoid import (
    BODY_IDS,
    HINGE_DOF,
    HINGE_QPOS,
    body_mass,
    humanoid_model,
    joint_ranges,
    probe_model,
    sole_points,
    torque_limits,
)
from dance_rl.sim.retarget import motion_to_qpos, velocity_acceleration

_VARIANTS: dict[tuple[int, str], tuple[mujoco.MjModel, mujoco.MjModel]] = {}
_LOCK = threading.Lock()
_SOLE_BODY = np.array([BODY_IDS[j] for j, _ in sole_points()])
_SOLE_LOCAL = np.array([p for _, p in sole_points()])
_EMPTY = np.zeros(0)


def _cached_variant(model: mujoco.MjModel, name: str, edit) -> mujoco.MjModel:
    """A cached, edited copy of ``model`` (the caller's model is never modified). The entry keeps ``model`` alive,
    so its id cannot be reused by another model while cached."""
    key = (id(model), name)
    with _LOCK:
        if key not in _VARIANTS:
            m = copy.copy(model)  # MjModel.__copy__ is a deep copy
            edit(m)
            _VARIANTS[key] = (model, m)
        return _VARIANTS[key][1]


def _contact_free(model: mujoco.MjModel) -> mujoco.MjModel:
    """``model`` without constraints and passive forces: pure rigid-body inverse dynamics."""
    flags = mujoco.mjtDisableBit
    bits = int(flags.mjDSBL_CONSTRAINT) | int(flags.mjDSBL_SPRING) | int(flags.mjDSBL_DAMPER)
    return _cached_variant(model, "contact_free", lambda m: setattr(m.opt, "disableflags", m.opt.disableflags | bits))


def _without_floor(model: mujoco.MjModel) -> mujoco.MjModel:
    """``model`` whose world geoms (the floor) collide with nothing: every contact is a self-contact."""
    def edit(m):
        world = m.geom_bodyid == 0
        m.geom_contype[world], m.geom_conaffinity[world] = 0, 0
    return _cached_variant(model, "without_floor", edit)


def inverse_dynamics(qpos: np.ndarray, qvel: np.ndarray, qacc: np.ndarray, model: mujoco.MjModel | None = None,
                     contacts: bool = False, data: mujoco.MjData | None = None,
                     sole: bool = False) -> dict[str, np.ndarray]:
    """mj_inverse on every frame of a trajectory (T, nq/nv/nv).

    Returns ``torque`` (T,69) hinge generalised forces in SMPL hinge order (N·m), ``root_force`` (T,3) and
    ``root_torque`` (T,3) world-frame residual wrench at the root, ``com`` (T,3) whole-body centre of mass; with
    ``contacts`` also ``contact_force`` (T,3) total world-frame force of the floor and ``ncontact`` (T,); with
    ``sole`` the world positions ``sole`` (T,6,3) of ``humanoid.sole_points``. (For many clips without contacts,
    :func:`physics_probe` computes the same torques in batched C calls.)
    """
    model = model or humanoid_model()
    m = model if contacts else _contact_free(model)
    d = data if data is not None else mujoco.MjData(m)  # any MjData of the same model sizes works
    T, root = qpos.shape[0], BODY_IDS[0]
    frc, com = np.zeros((T, m.nv)), np.zeros((T, 3))
    sole_pos, sole_rot = np.zeros((T, len(_SOLE_BODY), 3)), np.zeros((T, len(_SOLE_BODY), 3, 3))
    out = {}
    if contacts:
        out["contact_force"], out["ncontact"] = np.zeros((T, 3)), np.zeros(T, dtype=np.int64)
    # MjData field views are fixed for the MjData's lifetime: fetch them once, not per frame (this loop is the hot
    # path of PhyMotion and of the tracker's feed-forward; pybind attribute access costs as much as a small MuJoCo call).
    d_qpos, d_qvel, d_qacc, d_frc = d.qpos, d.qvel, d.qacc, d.qfrc_inverse
    d_com = d.subtree_com[root]
    for t in range(T):
        d_qpos[:], d_qvel[:], d_qacc[:] = qpos[t], qvel[t], qacc[t]
        mujoco.mj_inverse(m, d)
        frc[t], com[t] = d_frc, d_com
        if sole:
            sole_pos[t], sole_rot[t] = d.xpos[_SOLE_BODY], d.xmat[_SOLE_BODY].reshape(-1, 3, 3)
        if contacts:
            out["contact_force"][t], out["ncontact"][t] = _floor_force(m, d), d.ncon
    # The free joint's angular rows are in the root frame; its orientation is the qpos quaternion (w, x, y, z).
    rot = Rotation.from_quat(np.asarray(qpos)[:, [4, 5, 6, 3]]).as_matrix()
    out.update(torque=frc[:, HINGE_DOF], root_force=frc[:, 0:3], com=com,
               root_torque=np.einsum("tij,tj->ti", rot, frc[:, 3:6]))
    if sole:
        out["sole"] = sole_pos + np.einsum("tnij,nj->tni", sole_rot, _SOLE_LOCAL)
    return out


def _self_penetration(d: mujoco.MjData) -> np.ndarray:
    """Penetration depths (m) of the contacts of the last ``mj_collision`` with the floor-less model."""
    if d.ncon == 0:
        return _EMPTY
    dist = d.contact.dist
    return -dist[dist < 0]


def _floor_force(m: mujoco.MjModel, d: mujoco.MjData) -> np.ndarray:
    """Total world-frame force of the floor on the body (self-contacts cancel and are skipped)."""
    total, f6 = np.zeros(3), np.zeros(6)
    for i in range(d.ncon):
        c = d.contact[i]
        if m.geom_bodyid[c.geom1] != 0 and m.geom_bodyid[c.geom2] != 0:
            continue
        mujoco.mj_contactForce(m, d, i, f6)
        world = c.frame.reshape(3, 3).T @ f6[:3]  # contact frame rows: normal, tangent1, tangent2
        total += world if m.geom_bodyid[c.geom2] != 0 else -world  # force on geom2's body (the humanoid)
    return total


def estimate_grf(sole: np.ndarray, root_pos: np.ndarray, force: np.ndarray, torque: np.ndarray,
                 contact_height: float = 0.03, friction: float = 1.0, reg: float = 1e-4) -> np.ndarray:
    """Ground reactions (T,n,3) at the sole points (T,n,3) lower than ``contact_height`` that best supply the wrench
    ``force`` (T,3), ``torque`` (T,3) about ``root_pos`` (T,3): the regularised least-norm solution of
    Σ F_i = force, Σ (p_i − root) × F_i = torque, clipped to the friction cone (F_z ≥ 0, |F_xy| ≤ μ·F_z)."""
    T, n, _ = sole.shape
    live = sole[..., 2] < contact_height
    arm = (sole - root_pos[:, None]) * live[..., None]
    z = np.zeros((T, n))
    skew = np.stack([z, -arm[..., 2], arm[..., 1], arm[..., 2], z, -arm[..., 0], -arm[..., 1], arm[..., 0], z],
                    -1).reshape(T, n, 3, 3)
    a = np.concatenate([np.eye(3) * live[..., None, None], skew], -2).transpose(0, 2, 1, 3).reshape(T, 6, 3 * n)
    aat = a @ a.transpose(0, 2, 1)
    ridge = reg * np.trace(aat, axis1=1, axis2=2)[:, None, None] + 1e-9
    lam = np.linalg.solve(aat + ridge * np.eye(6), np.concatenate([force, torque], -1)[..., None])
    f = (a.transpose(0, 2, 1) @ lam).reshape(T, n, 3)
    f[..., 2] = np.maximum(f[..., 2], 0.0)
    horiz = np.sqrt(f[..., 0] ** 2 + f[..., 1] ** 2)
    f[..., :2] *= np.minimum(1.0, friction * f[..., 2] / np.maximum(horiz, 1e-9))[..., None]
    return f * live[..., None]


def inverse_dynamics_grf(qpos: np.ndarray, qvel: np.ndarray, qacc: np.ndarray, model: mujoco.MjModel | None = None,
                         contact_height: float = 0.03, friction: float = 1.0,
                         data: mujoco.MjData | None = None) -> dict[str, np.ndarray]:
    """Inverse dynamics with estimated ground reactions: who supports the body, the floor or a "hand of god"?

    Contact-free inverse dynamics puts the whole external wrench on the root. Here that wrench goes, as far as
    possible, to the sole points (heel, ball, toe tip of each foot) lower than ``contact_height``
    (:func:`estimate_grf`); a second mj_inverse pass with those forces applied gives the hinge torques (a standing
    leg now carries the body) and what the feet could not supply, as ``root_force``/``root_torque`` (world).
    Also returns ``grf`` (T,6,3) per sole point (world, N) and ``in_contact`` (T,6) bool.
    """
    model = model or humanoid_model()
    d = data if data is not None else mujoco.MjData(model)
    free = inverse_dynamics(qpos, qvel, qacc, model, data=d, sole=True)
    grf = estimate_grf(free["sole"], qpos[:, 0:3], free["root_force"], free["root_torque"], contact_height, friction)
    touching = np.flatnonzero(grf.any(axis=(1, 2)))
    out = {**free, "grf": grf, "in_contact": grf[..., 2] > 0}
    if touching.size == 0:
        return out
    gen = _transpose_jacobian(model, d, qpos[touching], free["sole"][touching], grf[touching])
    arm = free["sole"][touching] - qpos[touching, None, 0:3]
    out["torque"], out["root_force"], out["root_torque"] = (out[k].copy() for k in ("torque", "root_force",
                                                                                    "root_torque"))
    out["torque"][touching] -= gen[:, HINGE_DOF]
    out["root_force"][touching] -= grf[touching].sum(1)
    out["root_torque"][touching] -= np.cross(arm, grf[touching]).sum(1)
    return out


def _transpose_jacobian(model: mujoco.MjModel, d: mujoco.MjData, qpos: np.ndarray, points: np.ndarray,
                        forces: np.ndarray) -> np.ndarray:
    """Σ_i J_iᵀ F_i (T, nv): generalised force of world forces ``forces`` (T,n,3) at ``points`` (T,n,3) on the sole
    bodies (``mj_applyFT`` after the kinematics its Jacobians need)."""
    out, zero = np.zeros((len(qpos), model.nv)), np.zeros(3)
    for t, q in enumerate(qpos):
        d.qpos[:] = q
        mujoco.mj_kinematics(model, d)
        mujoco.mj_comPos(model, d)
        for n in np.flatnonzero(forces[t].any(-1)):
            mujoco.mj_applyFT(model, d, forces[t, n], zero, points[t, n], _SOLE_BODY[n], out[t])
    return out


def self_collisions(qpos: np.ndarray, model: mujoco.MjModel | None = None,
                    data: mujoco.MjData | None = None) -> dict[str, np.ndarray]:
    """Per frame of qpos (T, nq): ``count`` (T,) contacts between non-adjacent body geoms, ``depth`` (T,) their summed
    penetration (m) and ``max_depth`` (T,)."""
    model = model or humanoid_model()
    d = data if data is not None else mujoco.MjData(model)
    T = qpos.shape[0]
    count, depth, max_depth = np.zeros(T, dtype=np.int64), np.zeros(T), np.zeros(T)
    no_floor = _without_floor(model)
    for t in range(T):
        d.qpos[:] = qpos[t]
        mujoco.mj_kinematics(model, d)
        mujoco.mj_collision(no_floor, d)
        pen = _self_penetration(d)
        if pen.size:
            count[t], depth[t], max_depth[t] = pen.size, pen.sum(), pen.max()
    return {"count": count, "depth": depth, "max_depth": max_depth}


def rom_violation(qpos: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """(...,nq) → (...,69) bool: hinge angle outside the model's anatomical range (± margin rad)."""
    rng = joint_ranges()
    q = np.asarray(qpos)[..., HINGE_QPOS]
    return (q < rng[:, 0] - margin) | (q > rng[:, 1] + margin)


def run_threaded(work, n_items: int, nthread: int) -> None:
    """Call ``work(indices)`` on ``nthread`` interleaved chunks of range(n_items), in threads when nthread > 1."""
    chunks = [list(range(i, n_items, nthread)) for i in range(max(1, min(nthread, n_items)))]
    if len(chunks) <= 1:
        work(chunks[0] if chunks else [])
        return
    with ThreadPoolExecutor(len(chunks)) as pool:
        list(pool.map(work, chunks))


def physics_probe(poses, trans, fps: float = 30.0, nthread: int = 1,
                  smpl_model_path: str | None = None) -> dict[str, np.ndarray]:
    """Batch of clips, poses (B,T,24,3), trans (B,T,3) → per-clip physics quantities (see module docstring).

    Keys: ``joints`` (B,T,24,3) joint positions from the simulator's kinematics, ``com`` (B,T,3), ``torque``
    (B,T,69) and ``root_force`` (B,T,3) of inverse dynamics without contacts, ``joint_velocity`` (B,T,69),
    ``self_penetration`` (B,T) summed depth (m) and ``self_contacts`` (B,T) count of contacts between non-adjacent
    bodies, ``rom_violation`` (B,) fraction of hinge-frames outside the joint ranges, ``ok`` (B,) False where the clip
    could not be processed (non-finite input, MuJoCo error), ``torque_limit`` (69,), ``body_mass`` (float).

    Every frame is independent here, so the frames go through ``mujoco.batch`` in chunks: one C call runs
    mj_forward up to the velocity stage for a whole chunk (kinematics, inertia, bias forces, self-contacts) on the
    probe model (``humanoid.probe_model``), and the inverse dynamics is M·qacc + bias (exactly what contact-free
    ``mj_inverse`` computes, see the test). No Python runs per frame. With ``nthread`` > 1 up to ``nthread`` chunks
    are in MuJoCo at once while this thread prepares and collects the others.
    """
    model = probe_model(smpl_model_path)
    poses, trans = np.asarray(poses, dtype=np.float64), np.asarray(trans, dtype=np.float64)
    B, T = poses.shape[:2]
    finite = np.isfinite(poses).all(axis=(1, 2, 3)) & np.isfinite(trans).all(axis=(1, 2))
    if not finite.all():  # broken clips run as rest poses and are reported as not ok
        poses, trans = np.where(finite[:, None, None, None], poses, 0.0), np.where(finite[:, None, None], trans, 0.0)
    out = {"joints": np.zeros((B, T, len(BODY_IDS), 3)), "com": np.zeros((B, T, 3)), "torque": np.zeros((B, T, 69)),
           "root_force": np.zeros((B, T, 3)), "self_penetration": np.zeros((B, T)),
           "self_contacts": np.zeros((B, T), dtype=np.int64), "joint_velocity": np.zeros((B, T, 69)),
           "rom_violation": np.zeros(B), "ok": np.zeros(B, dtype=bool),
           "torque_limit": torque_limits(), "body_mass": body_mass(model)}
    per_unit = max(1, _PROBE_FRAMES // max(T, 1))  # whole clips per mujoco.batch call (finite differences need them)
    units = [slice(u, min(B, u + per_unit)) for u in range(0, B, per_unit)]

    def prepare(clips: slice) -> list[np.ndarray]:
        qpos = motion_to_qpos(poses[clips], trans[clips])
        qvel, qacc = velocity_acceleration(model, qpos, fps)
        out["joint_velocity"][clips], out["rom_violation"][clips] = qvel[..., HINGE_DOF], \
            rom_violation(qpos).mean((1, 2))
        return [x.reshape(-1, x.shape[-1]) for x in (qpos, qvel, qacc)]

    def finish(job, pb: _ProbeBatch, n: int, clips: slice) -> None:
        failed = job.result() if sim else job  # frame indices within the unit
        pb.collect(n, {k: out[k][clips].reshape((n,) + out[k].shape[2:]) for k in _ProbeBatch.KEYS})
        ok = out["ok"][clips]
        ok[:] = finite[clips]
        ok[np.unique(failed // T)] = False
        out["joint_velocity"][clips] *= ok[:, None, None]
        out["rom_violation"][clips] *= ok

    # Pipelined: up to ``nthread`` units run in MuJoCo (worker threads, GIL released, one single-threaded Batch each)
    # while this thread retargets the next unit and collects finished ones, so the numpy work overlaps the simulator
    # instead of adding to it. With nthread=1 everything runs here, in order.
    threaded = nthread > 1 and len(units) > 1
    # exit order: the workers are joined before the batches go back to the pool
    with _probe_batches(model, per_unit * T, nthread + 1 if threaded else 1) as pbs, \
            (ThreadPoolExecutor(nthread) if threaded else contextlib.nullcontext()) as sim:
        pending = []
        for i, clips in enumerate(units):
            qpos, qvel, qacc = prepare(clips)
            pb = pbs[i % len(pbs)]  # its previous job was collected: at most len(pbs) - 1 are pending
            pb.load(qpos, qvel, qacc)
            pending.append((sim.submit(pb.forward, len(qpos)) if sim else pb.forward(len(qpos)), pb, len(qpos), clips))
            if len(pending) >= len(pbs):
                finish(*pending.pop(0))
        for job in pending:
            finish(*job)
    return out


# Frames per mujoco.batch call (more when one clip is longer): large enough that the per-call cost vanishes, small
# enough that a Batch is cheap to keep and that the pipeline has several stages.
_PROBE_FRAMES = 512


class _ProbeBatch:
    """A ``mujoco.batch.Batch`` of ``nsim`` probe-model frames with its bound fields, and the sparse pattern of the
    frames' inertia matrices as one block-diagonal matrix over the bound ``M`` (MuJoCo stores each frame's M as its
    lower triangle in CSR: ``M_rowadr``, ``M_rownnz``, ``M_colind``), so that M·qacc of all frames is two scipy C loops.
    """

    KEYS = ("joints", "com", "torque", "root_force", "self_penetration", "self_contacts")

    def __init__(self, model: mujoco.MjModel, nsim: int):
        self.model, self.nsim, nv = model, nsim, model.nv
        self.batch = mj_batch.Batch(model, nsim=nsim, nthread=1)
        self.qpos, self.qvel = self.batch.bind("qpos"), self.batch.bind("qvel")
        self.M, self.bias = self.batch.bind("M"), self.batch.bind("qfrc_bias")
        self.com, self.xpos = self.batch.bind("subtree_com"), self.batch.bind("xpos")
        self.sensor = self.batch.bind("sensordata")
        indptr = np.concatenate([[0], np.cumsum(np.tile(model.M_rownnz, nsim))])
        indices = (model.M_colind[None] + nv * np.arange(nsim)[:, None]).ravel()
        # bind() refills the same array after every call, so the matrices are built once and read it in place (scipy
        # copies a read-only array on construction, hence the data assigned afterwards, and checked)
        self.A = csr_array((np.zeros(len(indices)), indices, indptr), shape=(nsim * nv,) * 2)
        self.AT = self.A.T
        self.A.data = self.AT.data = self.M.reshape(-1)
        assert np.shares_memory(self.A.data, self.M) and np.shares_memory(self.AT.data, self.M)
        self.qacc, self.frc = np.zeros((nsim, nv)), np.zeros((nsim, nv))
        self.diag = model.M_rowadr + model.M_rownnz - 1  # the last entry of each row (columns are sorted)
        sensor = model.sensor("self_contact")
        self.slots = slice(sensor.adr[0], sensor.adr[0] + sensor.dim[0])

    def load(self, qpos: np.ndarray, qvel: np.ndarray, qacc: np.ndarray) -> None:
        n = len(qpos)
        self.qpos[:n], self.qvel[:n], self.qacc[:n] = qpos, qvel, qacc  # rows past n: stale, never read

    def forward(self, n: int) -> np.ndarray:
        """mj_forward to the velocity stage of the first n frames, then their inverse dynamics M·qacc + bias;
        returns the frames MuJoCo failed on (their outputs are stale). MuJoCo and scipy's sparse products release
        the GIL, so in a worker thread all of this runs beside the caller's numpy, on the core whose cache holds M."""
        try:
            self.batch.forward(ids=None if n == self.nsim else np.arange(n), stage=mujoco.mjtStage.mjSTAGE_VEL)
            failed = np.zeros(0, dtype=np.int64)
        except mj_batch.SimulationError as e:
            failed = np.asarray(e.ids)
        x = self.qacc.reshape(-1)
        np.add(self.A @ x, self.AT @ x, out=self.frc.reshape(-1))
        frc = self.frc[:n]
        frc += self.bias[:n]
        frc -= self.M[:n, self.diag] * self.qacc[:n]  # the diagonal was counted in both triangles
        return failed

    def collect(self, n: int, out: dict[str, np.ndarray]) -> None:
        """The inverse dynamics and the other outputs of the last forward, for its n frames."""
        frc = self.frc[:n]
        np.take(frc, HINGE_DOF, axis=1, out=out["torque"])  # take(out=) skips the temporary of fancy indexing
        np.take(self.xpos[:n], BODY_IDS, axis=1, out=out["joints"])
        out["root_force"][:], out["com"][:] = frc[:, 0:3], self.com[:n, BODY_IDS[0]]
        found_dist = self.sensor[:n, self.slots].reshape(n, -1, 2)  # per slot (found, dist); found is in slot 0
        out["self_contacts"][:] = found_dist[:, 0, 0]
        out["self_penetration"][:] = -np.minimum(found_dist[..., 1], 0.0).sum(axis=1)


_PROBE_POOL: dict[tuple, tuple[mujoco.MjModel, list[_ProbeBatch]]] = {}


@contextlib.contextmanager
def _probe_batches(model: mujoco.MjModel, nsim: int, count: int):
    """``count`` _ProbeBatches for this call's exclusive use, kept for reuse (building one costs a few ms)."""
    with _LOCK:
        free = _PROBE_POOL.setdefault((id(model), nsim), (model, []))[1]
        pbs = [free.pop() for _ in range(min(count, len(free)))]
    pbs += [_ProbeBatch(model, nsim) for _ in range(count - len(pbs))]
    try:
        yield pbs
    finally:
        with _LOCK:
            free.extend(pbs)
