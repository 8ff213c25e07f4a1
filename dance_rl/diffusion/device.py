"""Where a model runs and in which precision: one place for every CLI, the trainer and the Ray roles.

- ``--device auto|cpu|cuda|cuda:N``: ``auto`` is CUDA when this process sees a GPU, else the CPU. Asking for CUDA on a
  machine without it is a user error (one line, exit 2), never a silent fall-back.
- ``--precision auto|off|bf16|fp16``: ``auto`` is bf16 on a GPU that supports it, fp16 (with a gradient scaler) on an
  older GPU, and off (float32) on the CPU. bf16 on the CPU is allowed (that is how the tests check the drift bound).

Autocast only changes the dtype of matmul-like ops; the sampler's Gaussian arithmetic (x_t, μ, σ, log-probs) stays in
float32 because it mixes the model output with float32 latents. Sampling and log-prob recomputation must use the same
precision: ``train/logp_drift`` in the learner's metrics shows the difference.
"""
from __future__ import annotations

import contextlib
import re

import torch

from dance_rl.errors import UserError

DEVICE_CHOICES = "auto|cpu|cuda|cuda:N"
PRECISIONS = ("auto", "off", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
_DEVICE_RE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def check_device_string(spec: str, what: str = "--device") -> str:
    """Syntax check without touching CUDA (config validation runs on machines without a GPU)."""
    if not isinstance(spec, str) or not _DEVICE_RE.match(spec.strip()):
        raise UserError(f"{what}: {spec!r} is not a device; use one of {DEVICE_CHOICES}")
    return spec.strip()


def resolve_device(spec: str = "auto", what: str = "--device") -> torch.device:
    """'auto' | 'cpu' | 'cuda' | 'cuda:N' → a torch.device that exists on this machine (UserError otherwise)."""
    spec = check_device_string(spec, what)
    if spec == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise UserError(f"{what}: {spec} asked for, but this machine has no usable CUDA GPU "
                        "(torch.cuda.is_available() is False); use --device cpu or --device auto")
    dev = torch.device(spec)
    if dev.index is not None and dev.index >= torch.cuda.device_count():
        raise UserError(f"{what}: {spec} does not exist; this machine has {torch.cuda.device_count()} GPU(s) "
                        f"(cuda:0 … cuda:{torch.cuda.device_count() - 1})")
    return dev


def resolve_precision(precision: str, device: torch.device | str, what: str = "--precision") -> str:
    """'auto' | 'off' | 'bf16' | 'fp16' → 'off' | 'bf16' | 'fp16' for this device."""
    device = torch.device(device)
    if precision not in PRECISIONS:
        raise UserError(f"{what}: {precision!r} is not one of {list(PRECISIONS)}")
    if precision == "auto":
        if device.type != "cuda":
            return "off"
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if precision == "fp16" and device.type != "cuda":
        raise UserError(f"{what}: fp16 needs a CUDA device (gradient scaling); use bf16 or off on {device.type}")
    return precision


def autocast(device: torch.device | str, precision: str):
    """Autocast context for a resolved precision ('off' → no-op). Use the same one for sampling and recomputation."""
    device = torch.device(device)
    if precision == "off":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=_DTYPES[precision])


def grad_scaler(device: torch.device | str, precision: str) -> torch.amp.GradScaler:
    """A GradScaler that is active only for fp16 (bf16 has float32's exponent range and needs none)."""
    device = torch.device(device)
    return torch.amp.GradScaler(device.type, enabled=precision == "fp16")


def model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def add_device_args(parser, default_device: str | None = "auto", default_precision: str | None = "auto") -> None:
    """--device / --precision for CLIs that run a model (None defaults: fall back to the config's values)."""
    parser.add_argument("--device", default=default_device, metavar=DEVICE_CHOICES.replace("|", ","),
                        help=f"where the model runs: {DEVICE_CHOICES} (auto = CUDA when present)")
    parser.add_argument("--precision", default=default_precision, choices=PRECISIONS,
                        help="mixed precision: auto = bf16 on GPUs that support it, fp16 on older GPUs, off on CPU")
