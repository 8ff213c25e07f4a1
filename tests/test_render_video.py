"""Skeleton frames (contact colouring, ground, TensorBoard shape), MP4/GIF writing with muxed music, render CLI."""
import subprocess
import sys

import numpy as np
import pytest

from dance_rl.errors import cli_main
from dance_rl.motion.fk import joints_np
from dance_rl.motion.io import Motion, save_motion
from dance_rl.motion.skeleton import UPRIGHT_ROOT_AA
from dance_rl.music.synth import save_wav, synthesize_music
from dance_rl.render import render_frames, write_video
from dance_rl.render.skeleton import COLORS, fit_camera, foot_contacts
from dance_rl.render.video import ffmpeg_exe


def _motion(T=20):
    poses = np.zeros((T, 24, 3), np.float32)
    poses[:, 0] = UPRIGHT_ROOT_AA
    poses[:, 18, 2] = np.linspace(0, 1.0, T)  # left elbow bends
    trans = np.zeros((T, 3), np.float32)
    trans[:, 2] = 0.93
    return Motion(poses, trans, 30.0)


def test_frames_shape_ground_and_contact_colours():
    m = _motion()
    joints = joints_np(m.poses, m.trans)
    contacts = np.zeros((len(joints), 4), bool)
    contacts[:, 0] = True  # left ankle (joint 7) in contact, right ankle (joint 8) not
    cam = fit_camera(joints, 160, 120)
    frames = render_frames(joints, contacts, camera=cam)
    assert frames.shape == (20, 120, 160, 3) and frames.dtype == np.uint8
    px, _ = cam.project(joints[5])
    lx, ly = np.round(px[7] - 0.5).astype(int)
    rx, ry = np.round(px[8] - 0.5).astype(int)
    np.testing.assert_array_equal(frames[5, ly, lx], COLORS["contact"])
    np.testing.assert_array_equal(frames[5, ry, rx], COLORS["foot"])
    # Sky at the top centre is bright and bluish, the ground plane under the feet is grey.
    top = frames[5, 1, 80].astype(int)
    assert top[2] > 200 and top[2] >= top[0]
    assert abs(int(frames[5, 118, 2, 0]) - int(frames[5, 118, 2, 2])) < 15


def test_foot_contacts_edge_rule():
    j = np.zeros((4, 24, 3))
    j[:, 7, 0] = [0.0, 0.005, 0.05, 0.05]  # left ankle: slow, fast, still
    c = foot_contacts(j)
    assert c[:, 0].tolist() == [True, False, True, True]  # last frame repeats the previous velocity


def test_render_frames_rejects_bad_input():
    with pytest.raises(ValueError):
        render_frames(np.zeros((3, 22, 3)))
    with pytest.raises(ValueError):
        render_frames(np.full((3, 24, 3), np.nan))


def _probe(path):
    out = subprocess.run([ffmpeg_exe(), "-i", str(path)], capture_output=True, text=True)
    return out.stderr


@pytest.mark.skipif(ffmpeg_exe() is None, reason="no ffmpeg binary")
def test_mp4_with_music_and_gif(tmp_path):
    frames = np.zeros((45, 63, 81, 3), np.uint8)  # odd sizes get padded for yuv420p
    frames[:, :, :, 0] = np.linspace(0, 255, 45, dtype=np.uint8)[:, None, None]
    wav = tmp_path / "song.wav"
    save_wav(wav, synthesize_music(None, 120.0, 3.0, 22050), 22050)
    out = write_video(frames, tmp_path / "v.mp4", 30.0, wav)
    info = _probe(out)
    assert "Video: h264" in info and "Audio: aac" in info
    assert "82x64" in info and "Duration: 00:00:01.5" in info  # cut to the shorter (video) stream
    import imageio.v3 as iio

    assert len(list(iio.imiter(out))) == 45
    gif = write_video(frames[:5], tmp_path / "v.gif", 10.0)
    assert len(list(iio.imiter(gif))) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.wav", "v.gif", "v.mp4"]  # no temp files left


def test_render_cli_and_errors(tmp_path, capsys):
    from dance_rl.render.__main__ import main

    motion = tmp_path / "m.npz"
    save_motion(_motion(12), motion)
    out = tmp_path / "m.gif"
    assert cli_main(main, ["--motion", str(motion), "--out", str(out), "--size", "64x48"]) == 0
    assert out.is_file()
    bad = tmp_path / "x.avi"
    assert cli_main(main, ["--motion", str(motion), "--out", str(bad)]) == 2
    assert cli_main(main, ["--motion", str(tmp_path / "none.npz"), "--out", str(tmp_path / "n.mp4")]) == 2
    assert cli_main(main, ["--motion", str(motion), "--out", str(tmp_path / "s.gif"), "--size", "big"]) == 2
    assert cli_main(main, ["--motion", str(motion), "--out", str(tmp_path / "a.mp4"),
                           "--audio", str(tmp_path / "missing.wav")]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 4 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.gif", "m.npz"]  # failed runs wrote nothing


@pytest.mark.slow  # starts a fresh interpreter that probes OpenGL backends (~10 s)
def test_mujoco_render_or_clear_message(tmp_path):
    motion = tmp_path / "m.npz"
    save_motion(_motion(6), motion)
    out = tmp_path / "body.gif"
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("MUJOCO_GL", "PYOPENGL_PLATFORM")}
    proc = subprocess.run([sys.executable, "-m", "dance_rl.render", "--motion", str(motion), "--out", str(out),
                           "--renderer", "mujoco", "--size", "96x64"], capture_output=True, text=True, env=env)
    if proc.returncode == 0:
        import imageio.v3 as iio

        frames = np.stack(list(iio.imiter(out)))
        assert frames.shape[0] == 6 and frames.std() > 5  # a real picture, not a blank frame
    else:
        assert proc.returncode == 2 and "no OpenGL backend" in proc.stderr and not out.exists()
