"""Shared test fixtures. Heavy artefacts (demo corpus, tiny base model) are built once per session under a temp dir."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

os.environ.setdefault("RAY_DEDUP_LOGS", "0")
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "0")
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture
def one_torch_thread():
    """Tiny models run fastest on one thread (and do not stall on a busy 2-core machine)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


REPO = __import__("pathlib").Path(__file__).resolve().parents[1]


def load_script(name: str):
    """A module of scripts/ (they are not a package), imported by path for its functions and main()."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory):
    """A 2-clip demo corpus cache and a tiny (untrained) base checkpoint: enough for RL mechanics tests."""
    from dance_rl.diffusion.checkpoint import save_checkpoint
    from dance_rl.diffusion.model import DanceDecoder, ModelSpec
    from dance_rl.motion.representation import Normalizer

    root = tmp_path_factory.mktemp("tiny_base")
    torch.manual_seed(0)
    model = DanceDecoder(ModelSpec(latent_dim=32, ff_size=64, num_layers=1, num_heads=2, dropout=0.0))
    lo, hi = torch.full((151,), -1.0), torch.full((151,), 1.0)
    lo[4:7], hi[4:7] = torch.tensor([-1.0, -1.0, 0.75]), torch.tensor([1.0, 1.0, 1.05])
    ckpt = root / "tiny.pt"
    save_checkpoint(ckpt, model=model, ema=model, optimizer=None, normalizer=Normalizer(lo, hi), config={}, step=0)
    return {"cache_dir": str(root / "cache"), "checkpoint": str(ckpt)}


def smoke_overrides(tiny_base, *extra):
    return [f"rl.base_checkpoint={tiny_base['checkpoint']}", f"data.cache_dir={tiny_base['cache_dir']}", *extra]
