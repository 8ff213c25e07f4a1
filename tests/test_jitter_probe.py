"""scripts/jitter_probe.py: the acceleration statistic behind docs/results.md's jitter table, and its CLI errors."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from dance_rl.errors import cli_main

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "jitter_probe.py"


@pytest.fixture(scope="module")
def probe():
    spec = importlib.util.spec_from_file_location("jitter_probe", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_constant_velocity_has_no_acceleration_and_alternation_is_measured(probe):
    t = np.arange(20)[None, :, None, None] / 30.0
    walk = np.broadcast_to(t * np.array([1.0, 0.5, 0.0]), (2, 20, 24, 3))
    assert probe.median_accelerations(walk) == pytest.approx({"root": 0.0, "feet": 0.0, "all": 0.0}, abs=1e-9)
    # root alternating +-1 cm every frame: |x[t+1] - 2x[t] + x[t-1]| = 4 cm → 0.04 * 900 = 36 m/s²; the rest still
    jitter = walk.copy()
    jitter[:, :, 0, 0] += 0.01 * (-1.0) ** np.arange(20)
    acc = probe.median_accelerations(jitter)
    assert acc["root"] == pytest.approx(36.0) and acc["feet"] == pytest.approx(0.0, abs=1e-9) and acc["all"] < 1e-9


@pytest.mark.parametrize("argv, message", [
    (["--sampler", "10-quadratic"], "STEPS:SPACING:ETA"),
    (["--sampler", "10:cubic:1"], "spacing uniform|quadratic"),
    (["--t", "1000"], "every --t in 0..999"),
])
def test_bad_input_is_one_line(probe, capsys, argv, message):
    assert cli_main(probe.main, argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
