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
        return [ln for ln in out.splitlines() if "game_music.sh train" in ln or "dance_rl." in ln]

    assert planned(tmp_path / "songs") == [f"scripts/game_music.sh train {tmp_path / 'songs'}", ".venv/bin/python -m "
                                           "dance_rl.train --config tune_configs/recipe_demo.yaml --out runs/recipe"]
    (tmp_path / "songs").mkdir()
    assert planned(tmp_path / "songs") == [".venv/bin/python -m dance_rl.train --config tune_configs/recipe_demo.yaml "
                                           "--out runs/recipe"]
    # the recipe reads the songs from where the target puts them
    assert load_config(REPO / "tune_configs" / "recipe_demo.yaml").rl.music == ".cache/dance_rl/train_music"


GAME_MUSIC = REPO / "scripts" / "game_music.sh"


def _fake_debian(bin_dir):
    """`apt-get download PKG...` writes PKG.deb; `dpkg -x PKG.deb DIR` unpacks a few audio files per package (plus a
    readme that must not be copied), so the script's naming and folder logic run without a network."""
    bin_dir.mkdir()
    (bin_dir / "apt-get").write_text('#!/bin/sh\nshift\nfor p in "$@"; do touch "$p.deb"; done\n')
    (bin_dir / "dpkg").write_text(
        '#!/bin/sh\nroot="$3/usr/share/games"\ncase "$2" in\n'
        '  extremetuxracer-data.deb) mkdir -p "$root/etr/music"; echo a > "$root/etr/music/start 1.ogg";'
        ' echo r > "$root/etr/music/readme.txt" ;;\n'
        '  lincity-ng-data.deb) mkdir -p "$root/lincity-ng/music/default"; echo b > "$root/lincity-ng/music/default/x.ogg" ;;\n'
        '  warzone2100-music.deb) mkdir -p "$root/warzone2100/music/albums/one"; echo c > "$root/warzone2100/music/menu.opus";'
        ' echo d > "$root/warzone2100/music/albums/one/track1.opus" ;;\n'
        '  asc-music.deb) mkdir -p "$root/asc/music"; echo e > "$root/asc/music/strike.mp3" ;;\n'
        'esac\n')
    for f in bin_dir.iterdir():
        f.chmod(0o755)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_game_music_names_tracks_by_game_and_fills_the_folder_only_when_complete(tmp_path):
    _fake_debian(tmp_path / "bin")
    env = {"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin"}
    run = lambda *a: subprocess.run(["bash", str(GAME_MUSIC), *a], env=env, capture_output=True, text=True)  # noqa: E731
    out = tmp_path / "cache" / "train_music"
    assert run("train", str(out)).returncode == 0
    assert sorted(p.name for p in out.iterdir()) == ["etr__start_1.ogg", "lincity__x.ogg"]
    assert not (tmp_path / "cache" / "train_music.partial").exists()
    held = tmp_path / "h2"
    assert run("heldout2", str(held)).returncode == 0  # albums in subfolders keep their path in the name
    assert sorted(p.name for p in held.iterdir()) == ["asc__strike.mp3", "warzone2100__albums_one_track1.opus",
                                                      "warzone2100__menu.opus"]
    assert run("--help").stdout.startswith("usage: scripts/game_music.sh train|heldout|")
    bad = run("heldout9", str(tmp_path / "x"))
    assert bad.returncode == 2 and not (tmp_path / "x").exists()
    assert bad.stderr.strip().splitlines() == [
        "scripts/game_music.sh: set 'heldout9' is not one of train, heldout, heldout2, heldout3, heldout4, heldout5, heldout6; "
        "usage: scripts/game_music.sh train|heldout|heldout2|heldout3|heldout4|heldout5|heldout6 [OUT_DIR]"]
