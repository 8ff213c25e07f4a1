"""`python -m dance_rl.evaluate`: report contents, music matching, SMPL-mesh Pen. rate, errors without partial output."""
import csv
import json

import numpy as np
import pytest

from dance_rl.errors import cli_main
from dance_rl.evaluate import find_music, main
from dance_rl.motion.io import Motion, save_motion
from dance_rl.motion.skeleton import UPRIGHT_ROOT_AA
from dance_rl.music.synth import save_wav, synthesize_music


def _motion(seed, T=90, amp=0.3, audio=None):
    r = np.random.default_rng(seed)
    t = np.arange(T)[:, None] / 30.0
    poses = np.zeros((T, 24, 3), np.float32)
    poses[:, 0] = UPRIGHT_ROOT_AA
    poses[:, 1:] = (amp * np.sin(2 * np.pi * r.uniform(0.5, 2, (23, 3)).reshape(1, -1) * t
                                 + r.uniform(0, 6, (1, 69)))).reshape(T, 23, 3)
    trans = np.zeros((T, 3), np.float32)
    trans[:, 2] = 0.93
    trans[:, 0] = 0.1 * np.sin(t[:, 0])
    return Motion(poses, trans, 30.0, audio=audio)


def _folders(tmp_path, n=3, audio=None):
    gen, ref = tmp_path / "gen", tmp_path / "ref"
    gen.mkdir()
    ref.mkdir()
    for i in range(n):
        save_motion(_motion(i, audio=audio), gen / f"g{i}.npz")
        save_motion(_motion(100 + i, amp=0.2), ref / f"r{i}.npz")
    return gen, ref


def test_evaluate_writes_json_csv_and_table(tmp_path, capsys):
    gen, ref = _folders(tmp_path)
    out = tmp_path / "rep" / "report.json"
    rc = cli_main(main, ["--motions", str(gen), "--reference", str(ref), "--out", str(out), "--pen", "capsule",
                         "--no-imitation"])
    assert rc == 0
    rep = json.loads(out.read_text())
    g, r = rep["generated"], rep["reference"]
    assert g["count"] == 3 and r["count"] == 3
    for key in ("fid_k", "fid_g", "div_k", "div_g", "pfc", "fgd", "fgd_floor", "skating_ratio", "motion_magnitude",
                "pen_rate", "phymotion"):
        assert g[key] is not None and np.isfinite(g[key]), key
    assert g["bas"] is None and g["bas_count"] == 0  # no music given
    assert g["pen_method"] == "sim_capsules" and rep["notes"]["pen_comparable_with_papers"] is False
    assert r["div_k"] is not None and "fid_k" not in r
    rows = list(csv.DictReader(open(out.with_suffix(".csv"))))
    assert [row["name"] for row in rows] == ["g0.npz", "g1.npz", "g2.npz", "r0.npz", "r1.npz", "r2.npz"]
    assert float(rows[0]["frames"]) == 90
    # The set PFC is the mean of the per-motion ×10⁴ values.
    assert g["pfc"] == pytest.approx(np.mean([float(x["pfc"]) for x in rows[:3]]))
    printed = capsys.readouterr().out
    assert "| set | FID_k |" in printed and "| generated (3) |" in printed


def test_evaluate_errors_leave_no_output(tmp_path, capsys):
    gen, ref = _folders(tmp_path, n=2)
    out = tmp_path / "report.json"
    assert cli_main(main, ["--motions", str(gen), "--reference", str(tmp_path / "nope"), "--out", str(out)]) == 2
    (gen / "broken.npz").write_bytes(b"not a zip")
    assert cli_main(main, ["--motions", str(gen), "--reference", str(ref), "--out", str(out)]) == 2
    (gen / "broken.npz").unlink()
    assert cli_main(main, ["--motions", str(gen), "--reference", str(ref), "--out", str(tmp_path / "r.txt")]) == 2
    assert cli_main(main, ["--motions", str(gen), "--reference", str(ref), "--out", str(out), "--pen", "mesh"]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 4 and "Traceback" not in err
    assert not out.exists() and not list(tmp_path.glob("*.csv")) and not list(tmp_path.glob(".*tmp"))


def test_find_music_order(tmp_path):
    music = tmp_path / "music"
    music.mkdir()
    for name in ("song.wav", "gBR_sBM_cAll_d04_mBR0_ch01.wav", "mBR0.mp3", "other.wav"):
        (music / name).write_bytes(b"x")
    motion = tmp_path / "gBR_sBM_cAll_d04_mBR0_ch01.npz"
    assert find_music(motion, None, music) == music / "gBR_sBM_cAll_d04_mBR0_ch01.wav"  # stem first
    assert find_music(tmp_path / "gen_mBR0_3.npz", None, music) == music / "mBR0.mp3"  # AIST++ music id
    assert find_music(motion, "/elsewhere/song.wav", music) == music / "song.wav"  # audio field's name in --music
    assert find_music(motion, str(music / "other.wav"), None) == music / "other.wav"  # audio field as a path
    assert find_music(tmp_path / "x.npz", None, music) is None


@pytest.mark.slow  # librosa beat tracking + the simulator's tracking controller
def test_evaluate_with_music_mesh_pen_and_imitation(tmp_path):
    from test_eval_penetration import write_fake_smpl

    wav = tmp_path / "beat.wav"
    save_wav(wav, synthesize_music(None, 120.0, 4.0, 22050), 22050)
    gen, ref = _folders(tmp_path, n=2, audio=str(wav))
    smpl = tmp_path / "smpl"
    smpl.mkdir()
    write_fake_smpl(smpl)
    out = tmp_path / "report.json"
    rc = cli_main(main, ["--motions", str(gen), "--reference", str(ref), "--out", str(out),
                         "--set", f"eval.smpl_dir={smpl}", "--set", "eval.seconds=2"])
    assert rc == 0
    rep = json.loads(out.read_text())
    g = rep["generated"]
    assert g["bas_count"] == 2 and 0.0 <= g["bas"] <= 1.0
    assert g["pen_method"] == "smpl_mesh" and rep["notes"]["pen_comparable_with_papers"] is True
    assert g["imitation_success"] in (0.0, 0.5, 1.0) and 0.0 <= g["imitation_reward"] <= 1.0
    assert all(m["frames"] == 60 for m in rep["motions"])
