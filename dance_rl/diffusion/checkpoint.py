"""The one model loader: every place that needs a model from disk calls :func:`load_model`; nothing else reads
checkpoint dicts.

Sources it accepts (files are read with ``torch.load(weights_only=True)``):

- a dance_rl model file (``format`` = :data:`FORMAT`): written by ``pretrain`` (base model) and by ``export``
  (self-contained fine-tuned model, with its ``card``);
- an EDGE checkpoint (``ema_state_dict``, ``model_state_dict``, pickled ``normalizer``);
- an RLFT run checkpoint (``kind`` = :data:`RLFT_KIND`, ``runs/X/checkpoints/iter_N.pt`` or a Tune trial's ``run.pt``);
- a run directory (its ``checkpoints/best.pt``, the best held-out evaluation within the guardrails, else its latest
  ``checkpoints/iter_N.pt``), a Tune trial directory (of the ``checkpoint_*/run.pt`` Tune kept by the
  guardrail-penalised objective, the best evaluation's: `best_trial_checkpoint`) and a sweep directory (its
  ``best_model.pt``, else the best trial named in ``report.json``).

Every model comes with a *card*: a JSON-able dict saying what it is (kind, architecture, sampling settings, data,
reward weights and algorithm for fine-tuned models, held-out metrics when measured) and what it was made from
(``base``: the parent model's card, so fine-tuning a fine-tuned model records the chain).
"""
from __future__ import annotations

import json
from pathlib import Path

from dance_rl.diffusion.edge_checkpoint import load_edge_checkpoint, safe_torch_load
from dance_rl.diffusion.model import DanceDecoder, ModelSpec
from dance_rl.errors import UserError
from dance_rl.fileio import atomic_torch_save
from dance_rl.motion.representation import Normalizer

FORMAT = "dance_rl.diffusion.v1"
RLFT_KIND = "dance_rl.rlft"
RUN_CKPT_NAME = "iter_{:05d}.pt"      # runs/X/checkpoints/iter_N.pt
BEST_CKPT_NAME = "best.pt"            # runs/X/checkpoints/best.pt: the best held-out evaluation within the guardrails
TRIAL_CKPT_FILE = "run.pt"            # <trial>/checkpoint_*/run.pt
SWEEP_MODEL_FILE = "best_model.pt"    # <sweep>/best_model.pt, written by the sweep report
DEMO_CHECKPOINT_VERSION = 2  # bump when the demo recipe changes: part of the cached file name


def save_checkpoint(path, *, model: DanceDecoder, ema: DanceDecoder | None, optimizer, normalizer: Normalizer,
                    config: dict | None, step: int, history: list | None = None, card: dict | None = None) -> None:
    ckpt = {
        "format": FORMAT,
        "model_spec": model.spec.to_dict(),
        "model": model.state_dict(),
        "ema": (ema or model).state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "normalizer": normalizer.state_dict(),
        "config": config or {},
        "step": int(step),
        "history": history or [],
    }
    if card is not None:
        ckpt["card"] = card
    atomic_torch_save(ckpt, path)


def load_checkpoint(path) -> dict:
    """Read one of our base-model checkpoints (to resume pretraining); UserError with a fix if it is something else."""
    ckpt = safe_torch_load(path)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise UserError(f"checkpoint '{path}': {describe(ckpt)}, not a dance_rl base-model checkpoint; "
                        "train one with `python -m dance_rl.pretrain`")
    return ckpt


def is_edge_checkpoint(ckpt) -> bool:
    return isinstance(ckpt, dict) and "ema_state_dict" in ckpt and "normalizer" in ckpt


def describe(ckpt) -> str:
    """What a loaded file is, in words, for error messages."""
    if not isinstance(ckpt, dict):
        return f"a torch file holding a {type(ckpt).__name__}"
    if ckpt.get("format") == FORMAT:
        return "a dance_rl model file"
    if ckpt.get("kind") == RLFT_KIND:
        return "a dance_rl RLFT run checkpoint"
    if is_edge_checkpoint(ckpt):
        return "an EDGE checkpoint"
    keys = ", ".join(sorted(map(str, ckpt))[:6])
    return f"a torch file with keys [{keys}]"


