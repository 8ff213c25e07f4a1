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
def rng():
    return np.random.default_rng(0)
