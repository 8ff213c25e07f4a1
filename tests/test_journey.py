"""The user's journey end to end on the smoke config: pretrain a tiny model → fine-tune it → generate from the run
checkpoint, the run directory and the exported file → compare base vs fine-tuned → fine-tune the fine-tuned model
(the card records the chain) → sweep → best_model.pt with its card → generate from it. Every output is checked for
content, not just existence."""
import json
from pathlib import Path

import numpy as np
import pytest
import ray
import torch

from dance_rl.errors import cli_main
from tests.conftest import REPO

pytestmark = [pytest.mark.ray, pytest.mark.slow]
SMOKE = str(REPO / "tune_configs" / "smoke.yaml")
TINY_MODEL = ["model.latent_dim=32", "model.ff_size=64", "model.num_layers=1", "model.num_heads=2"]


def _run(module, argv):
    import importlib

    code = cli_main(importlib.import_module(f"dance_rl.{module}").main, [str(a) for a in argv])
    assert code == 0, f"{module} {argv} exited {code}"


def _sets(items):
    return [x for item in items for x in ("--set", item)]


def _generate(model, audio, out):
    _run("generate", ["--checkpoint", model, "--audio", audio, "--out", out, "--seconds", 6, "--steps", 3])
    npz = np.load(Path(out) / f"{Path(audio).stem}.npz")
    assert npz["poses"].shape == (180, 24, 3) and np.isfinite(npz["poses"]).all()
    return npz["poses"]


def test_from_pretraining_to_a_dance(tiny_base, tmp_path):
    data = [f"data.cache_dir={tiny_base['cache_dir']}", "data.max_clips=2"]
    base = tmp_path / "base.pt"
    _run("pretrain", ["--out", base, "--steps", 8, "--no-progress", *_sets(TINY_MODEL + data)])

    run = tmp_path / "runs" / "ft"
    _run("train", ["--config", SMOKE, "--out", run, *_sets(data + [f"rl.base_checkpoint={base}"])])
    ray.shutdown()
    ckpt = run / "checkpoints" / "iter_00002.pt"
    assert ckpt.is_file()
    audio = next(Path(tiny_base["cache_dir"]).rglob("*.wav"))

    # generate from the run checkpoint, the run directory and the exported file: the same EMA weights, same dance
    a = _generate(ckpt, audio, tmp_path / "gen_ckpt")
    b = _generate(run, audio, tmp_path / "gen_dir")
    _run("export", ["--from", run, "--out", tmp_path / "model.pt"])
    c = _generate(tmp_path / "model.pt", audio, tmp_path / "gen_export")
    np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(a, c, atol=1e-5)
    card = json.loads((tmp_path / "model.json").read_text())
    assert card["kind"] == "rlft" and card["iterations"] == 2 and card["base"]["kind"] == "base"
    assert card["reward_weights"]["imitation"] == 0.51 and card["heldout"]["metrics"]["pfc"]["base"] > 0
    md = (tmp_path / "model.md").read_text()
    assert "Held-out evaluation" in md and "← base (base)" in md
    assert torch.load(tmp_path / "model.pt", weights_only=True)["card"]["kind"] == "rlft"

    # paired comparison base vs fine-tuned
    out = tmp_path / "cmp"
    _run("compare", ["--models", base, run, "--music", "demo-test", "--seconds", 5, "--seeds", 2, "--num-clips", 2,
                     "--no-imitation", "--n-boot", 100, "--no-progress", "--out", out, *_sets(data)])
    res = json.loads((out / "compare.json").read_text())
    assert [m["name"] for m in res["models"]] == ["base", "ft@2"] and len(res["clips"]) == 2
    pfc = res["metrics"]["pfc"]
    assert pfc["base"]["diff"] == 0 and pfc["ft@2"]["n"] == 4
    assert len((out / "compare.csv").read_text().strip().splitlines()) == 1 + 2 * 4
    assert "| PFC ↓ |" in (out / "compare.md").read_text() and "training mocap (reference)" in (out / "compare.md").read_text()
    assert res["mocap_reference"]["motion_magnitude"] > 0 and res["mocap_reference"]["windows"] >= 2
    assert (out / "pareto.png").stat().st_size > 1000
    assert next(out.glob("side_by_side.*")).stat().st_size > 1000

    # fine-tune the fine-tuned model: the card records the chain base → ft → ft2
    run2 = tmp_path / "runs" / "ft2"
    _run("train", ["--config", SMOKE, "--out", run2, *_sets(data + [f"rl.base_checkpoint={run}", "rl.iterations=1"])])
    ray.shutdown()
    from dance_rl.diffusion.checkpoint import card_chain, load_model

    assert [s.split(" ")[1] for s in card_chain(load_model(run2)[2])] == ["(rlft)", "(rlft)", "(base)"]

    # sweep → best model with its card → a dance from it
    from dance_rl.config import load_config
    from dance_rl.tune import run_sweep

    cfg = load_config(SMOKE, data + [f"rl.base_checkpoint={base}"])
    try:
        results, report = run_sweep(cfg, str(tmp_path / "sweeps"), log=lambda *_: None)
    finally:
        ray.shutdown()
    exp = tmp_path / "sweeps" / "smoke"
    text = report.read_text()
    assert "| **base model** |" in text and "★" in text and "Better than the base model?" in text
    rows = json.loads((exp / "report.json").read_text())["rows"]
    assert sorted(r["swept"]["rewards.fgd.weight"] for r in rows) == [0.01, 0.49]
    for r in rows:
        held = r["heldout"]["metrics"]
        lo, hi = held["physical_error"]["ci"]
        assert lo <= held["physical_error"]["diff"] <= hi and held["motion_magnitude"]["model"] > 0
    best_card = json.loads((exp / "best_model.json").read_text())
    assert best_card["selected_by"].startswith("sweep smoke") and best_card["heldout"]
    assert next(exp.glob("best_vs_base.*")).stat().st_size > 1000
    _generate(exp, audio, tmp_path / "gen_sweep")  # the sweep directory resolves to best_model.pt
