"""What an installed (non-editable) dance_rl needs ships inside the package: package-data names real files, and the
default sweep is one of them (tune_configs/demo.yaml is a link to it, not a second copy)."""
from pathlib import Path

import tomllib

from dance_rl.config import load_config
from dance_rl.tune import DEFAULT_CONFIG

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "dance_rl"


def _package_data() -> list[str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["dance_rl"]


def test_every_package_data_pattern_names_files():
    empty = [pattern for pattern in _package_data() if not list(PKG.glob(pattern))]
    assert not empty, f"pyproject package-data patterns that match nothing: {empty}"


def test_the_default_sweep_ships_in_the_package():
    assert DEFAULT_CONFIG.is_file() and DEFAULT_CONFIG.resolve().is_relative_to(PKG.resolve())
    assert any(DEFAULT_CONFIG.resolve() in {p.resolve() for p in PKG.glob(pat)} for pat in _package_data())
    assert load_config(DEFAULT_CONFIG).tune.name == "demo"


def test_tune_configs_demo_is_the_packaged_default():
    user_path = ROOT / "tune_configs" / "demo.yaml"
    assert user_path.resolve() == DEFAULT_CONFIG.resolve()  # a link: one file, nothing to keep in sync
    assert load_config(user_path) == load_config(DEFAULT_CONFIG)
