"""`make recipe-long`: pretrain the 1800-step base model (resumed: finishes a cut run, a no-op on a finished one), then
sweep the recipe on it; tune_configs/recipe_long.yaml is the demo recipe with only the base model changed."""
import shutil
import subprocess

import pytest

from dance_rl.config import load_config
from tests.conftest import REPO

LONG = REPO / "tune_configs" / "recipe_long.yaml"


def test_recipe_long_is_the_demo_recipe_on_the_long_base():
    long, demo = load_config(LONG), load_config(REPO / "tune_configs" / "recipe_demo.yaml")
    assert long.pretrain.steps == 1800 and long.pretrain.max_minutes == 0
    assert long.rl.base_checkpoint == ".cache/dance_rl/base_model/demo_long.pt"
    for section in ("rewards", "diffusion", "eval", "cluster"):
        assert getattr(long, section) == getattr(demo, section), section
    assert {k: v for k, v in vars(long.rl).items() if k != "base_checkpoint"} == \
        {k: v for k, v in vars(demo.rl).items() if k != "base_checkpoint"}
    assert long.tune.points == demo.tune.points
    # the sweep runs the recipe and its ablation without the anti-freezing term
    assert demo.rl.algorithm == "draft" and demo.rl.draft_motion_weight > 0
    assert {} in demo.tune.points and {"rl.draft_motion_weight": 0.0} in demo.tune.points
    for point in demo.tune.points:
        assert load_config(REPO / "tune_configs" / "recipe_demo.yaml", [f"{k}={v}" for k, v in point.items()])


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_target_resumes_the_pretraining_then_sweeps():
    out = subprocess.run(["make", "-n", "recipe-long"], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout
    lines = [ln for ln in out.splitlines() if "dance_rl." in ln]
    assert lines[0].endswith("-m dance_rl.pretrain --config tune_configs/recipe_long.yaml "
                             "--out .cache/dance_rl/base_model/demo_long.pt --resume")
    assert lines[1].endswith("-m dance_rl.tune --config tune_configs/recipe_long.yaml")


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_recipe_fetches_the_training_songs_once_then_trains(tmp_path):
    def planned(music):
        out = subprocess.run(["make", "-n", "recipe", f"TRAIN_MUSIC={music}"], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout
        return [ln for ln in out.splitlines() if "train_music.sh" in ln or "dance_rl." in ln]

    assert planned(tmp_path / "songs") == [f"scripts/train_music.sh {tmp_path / 'songs'}", ".venv/bin/python -m "
                                           "dance_rl.train --config tune_configs/recipe_demo.yaml --out runs/recipe"]
    (tmp_path / "songs").mkdir()
    assert planned(tmp_path / "songs") == [".venv/bin/python -m dance_rl.train --config tune_configs/recipe_demo.yaml "
                                           "--out runs/recipe"]
    # the recipe reads the songs from where the target puts them
    assert load_config(REPO / "tune_configs" / "recipe_demo.yaml").rl.music == ".cache/dance_rl/train_music"
