"""Batched forward kinematics for the SMPL-24 skeleton (torch, z-up world).

world_rot[i] = world_rot[parent] @ local_rot[i];  pos[i] = world_rot[parent] @ offset[i] + pos[parent];  pos[0] = trans.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from dance_rl.motion.rotations import axis_angle_to_matrix
from dance_rl.motion.skeleton import NUM_JOINTS, OFFSETS, PARENTS


def global_rotations(rotmats: torch.Tensor) -> torch.Tensor:
    """Local (...,24,3,3) → world (...,24,3,3) rotations."""
    out = [rotmats[..., 0, :, :]]
    for i in range(1, NUM_JOINTS):
        out.append(out[PARENTS[i]] @ rotmats[..., i, :, :])
    return torch.stack(out, dim=-3)


def forward_kinematics(rotmats: torch.Tensor, trans: torch.Tensor, offsets=None) -> torch.Tensor:
    """Local rotation matrices (...,24,3,3) and root position (...,3) → joint positions (...,24,3)."""
    offs = torch.as_tensor(OFFSETS if offsets is None else offsets, dtype=rotmats.dtype, device=rotmats.device)
    world = [rotmats[..., 0, :, :]]
    pos = [trans]
    for i in range(1, NUM_JOINTS):
        p = PARENTS[i]
        pos.append(pos[p] + (world[p] @ offs[i].unsqueeze(-1)).squeeze(-1))
        world.append(world[p] @ rotmats[..., i, :, :])
    return torch.stack(pos, dim=-2)


def fk_axis_angle(poses: torch.Tensor, trans: torch.Tensor, offsets=None) -> torch.Tensor:
    """Axis-angle poses (...,24,3) and trans (...,3) → joint positions (...,24,3)."""
    poses = torch.as_tensor(poses, dtype=torch.float32) if not isinstance(poses, torch.Tensor) else poses
    trans = torch.as_tensor(trans, dtype=poses.dtype) if not isinstance(trans, torch.Tensor) else trans
    return forward_kinematics(axis_angle_to_matrix(poses), trans, offsets)


def joints_np(poses: np.ndarray, trans: np.ndarray, offsets=None) -> np.ndarray:
    """FK in float64 numpy for metric code (rewards, evaluation): poses (...,24,3), trans (...,3) → (...,24,3).

    Numpy rather than torch because reward workers call it on small batches next to MuJoCo threads, where torch's
    intra-op thread pool costs more than the arithmetic (docs/benchmarks.md, simulator rewards)."""
    poses = np.asarray(poses, dtype=np.float64)
    rot = Rotation.from_rotvec(poses.reshape(-1, 3)).as_matrix().reshape(poses.shape + (3,))  # exact Rodrigues
    offs = np.asarray(OFFSETS if offsets is None else offsets, dtype=np.float64)
    world = [rot[..., 0, :, :]]
    pos = [np.asarray(trans, dtype=np.float64)]
    for i in range(1, NUM_JOINTS):
        p = PARENTS[i]
        pos.append(pos[p] + world[p] @ offs[i])
        world.append(world[p] @ rot[..., i, :, :])
    return np.stack(pos, axis=-2)
