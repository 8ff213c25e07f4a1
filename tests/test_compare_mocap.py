"""The training-mocap column of `compare`: real windows of the corpus, evenly picked, scored like the models without
simulator tracking, errors relative to the baseline model."""
import numpy as np
import pytest

import dance_rl.eval.report as report
from dance_rl.compare import markdown, mocap_reference, mocap_windows, pick_even
from dance_rl.config import load_config
from dance_rl.errors import UserError
from dance_rl.eval.paired import PHYSICAL_ERRORS
from dance_rl.eval.report import EvalOptions
from dance_rl.motion.fk import joints_np


@pytest.fixture
def cfg(tiny_base):
    return load_config(None, [f"data.cache_dir={tiny_base['cache_dir']}", "data.max_clips=2"])


def test_pick_even_keeps_the_ends():
    assert pick_even(list(range(10)), 4) == [0, 3, 6, 9]
    assert pick_even([1, 2], 5) == [1, 2]


def test_mocap_windows_are_corpus_windows(cfg):
    every = mocap_windows(cfg, 5.0, max_windows=10_000)
    picked = mocap_windows(cfg, 5.0, max_windows=3)
    assert len(every) > 3 and len(picked) == 3
    for (p, t, j), (pe, te, _) in zip(picked, pick_even(every, 3)):
        assert p.shape == (150, 24, 3) and t.shape == (150, 3) and j.shape == (150, 24, 3)
        np.testing.assert_array_equal(p, pe)
        np.testing.assert_array_equal(t, te)
        np.testing.assert_allclose(joints_np(p, t), j)
    with pytest.raises(UserError, match="fewer than 2 windows"):
        mocap_windows(cfg, 10_000.0, max_windows=4)


def test_mocap_reference_and_its_column(cfg, monkeypatch):
    def no_tracking(*_):
        raise AssertionError("the mocap column must not run the simulator")

    monkeypatch.setattr(report, "imitation_scores", no_tracking)
    windows = mocap_windows(cfg, 5.0, max_windows=4)
    opts = EvalOptions(seconds=5.0, imitation=True, phymotion=False)
    first = mocap_reference(windows, opts, [{"pfc": 2.0, "fgd": 10.0, "pen_rate": 1.0, "skating_ratio": 0.5}] * 3)
    assert first["windows"] == len(windows) and first["motion_magnitude"] > 0.05  # recorded dancing moves
    assert "imitation_success" not in first and "fid_k" not in first
    # against a baseline with the mocap's own means, the mocap's physical error index is 1
    same = mocap_reference(windows, opts, [{k: first[k] for k in PHYSICAL_ERRORS}])
    assert same["physical_error"] == pytest.approx(1.0)
    assert first["physical_error"] == pytest.approx(np.mean([first[k] / b for k, b in
                                                               zip(PHYSICAL_ERRORS, (2.0, 10.0, 1.0, 0.5))]))

    stat = {"mean_a": 2.0, "mean_b": 2.0, "diff": 0.0, "rel": 0.0, "ci": (0.0, 0.0), "p": 1.0, "n": 3}
    md = markdown({"pfc": {"a": stat}, "fid_k": {"a": stat}}, ["a"], [], first)
    table = [line for line in md.splitlines() if line.startswith("|")]
    assert "training mocap (reference)" in table[0] and all(line.count("|") == table[0].count("|") for line in table)
    assert table[2].endswith(f"| {first['pfc']:.4g} |") and table[3].endswith("| – |")  # FID: no mocap value
