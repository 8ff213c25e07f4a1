"""Restricted unpickling for motion files (AIST++ / EDGE ``.pkl``) and other pickled arrays we did not write.

``pickle.load`` runs whatever callables a file names, so a downloaded ``.pkl`` can execute code. This unpickler
resolves only the globals needed to rebuild numpy arrays (as written by numpy 1.x and 2.x, pickle protocols 0-5) and
plain builtin containers; any other global is refused with a :class:`~dance_rl.errors.UserError` *before* it is
called. Callers that need a few more types (e.g. a pickled normaliser class) pass ``extra_allowed`` mapping
``(module, name)`` to a safe replacement object that is returned instead of the real global.
"""
from __future__ import annotations

import _compat_pickle
import collections
import io
import os
import pickle
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from dance_rl.errors import UserError

try:  # numpy >= 2: the real home of the array internals
    from numpy._core import multiarray as _multiarray
    from numpy._core import numeric as _numeric
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray as _multiarray
    from numpy.core import numeric as _numeric


def _latin1_encode(obj, encoding="latin1"):
    """Protocol-2 pickles from Python 3 store bytes as ``_codecs.encode(str, 'latin1')``; allow only that codec."""
    if encoding not in ("latin1", "latin-1") or not isinstance(obj, str):
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r} is not allowed")
    return obj.encode("latin1")


def _numpy_globals() -> dict[tuple[str, str], Any]:
    """numpy array reconstruction under both the numpy 1.x (``numpy.core``) and 2.x (``numpy._core``) module names."""
    table: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }
    for pkg in ("numpy.core", "numpy._core"):
        table[(f"{pkg}.multiarray", "_reconstruct")] = _multiarray._reconstruct
        table[(f"{pkg}.multiarray", "scalar")] = _multiarray.scalar
        table[(f"{pkg}.numeric", "_frombuffer")] = _numeric._frombuffer  # protocol 5
    # numpy >= 1.25 pickles dtypes of some arrays through their DType classes (e.g. numpy.dtypes.Float64DType).
    for name in dir(getattr(np, "dtypes", object())):
        if name.endswith("DType"):
            table[("numpy.dtypes", name)] = getattr(np.dtypes, name)
    return table


SAFE_GLOBALS: dict[tuple[str, str], Any] = {
    **_numpy_globals(),
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "list"): list,
    ("builtins", "dict"): dict,
    ("builtins", "tuple"): tuple,
    ("builtins", "bytearray"): bytearray,
    ("builtins", "complex"): complex,
    ("builtins", "bool"): bool,
    ("builtins", "int"): int,
    ("builtins", "float"): float,
    ("builtins", "str"): str,
    ("builtins", "bytes"): bytes,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("_codecs", "encode"): _latin1_encode,
}


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` whose ``find_class`` only answers from an allow-list.

    ``allowed`` maps ``(module, name)`` → the object to hand back (the real global or a safe stand-in).
    Python 2 names (``__builtin__.set``, ``copy_reg._reconstructor``) are first mapped to their Python 3 names, as
    pickle's default ``find_class`` would do.
    """

    def __init__(self, file, allowed: Mapping[tuple[str, str], Any], source: str, **kwargs):
        super().__init__(file, **kwargs)
        self._allowed = allowed
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise UserError(
                f"{self._source}: refusing to unpickle {module}.{name} (only numpy arrays and plain containers are "
                f"allowed, so the file cannot run code); re-save the data as numpy arrays or a .npz file"
            ) from None

    def persistent_load(self, pid):  # torch-style persistent ids are not plain data
        raise UserError(f"{self._source}: pickle uses persistent ids ({pid!r}); it is not a plain numpy pickle")


def safe_loads(
    data: bytes,
    *,
    extra_allowed: Mapping[tuple[str, str], Any] | None = None,
    source: str = "<bytes>",
    encoding: str = "latin1",
) -> Any:
    """Unpickle ``data`` allowing only numpy arrays, builtin containers/scalars and ``extra_allowed``.

    ``encoding="latin1"`` makes Python 2 pickles (AIST++, SMPL model files) load their numpy buffers correctly.
    Every failure (forbidden global, truncated or corrupt data) is a UserError naming ``source``.
    """
    allowed = {**SAFE_GLOBALS, **(extra_allowed or {})}
    try:
        return RestrictedUnpickler(io.BytesIO(data), allowed, source, encoding=encoding).load()
    except UserError:
        raise
    except Exception as e:  # noqa: BLE001 - any decoding failure means the file is not a usable pickle
        raise UserError(
            f"{source}: not a readable pickle ({type(e).__name__}: {e}); check that the file is complete and is a .pkl"
        ) from None


def safe_load(
    path: str | os.PathLike,
    *,
    extra_allowed: Mapping[tuple[str, str], Any] | None = None,
    encoding: str = "latin1",
) -> Any:
    """:func:`safe_loads` on the contents of ``path`` (missing or empty file → UserError)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found; check the path")
    data = path.read_bytes()
    if not data:
        raise UserError(f"{path}: file is empty (0 bytes); re-download or re-export it")
    return safe_loads(data, extra_allowed=extra_allowed, source=str(path), encoding=encoding)