# ---------------------------------------------------------------------------------------------------------- sources
def resolve_source(source) -> Path:
    """A file, run directory, Tune trial directory or sweep directory → the checkpoint file to load."""
    p = Path(source).expanduser()
    if p.is_file():
        return p
    if not p.is_dir():
        raise UserError(f"model '{source}': not found; pass a checkpoint file or a run, trial or sweep directory")
    if (p / SWEEP_MODEL_FILE).is_file():
        return p / SWEEP_MODEL_FILE
    if (p / TRIAL_CKPT_FILE).is_file():  # one Tune checkpoint folder (checkpoint_00000N)
        return p / TRIAL_CKPT_FILE
    if (p / "checkpoints" / BEST_CKPT_NAME).is_file():
        return p / "checkpoints" / BEST_CKPT_NAME
    run_ckpts = sorted((p / "checkpoints").glob("iter_*.pt"))
    if run_ckpts:
        return run_ckpts[-1]
    trial_ckpts = sorted(p.glob(f"checkpoint_*/{TRIAL_CKPT_FILE}"))
    if trial_ckpts:
        return best_trial_checkpoint(trial_ckpts)
    report = p / "report.json"
    if report.is_file():
        best = json.loads(report.read_text()).get("best_checkpoint")
        if best and (Path(best) / TRIAL_CKPT_FILE).is_file():
            return Path(best) / TRIAL_CKPT_FILE
        raise UserError(f"model '{source}': a sweep directory without a best trial checkpoint (no trial finished "
                        "within the guardrails); pass one trial's directory instead")
    if (p / "checkpoints").is_dir() or (p / "params.json").is_file():
        raise UserError(f"model '{source}': a run or trial directory without checkpoints yet; wait for the first "
                        "checkpoint or pass another model")
    raise UserError(f"model '{source}': a folder that is not a run, Tune trial or sweep directory; pass a checkpoint "
                    "file (.pt) or such a directory")


def best_trial_checkpoint(paths: list[Path]) -> Path:
    """Of a Tune trial's kept ``checkpoint_*/run.pt`` (sorted), the one of its best held-out evaluation within the
    guardrails, as the latest ``heldout.json`` names it (Tune keeps the top ``num_to_keep`` by the penalised objective,
    and the latest of those need not be the best); the latest when no record names one that is kept."""
    latest = paths[-1].parent / "heldout.json"
    best = (json.loads(latest.read_text()).get("guardrails") or {}).get("best_iteration") if latest.is_file() else None
    if best is not None:
        for q in paths:
            record = q.parent / "heldout.json"
            if record.is_file() and json.loads(record.read_text()).get("iteration") == best:
                return q
    return paths[-1]


def _refuse_if_never_within_guardrails(ckpt: dict, source) -> None:
    """A run directory whose latest checkpoint says no evaluation ever stayed within the guardrails names no model
    (the base model is the one to keep); the explicit iter_N.pt file still loads."""
    guard = ckpt.get("guardrails") or {}
    if guard.get("history") and guard.get("best_iteration") is None:
        raise UserError(f"model '{source}': no held-out evaluation of this run stayed within the guardrails "
                        f"(tripped: {sorted({m for h in guard['history'] for m in h[2]})}), so the base model is "
                        "the one to keep; pass a checkpoints/iter_N.pt file to use a fine-tuned one anyway")


def load_model(source, use_ema: bool = True) -> tuple[DanceDecoder, Normalizer, dict]:
    """Any supported source → (model in eval mode, normaliser, card). EMA weights unless ``use_ema=False``."""
    path = resolve_source(source)
    ckpt = safe_torch_load(path)
    weights = "ema" if use_ema else "raw"
    if is_edge_checkpoint(ckpt):
        model, normalizer = load_edge_checkpoint(path, use_ema=use_ema)
        card = {"kind": "edge", "name": path.stem, "source": str(path), "weights": weights,
                "model": model.spec.to_dict(), "config": {}, "step": None, "base": None,
                "sampling": {"steps": 50, "eta": 1.0, "guidance_weight": 2.0, "clip_denoised": True,
                             "timesteps": 1000, "spacing": "uniform"}}
        return model, normalizer, card
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT and ckpt.get("kind") != RLFT_KIND:
        raise UserError(f"model '{source}': {describe(ckpt)}, not a model; pass a dance_rl, RLFT or EDGE checkpoint "
                        "(or a run, trial or sweep directory)")
    if ckpt.get("kind") == RLFT_KIND:
        if path.name.startswith("iter_") and Path(source).expanduser().is_dir():
            _refuse_if_never_within_guardrails(ckpt, source)
        spec, norm_state, config = ckpt["spec"], ckpt["normalizer"], ckpt.get("config", {})
        card = rlft_card(ckpt, path)
    else:
        spec, norm_state, config = ckpt["model_spec"], ckpt["normalizer"], ckpt.get("config", {})
        card = dict(ckpt.get("card") or base_card(ckpt, path))
        card.update(source=str(path))
    model = DanceDecoder(ModelSpec(**spec))
    try:
        model.load_state_dict(ckpt["ema" if use_ema else "model"])
    except (KeyError, RuntimeError) as e:
        raise UserError(f"model '{source}': weights do not match the stored architecture ({str(e).splitlines()[0]})"
                        ) from None
    card.update(weights=weights, config=config, history=ckpt.get("history", []))
    return model.eval(), Normalizer.from_state_dict(norm_state), card


