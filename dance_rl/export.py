"""Export a fine-tuned model as one self-contained file with its model card.

    python -m dance_rl.export --from RUN_OR_TRIAL_OR_SWEEP_OR_CHECKPOINT --out model.pt [--no-ema]

Writes ``model.pt`` (a dance_rl model file: weights, architecture, normaliser, config, card; loadable with
``torch.load(weights_only=True)`` and by every command that takes a model) and beside it ``model.json`` and
``model.md``: the model card (base model chain, data, reward weights, algorithm, iterations, sampling settings and the
held-out metrics next to the base model's, with 95% CIs, as measured during training). Nothing is written unless the
source loads.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from dance_rl.errors import UserError, cli_main

# The card's held-out table: eval.paired.HEADLINE, then these.
CARD_EXTRAS = ("div_k", "bas", "imitation_reward", "phymotion", "pelvis_height", "knee_flexion")


def card_markdown(card: dict) -> str:
    from dance_rl.diffusion.checkpoint import card_chain
    from dance_rl.eval.paired import HEADLINE

    spec = card.get("model", {})
    lines = [f"# Model card: {card.get('name')}", "",
             f"- **Kind:** {card.get('kind')} ({card.get('weights', 'ema')} weights)",
             f"- **Made from:** {' ← '.join(card_chain(card))}",
             f"- **Architecture:** DanceDecoder, {spec.get('num_layers')} layers × {spec.get('latent_dim')} wide, "
             f"{spec.get('seq_len')}-frame windows at 30 fps, {spec.get('cond_dim')}-d music features",
             f"- **Data:** {card.get('data')}",
             f"- **Sampling:** {_kv(card.get('sampling', {}))}"]
    if card.get("kind") == "rlft" or card.get("reward_weights"):
        lines += [f"- **Fine-tuning:** {card.get('iterations')} iterations, {_kv(card.get('algorithm', {}))}",
                  f"- **Reward weights:** {_kv(card.get('reward_weights', {}))}"]
    held = card.get("heldout")
    if held:
        lines += ["", f"## Held-out evaluation (iteration {held.get('iteration')})", "", held.get("protocol", ""), "",
                  "| metric | base | this model | change | 95% CI of the difference | p |", "|---|---|---|---|---|---|"]
        for k in HEADLINE + CARD_EXTRAS:
            m = held["metrics"].get(k)
            if m is None:
                continue
            lines.append(f"| {k} | {_n(m['base'])} | {_n(m['model'])} | {_pct(m['rel'])} | "
                         f"[{_n(m['ci'][0])}, {_n(m['ci'][1])}] | {_n(m['p'])} |")
        g = held.get("guardrails")
        if g:
            lines += ["", f"Guardrails: {'all satisfied' if g.get('ok') else 'VIOLATED: ' + '; '.join(g.get('messages', []))}"]
    else:
        lines += ["", "No held-out evaluation recorded for this model (compare it: `python -m dance_rl.compare`)."]
    return "\n".join(lines) + "\n"


def _kv(d: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in d.items() if v is not None) or "–"


def _n(v) -> str:
    return "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.4g}"


def _pct(v) -> str:
    return "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:+.1%}"


def export_model(source, out: str | Path, use_ema: bool = True, extra: dict | None = None) -> list[Path]:
    """Load ``source`` with the one model loader and write ``out`` (.pt) + ``.json`` + ``.md``; returns the paths.
    ``extra`` is merged into the card (e.g. the sweep's selection reason)."""
    from dance_rl.diffusion.checkpoint import load_model, save_checkpoint
    from dance_rl.eval.report import jsonable
    from dance_rl.fileio import atomic_write

    out = Path(out)
    if out.suffix != ".pt":
        raise UserError(f"--out {out}: must end in .pt")
    if out.exists() and not out.is_file():
        raise UserError(f"--out {out}: exists and is not a file")
    model, normalizer, full = load_model(source, use_ema=use_ema)
    card = {k: v for k, v in full.items() if k not in ("config", "history")}
    card.update(extra or {})
    card["exported_from"] = card.get("source")
    card["source"] = str(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(out, model=model, ema=None, optimizer=None, normalizer=normalizer,
                    config=full.get("config", {}), step=card.get("step") or 0, card=card)
    written = [out]
    js = json.dumps(jsonable(card), indent=2) + "\n"
    written.append(atomic_write(out.with_suffix(".json"), lambda f: f.write(js), "w"))
    md = card_markdown(card)
    written.append(atomic_write(out.with_suffix(".md"), lambda f: f.write(md), "w"))
    return written


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m dance_rl.export", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--from", dest="source", required=True,
                   help="run directory, Tune trial directory, sweep directory, or a checkpoint file")
    p.add_argument("--out", required=True, help="model file to write (.pt); the card goes beside it (.json, .md)")
    p.add_argument("--no-ema", action="store_true", help="export the raw weights instead of the EMA weights")
    args = p.parse_args(argv)
    for path in export_model(args.source, args.out, use_ema=not args.no_ema):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(cli_main(main))
