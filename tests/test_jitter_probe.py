"""scripts/jitter_probe.py: the acceleration statistic behind docs/results.md's jitter table, and its CLI errors."""

import numpy as np
import pytest

from dance_rl.errors import cli_main
from tests.conftest import load_script


@pytest.fixture(scope="module")
def probe():
    return load_script("jitter_probe")


def test_constant_velocity_has_no_acceleration_and_alternation_is_measured(probe):
    t = np.arange(20)[None, :, None, None] / 30.0
    walk = np.broadcast_to(t * np.array([1.0, 0.5, 0.0]), (2, 20, 24, 3))
    assert probe.median_accelerations(walk) == pytest.approx({"root": 0.0, "feet": 0.0, "all": 0.0}, abs=1e-9)
    # root alternating +-1 cm every frame: |x[t+1] - 2x[t] + x[t-1]| = 4 cm → 0.04 * 900 = 36 m/s²; the rest still
    jitter = walk.copy()
    jitter[:, :, 0, 0] += 0.01 * (-1.0) ** np.arange(20)
    acc = probe.median_accelerations(jitter)
    assert acc["root"] == pytest.approx(36.0) and acc["feet"] == pytest.approx(0.0, abs=1e-9) and acc["all"] < 1e-9
    # the same on the four foot joints (ankles 7, 8; toes 10, 11) and nowhere else: 4 of 24 joints jitter
    feet = walk.copy()
    feet[:, :, [7, 8, 10, 11], 2] += 0.01 * (-1.0) ** np.arange(20)[:, None]
    acc = probe.median_accelerations(feet)
    assert acc["feet"] == pytest.approx(36.0) and acc["root"] == pytest.approx(0.0, abs=1e-9) and acc["all"] < 1e-9


def test_runs_on_a_model_and_prints_one_row_per_probe(probe, tiny_base, capsys):
    from tests.conftest import smoke_overrides

    sets = [x for o in smoke_overrides(tiny_base) for x in ("--set", o)]
    assert cli_main(probe.main, ["--windows", "2", "--t", "1", "5", "--sampler", "2:uniform:1", "3:quadratic:0",
                                 *sets]) == 0
    rows = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("| ") and "---" not in ln][1:]
    assert [r.split(" | ")[0] for r in rows] == [
        "| test mocap", "| model's x̂0 of the mocap noised to t = 1", "| model's x̂0 of the mocap noised to t = 5",
        "| sample, 2 uniform DDIM steps, eta 1", "| sample, 3 quadratic DDIM steps, eta 0"]
    values = [[float(v) for v in r.strip(" |").split(" | ")[1:]] for r in rows]
    assert all(len(v) == 3 and min(v) >= 0 for v in values)
    assert values[0][0] < 30  # the demo mocap's root moves smoothly; an untrained model's samples do not
    assert values[3][0] > 3 * values[0][0]


@pytest.mark.parametrize("argv, message", [
    (["--sampler", "10-quadratic"], "STEPS:SPACING:ETA"),
    (["--sampler", "10:cubic:1"], "spacing uniform|quadratic"),
    (["--t", "1000"], "every --t in 0..999"),
    (["--t", "50", "--set", "diffusion.timesteps=20"], "every --t in 0..19"),
])
def test_bad_input_is_one_line(probe, capsys, argv, message):
    assert cli_main(probe.main, argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
