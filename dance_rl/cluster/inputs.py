"""What a run starts from: the base model to fine-tune and the music windows it is conditioned on."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from dance_rl.cluster.common import state_to_numpy
from dance_rl.errors import UserError


def load_base_model(cfg, log=print) -> dict:
    """{"spec", "state_dict" (numpy), "normalizer", "path", "card"}: rl.base_checkpoint (any model source: a base,
    EDGE or exported file, an RLFT checkpoint, a run, trial or sweep directory), or the cached demo model."""
    from dance_rl.diffusion.checkpoint import load_model
    from dance_rl.diffusion.trainer import default_demo_checkpoint

    if cfg.rl.base_checkpoint:
        path = Path(cfg.rl.base_checkpoint).expanduser()
        if not path.exists():
            raise UserError(f"rl.base_checkpoint: {path} not found; pass a model file or a run, trial or sweep "
                            "directory, or '' for the built-in demo model")
    else:
        if not Path(cfg.data.cache_dir).joinpath("base_model").exists():
            log(f"training the demo base model once (cached under {cfg.data.cache_dir}/base_model) ...")
        path = default_demo_checkpoint(cfg.data.cache_dir)
    model, normalizer, card = load_model(path, use_ema=True)
    if model.spec.seq_len != cfg.data.window_frames:
        raise UserError(f"rl.base_checkpoint: the model generates {model.spec.seq_len} frames but data.window_frames is "
                        f"{cfg.data.window_frames}; set data.window_frames={model.spec.seq_len}")
    return {"spec": model.spec.to_dict(), "state_dict": state_to_numpy(model.state_dict()),
            "normalizer": normalizer.state_dict(), "path": card["source"], "card": _public_card(card)}


def _public_card(card: dict) -> dict:
    """The card without the bulky config and history (the chain keeps names, weights and metrics)."""
    return {k: v for k, v in card.items() if k not in ("config", "history")}


def load_conditions(cfg, split: str = "train", log=print) -> tuple[np.ndarray, list[str]]:
    """All music windows of ``split`` as (N, T, 35) features and their keys ``clip@start`` (the per-music key); for
    training, the windows of the songs in ``rl.music`` when set (with ``rl.music_with_corpus``, followed by the
    corpus's)."""
    if split == "train" and cfg.rl.music:
        from dance_rl.music.cache import folder_windows

        frames = cfg.data.window_frames
        music, keys = folder_windows(Path(cfg.rl.music).expanduser(), Path(cfg.data.cache_dir) / "features",
                                     frames, max(1, frames // 2))
        songs = len({k.rsplit("@", 1)[0] for k in keys})
        log(f"{len(keys)} music windows from {songs} songs in rl.music={cfg.rl.music}")
        if cfg.rl.music_shift > 0:
            music, keys = shift_timbre(music, keys, cfg.rl.music_shift, seed=cfg.rl.seed)
            log(f"{len(keys) // 2} of them with their MFCC and chroma shifted (rl.music_shift={cfg.rl.music_shift:g} SD)")
        if cfg.rl.music_with_corpus:
            corpus, corpus_keys = _corpus_windows(cfg, split, log)
            music, keys = np.concatenate([music, corpus]), [*keys, *corpus_keys]
        return music, keys
    return _corpus_windows(cfg, split, log)


def shift_timbre(music: np.ndarray, keys: list[str], sds: float, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """Every other window (N, T, 35) with a constant offset on its MFCC and chroma (channels 1-32): N(0, (sds x SD)^2)
    per channel, SD = the spread of the windows' means over the set. Onsets and beats are left as they are; shifted
    keys end in "~shift". Why: rl.music_shift."""
    from dance_rl.music.features import SPECTRAL

    out = np.array(music, dtype=np.float32, copy=True)
    sd = out[:, :, SPECTRAL].mean(axis=1).std(axis=0)
    rng = np.random.default_rng(seed)
    picked = np.arange(1, len(out), 2)
    out[picked, :, SPECTRAL] += (sds * sd * rng.standard_normal((len(picked), sd.size)))[:, None, :].astype(np.float32)
    return out, [f"{k}~shift" if i % 2 else k for i, k in enumerate(keys)]


def _corpus_windows(cfg, split: str, log) -> tuple[np.ndarray, list[str]]:
    from dance_rl.data.dataset import dataset_from_config
    from dance_rl.motion.representation import Normalizer

    # The normaliser is irrelevant for music; pass a dummy one so no motion statistics are computed.
    ds = dataset_from_config(cfg.data, split, normalizer=Normalizer(np.zeros(151), np.ones(151)))
    music = np.stack([ds.raw_item(i)[1].numpy() for i in range(len(ds))]).astype(np.float32)
    keys = [f"{cid}@{start}" for cid, start in (ds.window_info(i) for i in range(len(ds)))]
    log(f"{len(keys)} music windows ({split}) from {cfg.data.source}")
    return music, keys
