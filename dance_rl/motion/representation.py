"""The 151-d per-frame model vector (EDGE) and its min-max normaliser.

Layout: [0:4] foot contacts (joints 7, 8, 10, 11), [4:7] root position (z-up, metres), [7:151] 24 × 6-D local rotations.
Contacts follow EDGE: a foot joint is in contact when it moves < 0.01 m to the next frame; the last frame has zero
velocity and therefore contact 1.
"""
from __future__ import annotations

import torch

from dance_rl.motion.fk import forward_kinematics
from dance_rl.motion.rotations import axis_angle_to_matrix, matrix_to_axis_angle, matrix_to_rot6d, rot6d_to_matrix
from dance_rl.motion.skeleton import CONTACT_SPEED_M_PER_FRAME, FOOT_JOINTS, NUM_JOINTS

FEATURE_DIM = 4 + 3 + NUM_JOINTS * 6
CONTACT_SLICE = slice(0, 4)
TRANS_SLICE = slice(4, 7)
ROT_SLICE = slice(7, FEATURE_DIM)


def foot_contacts(joints: torch.Tensor, threshold: float = CONTACT_SPEED_M_PER_FRAME) -> torch.Tensor:
    """(...,T,24,3) joint positions → (...,T,4) contact labels in {0, 1}."""
    feet = joints[..., list(FOOT_JOINTS), :]
    vel = torch.zeros_like(feet)
    vel[..., :-1, :, :] = feet[..., 1:, :, :] - feet[..., :-1, :, :]
    return (torch.linalg.norm(vel, dim=-1) < threshold).to(joints.dtype)


def motion_to_features(poses: torch.Tensor, trans: torch.Tensor) -> torch.Tensor:
    """Axis-angle poses (...,T,24,3) and trans (...,T,3) → (...,T,151)."""
    poses = torch.as_tensor(poses, dtype=torch.float32)
    trans = torch.as_tensor(trans, dtype=poses.dtype)
    rotmats = axis_angle_to_matrix(poses)
    contacts = foot_contacts(forward_kinematics(rotmats, trans))
    rot6d = matrix_to_rot6d(rotmats).flatten(-2)
    return torch.cat([contacts, trans, rot6d], dim=-1)


def features_to_rotmats(x: torch.Tensor) -> torch.Tensor:
    return rot6d_to_matrix(x[..., ROT_SLICE].unflatten(-1, (NUM_JOINTS, 6)))


def features_to_motion(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(...,T,151) → (poses axis-angle (...,T,24,3), trans (...,T,3), contacts (...,T,4))."""
    return matrix_to_axis_angle(features_to_rotmats(x)), x[..., TRANS_SLICE], x[..., CONTACT_SLICE]


def features_to_joints(x: torch.Tensor) -> torch.Tensor:
    """(...,T,151) unnormalised features → joint positions (...,T,24,3); differentiable."""
    return forward_kinematics(features_to_rotmats(x), x[..., TRANS_SLICE])


class Normalizer:
    """Per-dimension min-max scaling to [-1, 1] (EDGE's MinMaxScaler with clip=True).

    Stored as two plain tensors so checkpoints load with ``torch.load(weights_only=True)``.
    """

    def __init__(self, data_min: torch.Tensor, data_max: torch.Tensor):
        self.data_min = torch.as_tensor(data_min, dtype=torch.float32)
        self.data_max = torch.as_tensor(data_max, dtype=torch.float32)

    @classmethod
    def fit(cls, x: torch.Tensor) -> "Normalizer":
        flat = torch.as_tensor(x, dtype=torch.float32).reshape(-1, x.shape[-1])
        return cls(flat.min(0).values, flat.max(0).values)

    @property
    def _scale(self) -> torch.Tensor:
        rng = self.data_max - self.data_min
        # Constant dimensions map to -1 (sklearn treats a zero range as 1).
        return 2.0 / torch.where(rng > 0, rng, torch.ones_like(rng))

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        s, lo = self._scale.to(x), self.data_min.to(x)
        return ((x - lo) * s - 1.0).clamp(-1.0, 1.0)

    def unnormalize(self, x: torch.Tensor) -> torch.Tensor:
        s, lo = self._scale.to(x), self.data_min.to(x)
        return (x.clamp(-1.0, 1.0) + 1.0) / s + lo

    def state_dict(self) -> dict:
        return {"data_min": self.data_min.clone(), "data_max": self.data_max.clone()}

    @classmethod
    def from_state_dict(cls, state: dict) -> "Normalizer":
        return cls(state["data_min"], state["data_max"])
