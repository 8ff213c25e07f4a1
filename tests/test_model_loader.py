"""The one model loader: every source resolves to the right file, cards carry the chain, foreign inputs fail with
one line naming what they are, and the guardrails' best checkpoint is what a run directory means."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from dance_rl.diffusion.checkpoint import RLFT_KIND, card_chain, load_model, resolve_source, save_checkpoint
from dance_rl.diffusion.model import DanceDecoder, ModelSpec
from dance_rl.errors import UserError
from dance_rl.motion.representation import Normalizer


def _base(path):
    torch.manual_seed(0)
    m = DanceDecoder(ModelSpec(latent_dim=16, ff_size=32, num_layers=1, num_heads=2, seq_len=30, dropout=0.0))
    save_checkpoint(path, model=m, ema=m, optimizer=None, normalizer=Normalizer(-torch.ones(151), torch.ones(151)),
                    config={"diffusion": {"ddim_steps": 7}, "data": {"source": "demo"}}, step=3)
    return m


def _rlft(path, base_model, iteration, shift, base_card, guardrails=None):
    sd = {k: v + shift for k, v in base_model.state_dict().items()}
    raw = {k: v + 2 * shift for k, v in base_model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"kind": RLFT_KIND, "iteration": iteration, "learner": {}, "spec": base_model.spec.to_dict(),
                "normalizer": Normalizer(-torch.ones(151), torch.ones(151)).state_dict(),
                "config": {"rl": {"ddim_steps": 4, "algorithm": "reinforce", "lr": 1e-4},
                           "rewards": {"imitation": {"weight": 0.5}, "fgd": {"weight": 0.0}}},
                "model": raw, "ema": sd, "base_card": base_card, "heldout": None, "guardrails": guardrails}, path)


def _first_weight(model):
    return next(iter(model.state_dict().values())).flatten()[0].item()


def test_every_source_resolves(tmp_path):
    base = _base(tmp_path / "base.pt")
    _, _, bcard = load_model(tmp_path / "base.pt")
    assert bcard["kind"] == "base" and bcard["sampling"]["steps"] == 7 and bcard["step"] == 3
    run = tmp_path / "runs" / "x"
    for it, shift in ((5, 0.1), (10, 0.2)):
        _rlft(run / "checkpoints" / f"iter_{it:05d}.pt", base, it, shift, bcard)
    w0 = _first_weight(base)
    m, _, card = load_model(run)  # run directory → latest
    assert card["kind"] == "rlft" and card["iterations"] == 10 and card["name"] == "x@10"
    assert _first_weight(m) == pytest.approx(w0 + 0.2)
    assert card["sampling"]["steps"] == 4 and card["reward_weights"] == {"imitation": 0.5}
    assert card_chain(card) == ["x@10 (rlft)", "base (base)"]
    m_raw, _, card_raw = load_model(run, use_ema=False)
    assert _first_weight(m_raw) == pytest.approx(w0 + 0.4) and card_raw["weights"] == "raw"
    # the guardrails' best checkpoint wins over the latest
    (run / "checkpoints" / "best.pt").write_bytes((run / "checkpoints" / "iter_00005.pt").read_bytes())
    assert resolve_source(run).name == "best.pt"
    # Tune trial directory and one checkpoint folder
    trial = tmp_path / "sweep" / "trial_0"
    for i, shift in ((0, 0.3), (1, 0.4)):
        _rlft(trial / f"checkpoint_{i:06d}" / "run.pt", base, 3 + i, shift, bcard)
    (trial / "params.json").write_text("{}")
    assert resolve_source(trial) == trial / "checkpoint_000001" / "run.pt"  # no held-out records: the latest
    # with records: the kept checkpoint of the best evaluation within the guardrails, not the latest kept one
    for i, it in enumerate((5, 10)):
        (trial / f"checkpoint_{i:06d}" / "heldout.json").write_text(json.dumps(
            {"iteration": it, "guardrails": {"ok": it == 5, "best_iteration": 5}}))
    assert resolve_source(trial) == trial / "checkpoint_000000" / "run.pt"
    (trial / "checkpoint_000001" / "heldout.json").write_text(json.dumps({"iteration": 10, "guardrails": {
        "best_iteration": 3}}))  # the best evaluation's checkpoint was not kept: the latest
    assert resolve_source(trial) == trial / "checkpoint_000001" / "run.pt"
    assert resolve_source(trial / "checkpoint_000000") == trial / "checkpoint_000000" / "run.pt"
    # sweep directory: best trial from report.json, then best_model.pt once exported
    (tmp_path / "sweep" / "report.json").write_text(json.dumps({"best_checkpoint": str(trial / "checkpoint_000000")}))
    assert resolve_source(tmp_path / "sweep") == trial / "checkpoint_000000" / "run.pt"


def test_music_cmn_travels_with_the_checkpoint_and_older_files_load_without_it(tmp_path):
    torch.manual_seed(0)
    m = DanceDecoder(ModelSpec(latent_dim=16, ff_size=32, num_layers=1, num_heads=2, seq_len=30, music_cmn=True))
    save_checkpoint(tmp_path / "cmn.pt", model=m, ema=m, optimizer=None,
                    normalizer=Normalizer(-torch.ones(151), torch.ones(151)), config={}, step=1)
    assert load_model(tmp_path / "cmn.pt")[0].spec.music_cmn is True
    ckpt = torch.load(tmp_path / "cmn.pt", weights_only=True)
    del ckpt["model_spec"]["music_cmn"]  # as demo_v2.pt and every file written before session 17
    torch.save(ckpt, tmp_path / "old.pt")
    assert load_model(tmp_path / "old.pt")[0].spec.music_cmn is False


def test_a_run_that_never_stayed_within_the_guardrails_is_not_handed_out(tmp_path):
    base = _base(tmp_path / "base.pt")
    run = tmp_path / "hacked"
    state = {"base_metrics": {}, "best_iteration": None, "best_score": None, "streak": 0,
             "history": [[15, False, ["motion_magnitude"]]]}
    _rlft(run / "checkpoints" / "iter_00015.pt", base, 15, 0.1, None, guardrails=state)
    with pytest.raises(UserError, match="within the guardrails.*motion_magnitude.*iter_N.pt"):
        load_model(run)
    assert load_model(run / "checkpoints" / "iter_00015.pt")[2]["iterations"] == 15  # explicit file: allowed


@pytest.mark.parametrize("make, what", [
    (lambda p: p.write_text("hello"), "cannot be read safely"),
    (lambda p: torch.save({"weights": torch.zeros(2)}, p), "a torch file with keys [weights]"),
    (lambda p: torch.save([1, 2], p), "a torch file holding a list"),
])
def test_foreign_files_fail_with_one_line(tmp_path, make, what):
    p = tmp_path / "thing.pt"
    make(p)
    with pytest.raises(UserError, match=f"thing.pt.*{what.replace('[', '.').replace(']', '.')}"):
        load_model(p)


def test_folders_that_are_not_models(tmp_path):
    with pytest.raises(UserError, match="not a run, Tune trial or sweep"):
        resolve_source(tmp_path)
    (tmp_path / "r" / "checkpoints").mkdir(parents=True)
    with pytest.raises(UserError, match="without checkpoints yet"):
        resolve_source(tmp_path / "r")
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "report.json").write_text(json.dumps({"best_checkpoint": None}))
    with pytest.raises(UserError, match="without a best trial"):
        resolve_source(tmp_path / "s")
    with pytest.raises(UserError, match="not found"):
        resolve_source(tmp_path / "missing")


def test_export_cli_writes_model_and_card_and_nothing_on_error(tmp_path):
    base = _base(tmp_path / "base.pt")
    _, _, bcard = load_model(tmp_path / "base.pt")
    _rlft(tmp_path / "runs" / "x" / "checkpoints" / "iter_00002.pt", base, 2, 0.1, bcard)
    out = tmp_path / "out" / "model.pt"
    r = subprocess.run([sys.executable, "-m", "dance_rl.export", "--from", str(tmp_path / "runs" / "x"), "--out",
                        str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    ck = torch.load(out, weights_only=True)
    assert ck["card"]["kind"] == "rlft" and ck["card"]["base"]["name"] == "base"
    m, _, card = load_model(out)
    assert _first_weight(m) == pytest.approx(_first_weight(base) + 0.1) and card["exported_from"].endswith("iter_00002.pt")
    assert "Made from:** x@2 (rlft) ← base (base)" in out.with_suffix(".md").read_text()
    assert json.loads(out.with_suffix(".json").read_text())["reward_weights"] == {"imitation": 0.5}
    bad = tmp_path / "bad.pt"
    bad.write_text("nope")
    r = subprocess.run([sys.executable, "-m", "dance_rl.export", "--from", str(bad), "--out",
                        str(tmp_path / "o2" / "m.pt")], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "bad.pt" in r.stderr
    assert not (tmp_path / "o2").exists()
    np.testing.assert_equal(r.stdout, "")
