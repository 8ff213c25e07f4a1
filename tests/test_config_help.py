"""Every config field is documented, and the docs reach users: --help-config on every CLI and dump_config comments."""
import dataclasses
import importlib
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dance_rl.config import config_fields, config_from_dict, dump_config, load_config

ROOT = Path(__file__).resolve().parents[1]
LEAVES = [key for key, _, tp in config_fields() if not dataclasses.is_dataclass(tp)]


def test_every_field_has_a_doc():
    undocumented = [key for key, f, _ in config_fields() if not f.metadata.get("doc", "").strip()]
    assert not undocumented, f"config fields without a doc: {undocumented}"
    assert len(LEAVES) > 100 and "rl.guardrails.patience" in LEAVES and "rewards.learned.checkpoint" in LEAVES


# every CLI that takes --config/--set (dance_rl.config.add_config_args); argv reaches the parser that has them
CLIS = [("dance_rl.tune", []), ("dance_rl.train", []), ("dance_rl.pretrain", []), ("dance_rl.evaluate", []),
        ("dance_rl.compare", []), ("dance_rl.reward_model", ["train"])]


@pytest.mark.parametrize("module, argv", CLIS)
def test_help_config_lists_every_key_and_exits_0(module, argv, capsys):
    with pytest.raises(SystemExit) as e:
        importlib.import_module(module).main(argv + ["--help-config"])  # before the CLI's required arguments
    assert e.value.code == 0
    out = capsys.readouterr().out
    listed = {line.split()[0] for line in out.splitlines() if line.startswith("  ") and not line.startswith("      ")}
    assert set(LEAVES) <= listed, f"missing from --help-config: {sorted(set(LEAVES) - listed)}"
    assert "\nrl: " in out and "\nsim: " in out  # grouped by section
    line = next(line for line in out.splitlines() if line.startswith("  rl.lr "))
    assert line.startswith("  rl.lr (float >= 0.0; default 1.0e-05): learner AdamW learning rate")


def test_help_config_from_the_command_line():
    proc = subprocess.run([sys.executable, "-m", "dance_rl.tune", "--help-config"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and "  tune.search_space (dict; default {})" in proc.stdout, proc.stderr


def test_dump_config_comments_every_field_and_loads_back():
    cfg = load_config(overrides=["tune.search_space={rewards.fgd.weight: {grid: [0.01, 0.49]}}", "rl.lr=3e-5",
                                 "cluster.address=ray://head:10001", "rl.adv_std_floor={imitation: 0.002}"])
    text = dump_config(cfg)
    loaded = yaml.safe_load(text)
    assert loaded == cfg.to_dict() and config_from_dict(loaded) == cfg
    comments = " ".join(line.strip()[2:] for line in text.splitlines() if line.strip().startswith("# "))
    for key, f, _ in config_fields():
        assert " ".join(f.metadata["doc"].split()) in comments, key
    lines = text.splitlines()
    assert lines[lines.index("  lr: 3.0e-05") - 1].strip().startswith("# learner AdamW learning rate")
