"""``python -m dance_rl.reward``: values equal the library's, errors are one line with exit code 2."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from dance_rl.errors import cli_main
from dance_rl.motion.io import Motion, save_motion
from dance_rl.motion.skeleton import UPRIGHT_ROOT_AA
from dance_rl.reward import main
from dance_rl.rewards.antifreeze import antifreeze
from dance_rl.rewards.batch import MotionBatch
from dance_rl.rewards.fgd import fgd_ground


def _motion(t=40):
    rng = np.random.default_rng(0)
    poses = np.zeros((t, 24, 3), np.float32)
    poses[:, 0] = UPRIGHT_ROOT_AA
    poses[:, 1:] = 0.2 * np.sin(np.linspace(0, 6, t))[:, None, None] * rng.normal(size=(1, 23, 3))
    trans = np.zeros((t, 3), np.float32)
    trans[:, 2] = 0.9
    return Motion(poses=poses, trans=trans, fps=30.0)


@pytest.fixture()
def motion_file(tmp_path):
    return save_motion(_motion(), tmp_path / "clip.npz")


def test_json_values_match_library(motion_file, capsys):
    assert main(["--motion", str(motion_file), "--json", "--rewards", "fgd_ground,antifreeze",
                 "--param", "fgd_ground.ground=0.05", "--per-frame"]) == 0
    report = json.loads(capsys.readouterr().out)
    m = _motion()
    batch = MotionBatch(m.poses[None], m.trans[None])
    assert report["frames"] == 40 and set(report["rewards"]) == {"fgd_ground", "antifreeze"}
    assert report["rewards"]["fgd_ground"]["value"] == pytest.approx(fgd_ground(batch, ground=0.05)["per_sample"][0])
    assert report["rewards"]["antifreeze"]["value"] == pytest.approx(antifreeze(batch)["per_sample"][0])
    assert len(report["rewards"]["fgd_ground"]["per_frame"]) == 40
    assert "kinetic_energy" in report["rewards"]["antifreeze"]["diagnostics"]


def test_table_lists_every_component(motion_file, capsys):
    assert main(["--motion", str(motion_file), "--rewards", "fgd,skating,phymotion",
                 "--param", "phymotion.use_sim=false"]) == 0
    out = capsys.readouterr().out
    for name in ("fgd", "skating", "phymotion", "kinematic", "con_balance_violation"):
        assert name in out


@pytest.mark.parametrize("args,needle", [
    (["--rewards", "nope"], "not registered"),
    (["--param", "fgd"], "REWARD.ARG=VALUE"),
    (["--param", "antifreeze.window=2", "--rewards", "fgd"], "no weight"),
    (["--param", "fgd.foo=1", "--rewards", "fgd"], "unknown ['foo']"),
    (["--param", "phymotion.floor=sky", "--param", "phymotion.use_sim=false", "--rewards", "phymotion"], "floor"),
])
def test_bad_arguments_exit_2(motion_file, capsys, args, needle):
    assert cli_main(main, ["--motion", str(motion_file)] + args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and needle in err[0]


def test_bad_files_exit_2_with_one_line(tmp_path, capsys):
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file at all")
    one_frame = save_motion(_motion(1), tmp_path / "one.npz")
    before = sorted(tmp_path.iterdir())
    for path in (garbage, one_frame, tmp_path / "missing.npz"):
        assert cli_main(main, ["--motion", str(path), "--rewards", "fgd"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and str(path) in err[0], err
    assert sorted(tmp_path.iterdir()) == before  # nothing written


def test_module_entry_point(tmp_path):
    garbage = tmp_path / "bad.npz"
    garbage.write_bytes(b"\x00" * 10)
    proc = subprocess.run([sys.executable, "-m", "dance_rl.reward", "--motion", str(garbage)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and proc.stdout == ""
