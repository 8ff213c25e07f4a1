"""What the physics rewards need from the simulator, behind one small interface.

`PhysicsProbe` is the contract between rewards/ and sim/: per clip and frame the whole-body centre of mass, the
hinge torques and root force of inverse dynamics (no contacts, as PhyMotion), hinge velocities and torque limits,
and the self-collision penetration between non-adjacent bodies. `physics_probe(batch)` fills it from `dance_rl.sim`
once per batch and keeps it as ``batch.probe`` (a RewardActor may pass a precomputed one in
``MotionBatch(probe=...)``). MuJoCo is a hard dependency: a broken simulator import raises
here instead of quietly turning the physics rewards into joint-only proxies (those run only on ``use_sim=False``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dance_rl.rewards.batch import MotionBatch

# Self-collision "percent" from capsule contacts: 100 · Σ depth / SELF_PEN_DEPTH_REF. With 0.5 m, 1 cm of summed
# penetration reads as the release's 2 % clean-mesh baseline and 10 cm as its 20 % "severe" end (calibration, inferred).
SELF_PEN_DEPTH_REF = 0.5


@dataclass
class PhysicsProbe:
    com: np.ndarray  # (B,T,3) whole-body centre of mass, world frame
    torque: np.ndarray  # (B,T,D) hinge generalised forces of inverse dynamics without contacts, N·m
    joint_velocity: np.ndarray  # (B,T,D) hinge velocities, rad/s
    torque_limit: np.ndarray  # (D,) N·m
    root_force: np.ndarray  # (B,T,3) free-joint linear generalised force, N (world frame)
    body_mass: float  # kg
    self_penetration: np.ndarray  # (B,T) summed penetration depth of contacts between non-adjacent bodies, m
    ok: np.ndarray  # (B,) False where the simulator pass failed (scores 0)
    rom_violation: np.ndarray | None = None  # (B,) fraction of hinge-frames outside the model's joint ranges
    joints: np.ndarray | None = None  # (B,T,24,3) joint positions of the same kinematics (equal to FK of the batch)

    @property
    def self_collision_pct(self) -> np.ndarray:
        return 100.0 * self.self_penetration / SELF_PEN_DEPTH_REF


def physics_probe(batch: MotionBatch, nthread: int = 1) -> PhysicsProbe:
    """The batch's PhysicsProbe, computed once (``nthread`` worker threads) and kept as ``batch.probe``.

    A precomputed probe may be handed in as ``MotionBatch(probe=p)``, either a PhysicsProbe or the dict that
    ``dance_rl.sim.dynamics.physics_probe`` returns. Its joint positions (the simulator's kinematics, equal to the
    batch's FK) then serve as ``batch.joints`` unless those were computed first.
    """
    if batch.probe is None:
        from dance_rl.sim.dynamics import physics_probe as sim_probe  # lazy: MuJoCo loads only where physics is scored

        batch.probe = sim_probe(batch.poses, batch.trans, fps=batch.fps, nthread=nthread)
    if isinstance(batch.probe, dict):
        batch.probe = from_dict(batch.probe)
    return batch.probe


def from_dict(out: dict) -> PhysicsProbe:
    """Wrap the dict of ``dance_rl.sim.dynamics.physics_probe``."""
    return PhysicsProbe(com=out["com"], torque=out["torque"], joint_velocity=out["joint_velocity"],
                        torque_limit=np.asarray(out["torque_limit"]), root_force=out["root_force"],
                        body_mass=float(out["body_mass"]), self_penetration=out["self_penetration"],
                        ok=np.asarray(out["ok"], bool), rom_violation=out.get("rom_violation"),
                        joints=out.get("joints"))
