"""Issue 13's reward fixes, each on real demo mocap: graded self-collision, FGD per-frame signal, anti-freezing response.

Real mocap: the demo corpus's DeepMimic clips retargeted to SMPL-24 (dance_rl.data.demo), 5 s at 30 fps.
"""
from __future__ import annotations

import numpy as np
import pytest

from dance_rl.rewards.batch import MotionBatch
from dance_rl.rewards.corruptions import corrupt
from dance_rl.rewards.phymotion import phymotion_terms, self_collision_violation

SECONDS = 5.0


@pytest.fixture(scope="module")
def clips():
    demo = pytest.importorskip("dance_rl.data.demo")
    return {name: demo.clip_motion(demo.source_clip(name), seconds=SECONDS)
            for name in ("dance_a", "dance_b", "walk", "punch")}


def _levels(clip, name, levels):
    poses, trans = zip(*(corrupt(*clip, 30.0, name, s) for s in levels))
    return MotionBatch(np.stack(poses), np.stack(trans), fps=30.0)


# ----------------------------------------------------------------------------------------------- (b) self-collision
def test_self_collision_violation_is_graded_beyond_20_percent():
    pct = np.array([0.0, 2.0, 5.0, 11.0, 20.0, 40.0, 80.0, 160.0])
    graded, release = self_collision_violation(pct), self_collision_violation(pct, "release")
    assert graded[0] == graded[1] == 0.0 and graded[4] == pytest.approx(0.5)
    assert (np.diff(graded[1:]) > 0).all() and graded[-1] < 1.0  # strictly rising, never flat
    assert (release[4:] == 1.0).all()  # the release ramp: no signal past 20 %
    # same slope as the release ramp at the clean-mesh baseline
    assert self_collision_violation(np.array([2.01]))[0] == pytest.approx(0.01 / 18, rel=1e-3)


@pytest.mark.parametrize("name", ["dance_a", "dance_b", "punch"])
def test_more_self_penetration_lowers_the_kinematic_score(clips, name):
    """Arms pushed ever further into the torso: pct passes the release's 20 % saturation; the graded score keeps
    falling at every level, the release score goes flat (walk is left out: its arms pass through the torso at the
    largest levels, so its penetration stops growing)."""
    pytest.importorskip("dance_rl.sim.dynamics")
    batch = _levels(clips[name], "self_penetrate", (0.0, 0.3, 0.6, 0.9, 1.2, 1.5))
    axes, diag = phymotion_terms(batch)
    pct = diag["kin_self_collision_pct"]
    assert (np.diff(pct) > 0).all() and pct[-1] > 35.0, np.round(pct, 1)
    assert (np.diff(axes["kinematic"]) < 0).all(), np.round(axes["kinematic"], 4)
    rel_axes, _ = phymotion_terms(batch, self_collision="release")
    past = pct > 22.0
    assert np.ptp(rel_axes["kinematic"][past]) < np.ptp(axes["kinematic"][past]) / 3


def test_bad_self_collision_mode_is_a_user_error(clips):
    from dance_rl.errors import UserError

    with pytest.raises(UserError, match="self_collision"):
        phymotion_terms(_levels(clips["walk"], "float", (0.0,)), self_collision="clipped")
