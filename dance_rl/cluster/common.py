"""Small helpers shared by the Ray roles: device choice, weight (de)serialisation, per-chunk seeds."""
from __future__ import annotations

import numpy as np
import torch

from dance_rl.diffusion.device import resolve_device


def pick_device(want_gpu: bool, setting: str = "auto") -> torch.device:
    """cluster.device for one role: 'auto' = CUDA when this worker was given a GPU share and CUDA works, CPU
    otherwise; 'cpu' / 'cuda' / 'cuda:N' as given (CUDA missing → UserError)."""
    if setting == "auto":
        return torch.device("cuda") if want_gpu and torch.cuda.is_available() else torch.device("cpu")
    return resolve_device(setting, "cluster.device")


def state_to_numpy(state: dict) -> dict:
    """torch state_dict → numpy arrays, which Ray's object store shares zero-copy between workers of a node."""
    return {k: v.detach().cpu().numpy() for k, v in state.items()}


def numpy_to_state(arrays: dict, device: torch.device | str = "cpu") -> dict:
    return {k: torch.from_numpy(np.array(v)).to(device) for k, v in arrays.items()}


def chunk_seed(base_seed: int, iteration: int, chunk_id: int) -> int:
    """Seed of one sampling chunk: independent of which replica runs it, so Ray and serial runs sample the same."""
    return int(np.random.SeedSequence([base_seed, iteration, chunk_id]).generate_state(1)[0])
