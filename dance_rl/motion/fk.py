"""Forward kinematics of the SMPL-24 skeleton (z-up world), one chain walk for torch and numpy.

world_rot[i] = world_rot[parent] @ local_rot[i];  pos[i] = world_rot[parent] @ offset[i] + pos[parent];  pos[0] = trans.

Torch (differentiable: the feature vector, guidance) and numpy (float64: rewards, metrics, imitation tracking) run
the same `kinematics`; `joints_np` is the numpy entry point from axis-angle. Numpy rather than torch for metric code
because reward workers call it on small batches next to MuJoCo threads, where torch's intra-op thread pool costs more
than the arithmetic (docs/benchmarks.md, simulator rewards).
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from dance_rl.motion.rotations import axis_angle_to_matrix
from dance_rl.motion.skeleton import NUM_JOINTS, OFFSETS, PARENTS


def kinematics(rotmats, trans, offsets=None):
    """Local rotation matrices (...,24,3,3) and root position (...,3) → joint positions (...,24,3) and world
    rotations (...,24,3,3). Torch tensors in, torch out (offsets in their dtype and device); numpy in, numpy out."""
    if isinstance(rotmats, torch.Tensor):
        offs, stack = torch.as_tensor(OFFSETS if offsets is None else offsets, dtype=rotmats.dtype,
                                      device=rotmats.device), torch.stack
    else:
        offs, stack = np.asarray(OFFSETS if offsets is None else offsets, dtype=rotmats.dtype), np.stack
    world = [rotmats[..., 0, :, :]]
    pos = [trans]
    for i in range(1, NUM_JOINTS):
        p = PARENTS[i]
        pos.append(pos[p] + (world[p] @ offs[i][:, None])[..., 0])
        world.append(world[p] @ rotmats[..., i, :, :])
    return stack(pos, -2), stack(world, -3)


def forward_kinematics(rotmats: torch.Tensor, trans: torch.Tensor, offsets=None) -> torch.Tensor:
    """Local rotation matrices (...,24,3,3) and root position (...,3) → joint positions (...,24,3)."""
    return kinematics(rotmats, trans, offsets)[0]


def fk_axis_angle(poses: torch.Tensor, trans: torch.Tensor, offsets=None) -> torch.Tensor:
    """Axis-angle poses (...,24,3) and trans (...,3) → joint positions (...,24,3)."""
    poses = torch.as_tensor(poses, dtype=torch.float32) if not isinstance(poses, torch.Tensor) else poses
    trans = torch.as_tensor(trans, dtype=poses.dtype) if not isinstance(trans, torch.Tensor) else trans
    return forward_kinematics(axis_angle_to_matrix(poses), trans, offsets)


def joints_np(poses: np.ndarray, trans: np.ndarray, offsets=None) -> np.ndarray:
    """FK in float64 numpy for metric code (rewards, evaluation): poses (...,24,3), trans (...,3) → (...,24,3)."""
    poses = np.asarray(poses, dtype=np.float64)
    rot = Rotation.from_rotvec(poses.reshape(-1, 3)).as_matrix().reshape(poses.shape + (3,))  # exact Rodrigues
    return kinematics(rot, np.asarray(trans, dtype=np.float64), offsets)[0]
