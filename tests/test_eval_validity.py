"""Each metric moves the right way on real mocap (demo DeepMimic clip) under the defect it is meant to catch."""
import numpy as np
import pytest

from dance_rl.data.demo import clip_motion, music_for_motion, source_clip
from dance_rl.eval import bas
from dance_rl.eval.penetration import capsule_pen_rate
from dance_rl.eval.physical import fgd, foot_skating_ratio, motion_magnitude, pfc
from dance_rl.eval.report import rot6d_from_axis_angle
from dance_rl.motion.fk import joints_np
from dance_rl.rewards.corruptions import corrupt


@pytest.fixture(scope="module")
def clip():
    return clip_motion(source_clip("dance_a"), seconds=5.0)


def _metric(poses, trans, name):
    j = joints_np(poses, trans)
    return {"pfc": lambda: pfc(j), "skate": lambda: foot_skating_ratio(j), "fgd_floor": lambda: fgd(j, 0.0)["fgd"],
            "magnitude": lambda: motion_magnitude(rot6d_from_axis_angle(poses)),
            "pen": lambda: capsule_pen_rate(poses, trans)["pen_rate"]}[name]()


@pytest.mark.parametrize("corruption,metric,severities", [
    ("slide", "pfc", (0.0, 0.5, 1.0)),
    ("slide", "skate", (0.0, 0.5, 1.0)),
    ("float", "fgd_floor", (0.0, 0.05, 0.1)),
    ("sink", "fgd_floor", (0.0, 0.05, 0.1)),
    ("self_penetrate", "pen", (0.0, 0.5, 1.0)),
])
def test_metric_worsens_with_severity(clip, corruption, metric, severities):
    values = [_metric(*corrupt(*clip, 30.0, corruption, s), metric) for s in severities]
    assert values[0] < values[1] < values[2], values


def test_frozen_motion_has_zero_magnitude(clip):
    poses, trans = clip
    values = [_metric(*corrupt(poses, trans, 30.0, "freeze", s), "magnitude") for s in (0.0, 0.5, 1.0)]
    assert values[0] > values[1] > values[2] == 0.0


def test_bas_prefers_the_clip_own_beats(clip):
    poses, trans = clip
    joints = joints_np(poses, trans)
    _, _, beat_times = music_for_motion(joints, 30.0, 5.0)  # the demo's music is built on the clip's kinetic beats
    beats60 = np.round(np.asarray(beat_times) * 60).astype(int)
    own = bas.motion_bas(joints, beats60)
    assert own > 0.8
    assert own > bas.motion_bas(joints, beats60 + 12) > 0.0  # 0.2 s late
