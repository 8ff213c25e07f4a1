"""Load an official EDGE checkpoint (``torch.save`` of {ema_state_dict, model_state_dict, optimizer_state_dict,
normalizer}) without importing EDGE and without unrestricted unpickling.

EDGE pickles its ``dataset.preprocess.Normalizer`` object, which holds a ``dataset.scaler.MinMaxScaler`` (EDGE's torch
port of sklearn's; some forks use sklearn's own). We load with ``torch.load(weights_only=True)`` and allowlist only
inert stand-in classes under those names: they accept a plain attribute dict and run no code, so a hostile file can at
most fill them with data. The normaliser is converted to :class:`dance_rl.motion.representation.Normalizer`
(``data_min_``/``data_max_`` define the same min-max map to [−1, 1]).

Model sizes are inferred from tensor shapes; the number of attention heads is not visible in shapes (EDGE uses 8).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dance_rl.diffusion.model import DanceDecoder, ModelSpec
from dance_rl.errors import UserError
from dance_rl.motion.representation import Normalizer

_SCALER_FIELDS = {"feature_range", "copy", "clip", "scale_", "min_", "n_samples_seen_", "data_min_", "data_max_",
                  "data_range_", "n_features_in_", "feature_names_in_", "_sklearn_version"}


class _StandIn:
    """Inert attribute bag: unpickling may only set the listed fields."""
    _fields: set = set()

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 2:  # (dict state, slot state)
            state = {**(state[0] or {}), **(state[1] or {})}
        if not isinstance(state, dict):
            raise TypeError(f"{type(self).__name__}: unexpected pickled state {type(state).__name__}")
        unknown = set(state) - self._fields
        if unknown:
            raise TypeError(f"{type(self).__name__}: unexpected fields {sorted(unknown)}")
        self.__dict__.update(state)


class EdgeNormalizerStandIn(_StandIn):
    _fields = {"scaler"}


class EdgeMinMaxScalerStandIn(_StandIn):
    _fields = _SCALER_FIELDS


_SAFE = [
    (EdgeNormalizerStandIn, "dataset.preprocess.Normalizer"),
    (EdgeMinMaxScalerStandIn, "dataset.scaler.MinMaxScaler"),
    (EdgeMinMaxScalerStandIn, "sklearn.preprocessing._data.MinMaxScaler"),
    (EdgeMinMaxScalerStandIn, "sklearn.preprocessing.data.MinMaxScaler"),
]


def _numpy_safe_globals() -> list:
    """numpy array reconstruction (sklearn scalers hold ndarrays); these globals only rebuild plain arrays."""
    out = [np.ndarray, np.dtype]
    try:
        from numpy._core.multiarray import _reconstruct  # numpy ≥ 2
        out.append((_reconstruct, "numpy.core.multiarray._reconstruct"))
        out.append((_reconstruct, "numpy._core.multiarray._reconstruct"))
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct
        out.append(_reconstruct)
    out += [type(np.dtype(t)) for t in ("float32", "float64", "int64")]
    return out


def safe_torch_load(path: str | Path, map_location="cpu"):
    """torch.load(weights_only=True) that also accepts EDGE's pickled normaliser (as inert stand-ins)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint '{path}': file not found; pass an existing .pt file")
    try:
        with torch.serialization.safe_globals(_SAFE + _numpy_safe_globals()):
            return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # corrupt file, or a global outside the allowlist
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"checkpoint '{path}': cannot be read safely ({first}); "
                        "pass a dance_rl or EDGE checkpoint") from None


def normalizer_from_edge(obj) -> Normalizer:
    """EDGE Normalizer / MinMaxScaler stand-in (or a dict with data_min_/data_max_) → our Normalizer."""
    scaler = getattr(obj, "scaler", obj)
    get = scaler.get if isinstance(scaler, dict) else (lambda k: getattr(scaler, k, None))
    lo, hi = get("data_min_"), get("data_max_")
    if lo is None or hi is None:
        raise UserError("checkpoint normaliser: missing data_min_/data_max_; the checkpoint is not an EDGE checkpoint")
    fr = get("feature_range")
    if fr is not None and tuple(float(v) for v in fr) != (-1.0, 1.0):
        raise UserError(f"checkpoint normaliser: feature_range {tuple(fr)} is not (-1, 1) as EDGE uses")
    as_t = lambda v: torch.as_tensor(np.asarray(v) if not torch.is_tensor(v) else v, dtype=torch.float32).cpu()
    return Normalizer(as_t(lo), as_t(hi))


def spec_from_state_dict(sd: dict, num_heads: int = 8, dropout: float = 0.1) -> ModelSpec:
    """Infer a ModelSpec from DanceDecoder tensor shapes."""
    try:
        d, nfeats = sd["input_projection.weight"].shape
        layers = {k.split(".")[2] for k in sd if k.startswith("seqTransDecoder.stack.")}
        return ModelSpec(nfeats=nfeats, seq_len=sd["null_cond_embed"].shape[1], latent_dim=d,
                         ff_size=sd["seqTransDecoder.stack.0.linear1.weight"].shape[0], num_layers=len(layers),
                         num_heads=num_heads, dropout=dropout, cond_dim=sd["cond_projection.weight"].shape[1])
    except KeyError as e:
        raise UserError(f"checkpoint: state dict lacks {e.args[0]!r}; it is not an EDGE DanceDecoder") from None


def strip_module_prefix(sd: dict) -> dict:
    """Multi-GPU EDGE runs save 'module.'-prefixed keys."""
    if sd and all(k.startswith("module.") for k in sd):
        return {k[len("module."):]: v for k, v in sd.items()}
    return dict(sd)


def model_from_state_dict(sd: dict, num_heads: int = 8) -> DanceDecoder:
    sd = strip_module_prefix(sd)
    spec = spec_from_state_dict(sd, num_heads=num_heads)
    if spec.latent_dim % num_heads:
        raise UserError(f"checkpoint: latent_dim {spec.latent_dim} is not divisible by num_heads={num_heads}")
    model = DanceDecoder(spec)
    try:
        model.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)
    except RuntimeError as e:
        raise UserError(f"checkpoint: weights do not match EDGE's DanceDecoder ({str(e).splitlines()[0]})") from None
    return model.eval()


def load_edge_checkpoint(path: str | Path, use_ema: bool = True, num_heads: int = 8,
                         map_location="cpu") -> tuple[DanceDecoder, Normalizer]:
    """EDGE checkpoint → (DanceDecoder in eval mode with strict-loaded weights, Normalizer)."""
    ckpt = safe_torch_load(path, map_location)
    key = "ema_state_dict" if use_ema else "model_state_dict"
    if not isinstance(ckpt, dict) or key not in ckpt:
        raise UserError(f"checkpoint '{path}': no '{key}' entry; expected an EDGE checkpoint "
                        "(keys ema_state_dict, model_state_dict, normalizer)")
    if "normalizer" not in ckpt:
        raise UserError(f"checkpoint '{path}': no 'normalizer' entry; EDGE checkpoints store the data normaliser")
    return model_from_state_dict(ckpt[key], num_heads=num_heads), normalizer_from_edge(ckpt["normalizer"])