# ------------------------------------------------------------------------------------------------------------ cards
def sampling_settings(config: dict, rlft: bool = False) -> dict:
    """DDIM settings a model was trained (or fine-tuned) to be sampled with."""
    d = config.get("diffusion", {})
    steps = d.get("ddim_steps", 50)
    if rlft and config.get("rl", {}).get("ddim_steps"):
        steps = config["rl"]["ddim_steps"]
    return {"steps": int(steps), "eta": float(d.get("eta", 1.0)), "guidance_weight": float(d.get("guidance_weight", 2.0)),
            "clip_denoised": bool(d.get("clip_denoised", True)), "timesteps": int(d.get("timesteps", 1000)),
            "spacing": str(d.get("ddim_spacing", "uniform"))}


def base_card(ckpt: dict, path: Path) -> dict:
    """Card of a pretrained base model (a ``pretrain`` checkpoint)."""
    config = ckpt.get("config", {})
    return {"kind": "base", "name": path.stem, "source": str(path), "model": ckpt["model_spec"],
            "data": config.get("data", {}).get("source"), "step": ckpt.get("step"),
            "sampling": sampling_settings(config), "base": None}


def rlft_card(ckpt: dict, path: Path) -> dict:
    """Card of a fine-tuned model from an RLFT run checkpoint; ``base`` is the card of the model it started from."""
    config = ckpt.get("config", {})
    rl = config.get("rl", {})
    rewards = {k: v.get("weight", 0.0) for k, v in config.get("rewards", {}).items() if isinstance(v, dict)}
    return {"kind": "rlft", "name": f"{path.parent.parent.name}@{ckpt.get('iteration')}", "source": str(path), "model": ckpt["spec"],
            "data": config.get("data", {}).get("source"), "step": ckpt.get("iteration"),
            "iterations": ckpt.get("iteration"), "sampling": sampling_settings(config, rlft=True),
            "algorithm": {k: rl.get(k) for k in ("algorithm", "lr", "kl_weight", "clip_range", "conditions_per_iter",
                                                 "samples_per_condition", "ema_decay")},
            "reward_weights": {k: w for k, w in rewards.items() if w > 0},
            "heldout": ckpt.get("heldout"), "guardrails": ckpt.get("guardrails"),
            "base": ckpt.get("base_card")}


def load_run_checkpoint(path) -> dict:
    """An RLFT run checkpoint with its learner state (to resume a run or a Tune trial)."""
    ckpt = safe_torch_load(path)
    if not isinstance(ckpt, dict) or ckpt.get("kind") != RLFT_KIND:
        raise UserError(f"checkpoint '{path}': {describe(ckpt)}, not an RLFT run checkpoint; delete it or pick "
                        "another --out")
    return ckpt


def latest_run_checkpoint(ckpt_dir) -> Path | None:
    found = sorted(Path(ckpt_dir).glob("iter_*.pt"))
    return found[-1] if found else None


def card_chain(card: dict) -> list[str]:
    """['name (kind)', parent, grandparent, …] from a card's ``base`` links."""
    out, c = [], card
    while c:
        out.append(f"{c.get('name')} ({c.get('kind')})")
        c = c.get("base")
    return out


# ------------------------------------------------------------------------------------------------------ demo model
def demo_checkpoint_path(cache_dir: str | Path) -> Path:
    return Path(cache_dir) / "base_model" / f"demo_v{DEMO_CHECKPOINT_VERSION}.pt"
