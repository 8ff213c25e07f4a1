"""The training-mocap column of `compare`: real windows of the corpus, scored like the models, errors relative to the
baseline model."""
import numpy as np

from dance_rl.compare import markdown, mocap_reference, mocap_windows
from dance_rl.config import load_config
from dance_rl.eval.paired import PHYSICAL_ERRORS
from dance_rl.eval.report import EvalOptions
from dance_rl.motion.fk import joints_np


def test_mocap_windows_and_reference(tiny_base):
    cfg = load_config(None, [f"data.cache_dir={tiny_base['cache_dir']}", "data.max_clips=2"])
    windows = mocap_windows(cfg, 5.0, max_windows=4)
    assert 2 <= len(windows) <= 4
    poses, trans, joints = windows[0]
    assert poses.shape == (150, 24, 3) and trans.shape == (150, 3) and joints.shape == (150, 24, 3)
    assert np.allclose(joints_np(poses, trans), joints) and np.ptp(joints[:, :, 2]) > 0.3  # a body, not a point

    base_rows = [{"pfc": 2.0, "fgd": 10.0, "pen_rate": 1.0, "skating_ratio": 0.5}] * 3
    ref = mocap_reference(cfg, 5.0, EvalOptions(seconds=5.0, imitation=False, phymotion=False), base_rows,
                          max_windows=4)
    assert ref["windows"] == len(windows)
    assert ref["motion_magnitude"] > 0.05  # recorded dancing moves
    expected = np.mean([ref[k] / b for k, b in zip(PHYSICAL_ERRORS, (2.0, 10.0, 1.0, 0.5))])
    assert np.isclose(ref["physical_error"], expected)
    assert "imitation_reward" not in ref  # no simulator tracking for the reference

    comparison = {"pfc": {"a": {"mean_a": 2.0, "mean_b": 2.0, "diff": 0.0, "rel": 0.0, "ci": (0.0, 0.0), "p": 1.0,
                                "n": 3}}}
    md = markdown(comparison, ["a"], [], ref)
    row = next(line for line in md.splitlines() if line.startswith("| PFC"))
    assert "training mocap (reference)" in md and row.endswith(f"| {ref['pfc']:.4g} |")
