"""compare --pool: finished comparisons (one per music set) pooled into one paired table, clips of all sets resampled."""
import json

import pytest

from dance_rl.compare import main
from dance_rl.errors import cli_main
from dance_rl.eval.report import rows_to_csv


def _run(path, base_pfc, model_pfc, models=("base", "ft"), clips=4):
    """A compare folder as `compare` writes it (only compare.csv matters): per clip and seed, one row per model."""
    path.mkdir()
    rows = []
    for m, pfc in zip(models, (base_pfc, model_pfc)):
        rows += [{"model": m, "clip": f"song{c}@0s", "seed": s, "pfc": pfc + 0.1 * c, "pen_method": "sim_capsules"}
                 for c in range(clips) for s in range(2)]
    (path / "compare.csv").write_text(rows_to_csv(rows))
    return str(path)


def test_pool_pairs_samples_across_runs_and_resamples_every_runs_clips(tmp_path, capsys):
    a = _run(tmp_path / "set1", base_pfc=10.0, model_pfc=5.0)
    b = _run(tmp_path / "set2", base_pfc=10.0, model_pfc=9.0, clips=2)
    assert cli_main(main, ["--pool", a, b, "--out", str(tmp_path / "pooled"), "--n-boot", "200"]) == 0
    got = json.loads((tmp_path / "pooled" / "compare.json").read_text())
    pfc = got["metrics"]["pfc"]["ft"]
    # 8 samples at -5 and 4 at -1: the pooled mean is a sample-weighted mean, not the mean of the two runs' means
    assert pfc["n"] == 12 and pfc["diff"] == pytest.approx((8 * -5 + 4 * -1) / 12)
    assert got["clips"] == 6 and pfc["ci"][0] < pfc["diff"] < pfc["ci"][1] < 0
    assert "fid_k" not in got["metrics"] and "fgd" not in got["metrics"]  # set-level; not in these runs
    assert "6 music clips, 12 paired samples" in capsys.readouterr().out


@pytest.mark.parametrize("case, message", [
    ("baseline", "--pool {b}: its baseline is 'other', not 'base'; pool runs that share the first model"),
    ("missing", "--pool {b}: no compare.csv in it; give folders written by python -m dance_rl.compare"),
    ("no_common", "--pool: no model besides the baseline 'base' is in every run; compare the same models on every set"),
    ("models", "--pool and --models: pooling reads finished comparisons; give one or the other"),
])
def test_pool_refuses_runs_that_cannot_be_paired(tmp_path, capsys, case, message):
    a = _run(tmp_path / "set1", 10.0, 5.0)
    b = str(tmp_path / "set2")
    if case == "baseline":
        _run(tmp_path / "set2", 10.0, 5.0, models=("other", "ft"))
    elif case == "missing":
        (tmp_path / "set2").mkdir()
    else:
        _run(tmp_path / "set2", 10.0, 5.0, models=("base", "ft2"))
    extra = ["--models", "x.pt"] if case == "models" else []
    assert cli_main(main, ["--pool", a, b, "--out", str(tmp_path / "pooled"), *extra]) == 2
    assert capsys.readouterr().err.strip().splitlines() == ["error: " + message.format(b=b)]
    assert not (tmp_path / "pooled").exists()
