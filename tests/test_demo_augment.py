"""Demo-corpus augmentation (mirror, yaw, tempo warp, looping) and beat-matched music."""
from __future__ import annotations

import numpy as np
import pytest

from dance_rl.data import demo
from dance_rl.motion.fk import joints_np
from dance_rl.motion.skeleton import MIRROR_INDEX, OFFSETS

REFLECT = np.array([-1.0, 1.0, 1.0])


@pytest.fixture(scope="module")
def walk():
    return demo.source_clip("walk")


@pytest.fixture(scope="module")
def dance():
    return demo.clip_motion(demo.source_clip("dance_a"), seconds=3.0)


def test_mirror_is_an_involution(dance):
    poses, trans = dance
    p2, t2 = demo.mirror_motion(*demo.mirror_motion(poses, trans))
    np.testing.assert_array_equal(p2, poses)
    np.testing.assert_array_equal(t2, trans)


def test_mirror_reflects_joint_positions(dance):
    """With left/right-symmetric bones, FK of the mirrored motion is the reflected FK with sides swapped."""
    sym = (OFFSETS + OFFSETS[list(MIRROR_INDEX)] * REFLECT) / 2
    poses, trans = dance
    j = joints_np(poses, trans, offsets=sym)
    jm = joints_np(*demo.mirror_motion(poses, trans), offsets=sym)
    np.testing.assert_allclose(jm, (j * REFLECT)[:, list(MIRROR_INDEX)], atol=1e-5)
    assert np.abs(j[:, 1, 0] - jm[:, 1, 0]).max() > 0.05  # it did change something


def test_yaw_preserves_heights_and_rotates_xy(dance):
    poses, trans = dance
    j = joints_np(poses, trans)
    angle = 1.1
    jr = joints_np(*demo.rotate_yaw(poses, trans, angle))
    np.testing.assert_allclose(jr[..., 2], j[..., 2], atol=1e-5)
    c, s = np.cos(angle), np.sin(angle)
    np.testing.assert_allclose(jr[..., 0], c * j[..., 0] - s * j[..., 1], atol=1e-5)
    np.testing.assert_allclose(jr[..., 1], s * j[..., 0] + c * j[..., 1], atol=1e-5)


def test_tempo_warp_resamples_time(walk):
    """speed=2 frame k is speed=1 frame 2k (same source time); the floor offset may differ by a few mm."""
    p1, t1 = demo.clip_motion(walk, speed=1.0, seconds=4.0)
    p2, t2 = demo.clip_motion(walk, speed=2.0, seconds=2.0)
    np.testing.assert_allclose(p2, p1[::2], atol=1e-4)
    np.testing.assert_allclose(t2[:, :2], t1[::2, :2], atol=1e-4)
    assert np.abs((t2[:, 2] - t1[::2, 2]) - (t2[0, 2] - t1[0, 2])).max() < 1e-4
    assert len(demo.clip_motion(walk, speed=1.15, seconds=5.0)[0]) == 150


def test_looping_reaches_length_without_jumps(walk):
    poses, trans = demo.clip_motion(walk, seconds=8.0)
    assert poses.shape == (240, 24, 3)
    j = joints_np(poses, trans)
    step = np.linalg.norm(np.diff(j, axis=0), axis=-1).max(axis=-1)
    cycle = int(round(walk.duration * 30))
    assert step.max() < 2.0 * np.median(step) + 0.05  # no seam glitch
    assert step[cycle - 2:cycle + 2].max() < 1.5 * step[: cycle - 2].max()
    assert np.linalg.norm(trans[-1, :2] - trans[0, :2]) > 7.0  # ~1 m/s carried across 6 loops


def test_music_follows_the_motions_beats(dance):
    from dance_rl.music.beats import beats_from_motion

    j = joints_np(*dance)
    audio, bpm, beats = demo.music_for_motion(j, 30.0, 3.0, sr=demo.SAMPLE_RATE, seed=1)
    assert audio.shape == (3 * demo.SAMPLE_RATE,) and np.isfinite(audio).all()
    np.testing.assert_allclose(beats, beats_from_motion(j, 30.0))
    assert bpm == pytest.approx(np.clip(60.0 / np.median(np.diff(beats)), *demo.BPM_RANGE))
    # The kick lands on every beat: the signal is loud right after each beat time.
    for b in beats[:4]:
        i = int(b * demo.SAMPLE_RATE)
        assert np.abs(audio[i:i + 400]).max() > 0.2


def test_speed_out_of_range_is_a_user_error(walk):
    from dance_rl.errors import UserError

    with pytest.raises(UserError, match="speed"):
        demo.clip_motion(walk, speed=0.0)
