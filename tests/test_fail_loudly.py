"""MuJoCo is a hard dependency: a broken simulator import raises instead of quietly dropping or replacing terms."""
from __future__ import annotations

import re
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest
import tomllib
from packaging.specifiers import SpecifierSet

from dance_rl.cluster.learner import merge_scores
from dance_rl.eval import penetration, report
from dance_rl.motion.fk import joints_np
from dance_rl.motion.skeleton import UPRIGHT_ROOT_AA
from dance_rl.rewards import registry
from dance_rl.rewards.batch import MotionBatch
from dance_rl.rewards.phymotion import phymotion

ROOT = Path(__file__).resolve().parents[1]


def _standing(t=20):
    poses = np.zeros((t, 24, 3), np.float32)
    poses[:, 0] = UPRIGHT_ROOT_AA
    trans = np.zeros((t, 3), np.float32)
    trans[:, 2] = -joints_np(poses[:1], trans[:1])[0, :, 2].min()
    return poses, trans


@pytest.fixture
def broken_sim(monkeypatch):
    """Every dance_rl.sim module unimportable, as on a machine whose MuJoCo install is broken."""
    for name in ("dance_rl.sim.dynamics", "dance_rl.sim.humanoid", "dance_rl.sim.retarget", "dance_rl.sim.tracker",
                 "dance_rl.rewards.imitation"):
        monkeypatch.setitem(sys.modules, name, None)  # `import name` now raises ImportError


def test_phymotion_raises_without_the_simulator_and_falls_back_only_when_asked(broken_sim):
    poses, trans = _standing()
    with pytest.raises(ImportError):
        phymotion(MotionBatch(poses[None], trans[None], 30.0))
    proxy = phymotion(MotionBatch(poses[None], trans[None], 30.0), use_sim=False)  # the explicit setting
    assert proxy["diagnostics"]["sim_used"][0] == 0.0


def test_eval_scores_raise_instead_of_returning_nothing(broken_sim):
    poses, trans = _standing()
    for fn in (report.phymotion_scores, report.imitation_scores, penetration.capsule_pen_rate):
        with pytest.raises(ImportError):
            fn(poses, trans)
    with pytest.raises(ImportError):
        registry.get_reward("imitation")


def test_eval_scores_use_the_simulator():
    poses, trans = _standing()
    assert report.phymotion_scores(poses, trans)["phymotion_sim_used"] is True
    assert penetration.pen_rate(poses, trans, method="auto")["pen_method"] == "sim_capsules"


def _chunk(keys, diags):
    return {"keys": keys, "components": {"fgd": {"per_sample": np.ones(len(keys)), "per_frame": None,
                                                 "diagnostics": diags}}}


def test_merge_scores_concatenates_and_refuses_mismatched_chunks():
    a = _chunk([0, 1], {"penetration": np.array([0.1, 0.2]), "messages": ["", ""]})
    b = _chunk([2], {"penetration": np.array([0.3]), "messages": ["diverged"]})
    merged = merge_scores([a, b], [0, 1, 2])["fgd"]
    np.testing.assert_allclose(merged["diagnostics"]["penetration"], [0.1, 0.2, 0.3])
    assert list(merged["diagnostics"]["messages"]) == ["", "", "diverged"]
    with pytest.raises(RuntimeError, match="different diagnostics"):
        merge_scores([a, _chunk([2], {"penetration": np.array([0.3])})], [0, 1, 2])
    with pytest.raises(RuntimeError, match="cannot be merged"):
        merge_scores([a, _chunk([2], {"penetration": np.zeros((1, 2)), "messages": [""]})], [0, 1, 2])
    with pytest.raises(RuntimeError, match="out of order"):
        merge_scores([b, a], [0, 1, 2])


def test_installed_mujoco_satisfies_the_pin_and_has_batch():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    spec = next(re.sub(r"^mujoco", "", d) for d in deps if re.match(r"mujoco\b", d))
    assert SpecifierSet(spec).contains(version("mujoco")), f"mujoco {version('mujoco')} outside the pin {spec}"
    assert not SpecifierSet(spec).contains("3.3.0"), "the code needs mujoco.batch (MuJoCo 4): pin >= 4"
    from mujoco import batch
    assert hasattr(batch, "Batch")
