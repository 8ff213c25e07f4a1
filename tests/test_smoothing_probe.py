"""scripts/smoothing_probe.py: the moving average it applies to samples (the measurement in docs/results.md)."""

import numpy as np
import pytest

from dance_rl.motion.representation import FEATURE_DIM, TRANS_SLICE
from tests.conftest import load_script


@pytest.fixture(scope="module")
def probe():
    return load_script("smoothing_probe")


def jittery(t=30):
    rng = np.random.default_rng(0)
    slow = np.linspace(0, 1, t)[None, :, None] * rng.normal(size=(2, 1, FEATURE_DIM))
    return slow + 0.1 * (-1.0) ** np.arange(t)[None, :, None]  # a drift plus frame-to-frame alternation


def test_one_frame_is_the_raw_sample(probe):
    x = jittery()
    np.testing.assert_array_equal(probe.smooth_features(x, 1), x)


def test_all_removes_alternation_and_keeps_drift(probe):
    x = jittery()
    s = probe.smooth_features(x, 3)
    step_raw = np.abs(np.diff(x, axis=1))[:, 2:-2].mean()
    step_smooth = np.abs(np.diff(s, axis=1))[:, 2:-2].mean()
    assert step_smooth < 0.4 * step_raw  # the alternation keeps a third of its size (+a, -a, +a averaged)
    # a linear drift passes a centred average unchanged away from the ends; the alternation leaves +-0.1/3
    np.testing.assert_allclose(s[:, 2:-2], (x - 0.1 * (-1.0) ** np.arange(30)[None, :, None])[:, 2:-2],
                               atol=0.1 / 3 + 1e-9)


def test_root_only_leaves_rotations_and_contacts(probe):
    x = jittery()
    s = probe.smooth_features(x, 5, part="root")
    keep = np.ones(FEATURE_DIM, bool)
    keep[TRANS_SLICE] = False
    np.testing.assert_array_equal(s[..., keep], x[..., keep])
    assert not np.allclose(s[..., TRANS_SLICE], x[..., TRANS_SLICE])


def test_bad_frames_is_one_error_line(probe, capsys):
    from dance_rl.errors import cli_main
    assert cli_main(probe.main, ["--frames", "0"]) == 2
    assert "--frames" in capsys.readouterr().err
