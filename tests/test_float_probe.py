"""scripts/float_probe.py: which rewards pay for a rigid float (session 12's reward fixes, seen end to end)."""
import numpy as np
import pytest

from dance_rl.errors import cli_main
from tests.conftest import load_script


@pytest.fixture(scope="module")
def probe():
    return load_script("float_probe")


def test_raised_batch_is_motion_major_and_moves_only_height(probe):
    poses = np.random.default_rng(0).normal(size=(2, 5, 24, 3))
    trans = np.zeros((2, 5, 3))
    trans[1] = 1.0
    p, t = probe.raised_batch(poses, trans, [0.0, 0.1, -0.05])
    assert p.shape == (6, 5, 24, 3) and t.shape == (6, 5, 3)
    np.testing.assert_array_equal(p[3], poses[1])
    np.testing.assert_allclose(t[:, 0, 2], [0.0, 0.1, -0.05, 1.0, 1.1, 0.95])
    np.testing.assert_allclose(t[..., :2], np.repeat(trans[..., :2], 3, axis=0))


def _rows(out: str) -> dict:
    rows = [ln.strip("| ").split(" | ") for ln in out.splitlines() if ln.startswith("| ") and "---" not in ln][1:]
    return {r[0]: np.array([float(v) for v in r[1:]]) for r in rows}


def test_only_fgd_ground_moves_with_a_rigid_raise_and_the_ground_floor_pays(probe, capsys):
    assert cli_main(probe.main, ["--rewards", "skating,fgd_ground,phymotion", "--raise", "0", "0.1", "0.3"]) == 0
    t = _rows(capsys.readouterr().out)
    assert set(t) == {"skating", "fgd_ground", "phymotion"}
    assert np.ptp(t["skating"]) < 1e-4 and np.ptp(t["phymotion"]) < 1e-4          # RL's phymotion: floor=clip
    assert (np.diff(t["fgd_ground"]) < -0.2).all()
    # the world-plane floor (evaluation's) pays for floating: the penetration term has no floating counterpart
    assert cli_main(probe.main, ["--rewards", "phymotion", "--raise", "0", "0.1",
                                 "--set", "rewards.phymotion.floor=ground"]) == 0
    g = _rows(capsys.readouterr().out)["phymotion"]
    assert g[1] > g[0] + 1e-3


def test_errors_are_one_line(probe, capsys):
    assert cli_main(probe.main, ["--rewards", "nope"]) == 2
    assert cli_main(probe.main, ["--checkpoint", "x.pt"]) == 2
    assert cli_main(probe.main, ["--checkpoint", "x.pt", "--music", ".", "--clips", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and "unknown ['nope']" in err[0] and "--checkpoint needs --music" in err[1]
    assert "--clips 0" in err[2]


def test_runs_on_a_models_samples(probe, tiny_base, tmp_path, capsys):
    from dance_rl.music.synth import save_wav, synthesize_music
    from tests.conftest import smoke_overrides

    (tmp_path / "songs").mkdir()
    save_wav(tmp_path / "songs" / "s.wav", synthesize_music(None, 120.0, 6.0, sr=22050), 22050)
    sets = [x for o in smoke_overrides(tiny_base) for x in ("--set", o)]
    assert cli_main(probe.main, ["--checkpoint", tiny_base["checkpoint"], "--music", str(tmp_path / "songs"),
                                 "--rewards", "fgd_ground,skating", "--raise", "0", "0.2", *sets]) == 0
    out = capsys.readouterr().out
    assert "1 samples of" in out
    t = _rows(out)
    assert np.ptp(t["fgd_ground"]) > 1e-3 and np.ptp(t["skating"]) < 1e-4   # an untrained model: any height
