import pytest
import yaml

from dance_rl.config import Config, apply_dotted, load_config
from dance_rl.errors import UserError


def test_defaults_are_demo_preset_and_paper_weights():
    cfg = load_config()
    assert isinstance(cfg, Config)
    assert (cfg.model.latent_dim, cfg.model.num_layers) == (128, 2)
    assert (cfg.rewards.imitation.weight, cfg.rewards.antifreeze.weight, cfg.rewards.fgd.weight) == (0.51, 0.49, 0.01)


def test_yaml_then_overrides(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump({"rl": {"lr": "1e-6", "iterations": 7}, "model": {"preset": "edge", "num_layers": 3}}))
    cfg = load_config(p, ["rl.iterations=9", "rewards.fgd.weight=0.25"])
    assert cfg.rl.lr == pytest.approx(1e-6)  # YAML 1.1 reads 1e-6 as a string; accepted for float fields
    assert cfg.rl.iterations == 9
    assert cfg.rewards.fgd.weight == 0.25
    # preset fills the sizes that were not set explicitly
    assert (cfg.model.latent_dim, cfg.model.num_heads, cfg.model.num_layers) == (512, 8, 3)


@pytest.mark.parametrize("override, fragment", [
    ("rl.lrr=1", "'rl.lrr' is unknown"),
    ("rl.lr=abc", "expected a number"),
    ("diffusion.eta=2", "above the maximum"),
    ("rl.iterations=-1", "below the minimum"),
    ("model.preset=huge", "not one of"),
    ("rl.iterations=1.5", "expected an integer"),
    ("diffusion.clip_denoised=3", "true/false"),
    ("rl.lag=true", "ppo_clip"),
    ("model.num_heads=3", "must divide"),
    ("norequal", "KEY=VALUE"),
])
def test_bad_values_name_the_key(override, fragment):
    with pytest.raises(UserError, match=fragment):
        load_config(overrides=[override])


def test_missing_and_bad_yaml(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("rl: [1, 2")
    with pytest.raises(UserError, match="not valid YAML"):
        load_config(bad)


def test_apply_dotted_keeps_explicit_sizes_and_validates():
    cfg = load_config(overrides=["model.latent_dim=64", "model.num_heads=2"])
    out = apply_dotted(cfg, {"rewards.imitation.weight": 0.3})
    assert out.rewards.imitation.weight == 0.3 and out.model.latent_dim == 64
    assert cfg.rewards.imitation.weight == 0.51  # original untouched
    with pytest.raises(UserError):
        apply_dotted(cfg, {"rewards.imitation.weight": -1})


def test_apply_dotted_preset_change_keeps_sizes_set_in_the_same_call():
    from dance_rl.config import MODEL_PRESETS

    cfg = load_config()
    edge = apply_dotted(cfg, {"model.preset": "edge"})
    assert edge.model.num_layers == MODEL_PRESETS["edge"]["num_layers"] != 4
    point = apply_dotted(cfg, {"model.preset": "edge", "model.num_layers": 4})  # a Tune point
    assert point.model.num_layers == 4 and point.model.latent_dim == MODEL_PRESETS["edge"]["latent_dim"]


def test_train_uses_first_search_point_but_command_line_wins():
    from pathlib import Path

    from dance_rl.train import load_run_config

    demo = Path(__file__).resolve().parents[1] / "tune_configs" / "demo.yaml"
    cfg = load_run_config(demo, [])
    assert cfg.rewards.fgd.weight == 0.01 and cfg.rewards.antifreeze.weight == 0.49  # first grid point
    cfg = load_run_config(demo, ["rewards.antifreeze.weight=0"])
    assert cfg.rewards.antifreeze.weight == 0.0 and cfg.rewards.fgd.weight == 0.01
    cfg = load_run_config(demo, ["rewards.fgd={weight: 0.2}"])
    assert cfg.rewards.fgd.weight == 0.2


def test_a_tune_point_that_changes_the_preset_keeps_its_explicit_sizes():
    from dance_rl.sweep import POINT_KEY, trial_config

    base = load_config(overrides=["tune.points=[{model.preset: edge, model.num_layers: 4}, {model.preset: edge}]"])
    four = trial_config(base.to_dict(), {POINT_KEY: 0})
    assert (four.model.num_layers, four.model.latent_dim, four.model.dropout) == (4, 512, 0.1)
    assert trial_config(base.to_dict(), {POINT_KEY: 1}).model.num_layers == 8


def test_model_spec_and_config_share_one_preset_table():
    from dance_rl.config import MODEL_PRESETS, ModelConfig
    from dance_rl.diffusion.model import ModelSpec

    for name in MODEL_PRESETS:
        cfg = load_config(overrides=[f"model.preset={name}"])
        assert ModelSpec.preset(name) == ModelSpec.from_config(cfg.model)
    assert ModelSpec() == ModelSpec.from_config(ModelConfig())  # the defaults are the config's
    spec = ModelSpec.from_config(load_config(overrides=["model.cond_dim=4800", "model.dropout=0.3"]).model)
    assert (spec.cond_dim, spec.dropout, spec.music_cmn) == (4800, 0.3, False)
    assert ModelSpec.from_config(load_config(overrides=["model.music_cmn=true"]).model).music_cmn
    with pytest.raises(UserError, match="model.music_cmn.*cond_dim=4800; set model.music_cmn=false"):
        load_config(overrides=["model.cond_dim=4800", "model.music_cmn=true"])
