"""`MotionBatch`: the one input every reward takes.

Rewards are pure functions of a batch of motions. The batch holds what the motions *are* (axis-angle poses, root
translation, frame rate) and computes on first use what several rewards share (FK joint positions, foot contacts,
simulator products). Each derived quantity is a lazy property, computed once per batch, so scoring a composite of
rewards costs one FK and one simulator pass, not one per reward; reward results that depend on parameters are memoised
with :meth:`MotionBatch.cached`.

World convention: metres, z up, ground plane z = 0.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Hashable, Sequence

import numpy as np

from dance_rl.errors import UserError
from dance_rl.motion.skeleton import CONTACT_SPEED_M_PER_FRAME, FOOT_JOINTS, NUM_JOINTS


def vnorm(x: np.ndarray) -> np.ndarray:
    """Euclidean norm over a short last axis (2-D/3-D vectors). ``np.linalg.norm(x, axis=-1)`` reduces such an axis
    about 6x slower, and the rewards take thousands of these norms per batch."""
    sq = x[..., 0] ** 2
    for i in range(1, x.shape[-1]):
        sq = sq + x[..., i] ** 2
    return np.sqrt(sq)


@dataclass
class MotionBatch:
    """B motions of equal length T. poses (B,T,24,3) axis-angle local rotations, trans (B,T,3) root position.

    ``probe`` lets a caller that already ran the simulator (e.g. a RewardActor) hand its products in: a
    ``rewards.physics_probe.PhysicsProbe`` or the dict of ``sim.dynamics.physics_probe``; None = computed on first use
    by ``rewards.physics_probe.physics_probe(batch)``, which stores it here.

    ``music`` (B,T,35) optional: the music features each motion was generated for (the learned reward reads them).

    ``strict`` (default) rejects non-finite motions with a UserError (user files). Model samples use
    ``strict=False``: a sample with NaN/inf is replaced by a still rest pose, marked in ``valid`` (B,) and scored 0
    by `composite.score`, so one diverged sample never stops a training run.
    """

    poses: np.ndarray
    trans: np.ndarray
    fps: float = 30.0
    ids: list | None = None
    probe: Any = field(default=None, repr=False)  # PhysicsProbe | dict | None (see the class doc)
    strict: bool = True
    music: np.ndarray | None = None

    def __post_init__(self):
        self.poses = np.asarray(self.poses, dtype=np.float32)
        self.trans = np.asarray(self.trans, dtype=np.float32)
        if self.poses.ndim == 3:  # a single motion
            self.poses, self.trans = self.poses[None], self.trans[None]
        if self.poses.ndim != 4 or self.poses.shape[2:] != (NUM_JOINTS, 3):
            raise UserError(f"motion batch: poses have shape {self.poses.shape}; expected (B, T, {NUM_JOINTS}, 3) "
                            "axis-angle rotations")
        if self.trans.shape != self.poses.shape[:2] + (3,):
            raise UserError(f"motion batch: trans has shape {self.trans.shape}; expected {self.poses.shape[:2] + (3,)} "
                            "to match poses")
        if self.poses.shape[1] < 2:
            raise UserError(f"motion batch: {self.poses.shape[1]} frame(s); rewards need at least 2 frames")
        self.valid = np.isfinite(self.poses).all(axis=(1, 2, 3)) & np.isfinite(self.trans).all(axis=(1, 2))
        if not self.valid.all():
            if self.strict:
                raise UserError("motion batch: poses or trans contain NaN/inf; check the motion source")
            self.poses = np.where(self.valid[:, None, None, None], self.poses, 0.0).astype(np.float32)
            self.trans = np.where(self.valid[:, None, None], self.trans, 0.0).astype(np.float32)
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise UserError(f"motion batch: fps={self.fps}; expected a positive frame rate")
        self.fps = float(self.fps)
        if self.music is not None:
            self.music = np.asarray(self.music, dtype=np.float32)
            if self.music.ndim == 2:
                self.music = self.music[None]
            if self.music.shape[:2] != self.poses.shape[:2]:
                raise UserError(f"motion batch: music has shape {self.music.shape}; expected "
                                f"{self.poses.shape[:2]} + (features,) to match poses")
        self._results: dict[Hashable, Any] = {}  # reward results by (reward, parameters), see `cached`

    # -- shape -------------------------------------------------------------------------------------------------
    @property
    def batch_size(self) -> int:
        return self.poses.shape[0]

    @property
    def num_frames(self) -> int:
        return self.poses.shape[1]

    @property
    def dt(self) -> float:
        return 1.0 / self.fps

    # -- reward results --------------------------------------------------------------------------------------
    def cached(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """A reward result memoised by ``key`` (the reward and its parameters): computed with ``compute()`` the first
        time, so PhyMotion's three axis rewards and a composite that names a reward twice share one computation."""
        if key not in self._results:
            self._results[key] = compute()
        return self._results[key]

    # -- shared derived quantities (lazy, computed once) ------------------------------------------------------
    @cached_property
    def joints(self) -> np.ndarray:
        """(B,T,24,3) world joint positions: FK of the SMPL mean-shape skeleton (float64), or the simulator's
        kinematics of the same skeleton when a probe carrying them is already here (equal; saves an FK pass)."""
        probe_joints = getattr(self.probe, "joints", None)
        if probe_joints is not None:
            return probe_joints
        from dance_rl.motion.fk import joints_np
        return joints_np(self.poses, self.trans)

    @cached_property
    def contacts(self) -> np.ndarray:
        """(B,T,4) {0,1} contacts of ``FOOT_JOINTS``: step to the next frame < ``CONTACT_SPEED_M_PER_FRAME``; the
        last frame has no next one, so zero velocity → contact 1, as the 151-d vector."""
        feet = self.joints[:, :, list(FOOT_JOINTS)]
        step = np.zeros(feet.shape[:-1])
        step[:, :-1] = vnorm(feet[:, 1:] - feet[:, :-1])
        return (step < CONTACT_SPEED_M_PER_FRAME).astype(np.float32)

    @cached_property
    def lowest_joint_height(self) -> np.ndarray:
        """(B,T) height of the lowest joint per frame (the FGD rewards' h_t)."""
        return self.joints[..., 2].min(axis=-1)

    # -- constructors ------------------------------------------------------------------------------------------
    @classmethod
    def from_features(cls, x, fps: float = 30.0, normalizer=None, ids=None, music=None) -> "MotionBatch":
        """From 151-d model vectors (B,T,151) or (T,151), torch or numpy. Pass ``normalizer`` if ``x`` is normalised.
        Non-strict: samples with NaN/inf are kept as invalid (see class doc)."""
        import torch

        from dance_rl.motion.representation import FEATURE_DIM, features_to_motion

        if isinstance(x, np.ndarray) and not x.flags.writeable:  # e.g. zero-copy from Ray's object store
            x = x.copy()
        x = torch.as_tensor(x).detach().to("cpu", torch.float32)
        if x.shape[-1] != FEATURE_DIM or x.ndim not in (2, 3):
            raise UserError(f"motion features: shape {tuple(x.shape)}; expected (B, T, {FEATURE_DIM}) or (T, {FEATURE_DIM})")
        if normalizer is not None:
            x = normalizer.unnormalize(x)
        with torch.no_grad():
            poses, trans, _ = features_to_motion(x)
        return cls(poses.numpy(), trans.numpy(), fps=fps, ids=ids, strict=False, music=music)

    @classmethod
    def from_motions(cls, motions: Sequence[Any], ids=None) -> "MotionBatch":
        """From `dance_rl.motion.io.Motion` objects (anything with poses, trans, fps) of equal length and frame rate."""
        motions = list(motions)
        if not motions:
            raise UserError("motion batch: no motions given; pass at least one")
        lengths = {m.poses.shape[0] for m in motions}
        rates = {float(m.fps) for m in motions}
        if len(lengths) != 1 or len(rates) != 1:
            raise UserError(f"motion batch: motions differ in length {sorted(lengths)} or fps {sorted(rates)}; "
                            "crop/resample them to a common length and frame rate first")
        return cls(np.stack([m.poses for m in motions]), np.stack([m.trans for m in motions]), fps=rates.pop(), ids=ids)

    def with_motion(self, poses: np.ndarray, trans: np.ndarray) -> "MotionBatch":
        """A new batch (fresh cache) with other poses/trans and the same fps and ids."""
        return MotionBatch(poses, trans, fps=self.fps, ids=self.ids, strict=self.strict, music=self.music)

    def select(self, index) -> "MotionBatch":
        """Sub-batch (fresh cache), e.g. ``batch.select([0, 2])``."""
        index = np.atleast_1d(np.arange(self.batch_size)[index])
        ids = None if self.ids is None else [self.ids[i] for i in index]
        music = None if self.music is None else self.music[index]
        return MotionBatch(self.poses[index], self.trans[index], fps=self.fps, ids=ids, strict=self.strict, music=music)
