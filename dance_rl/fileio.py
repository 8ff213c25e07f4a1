"""Atomic file and folder writes: readers never see a half-written file, and a failed write leaves nothing behind.

Write to a temp file (or folder) in the destination folder, then ``os.replace`` it into place. The temp file gets the permissions
a plain ``open`` would give (0666 minus the umask); ``tempfile.mkstemp``'s 0600 would otherwise survive the rename.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temp path beside ``path``; when the block succeeds it becomes ``path``, otherwise it is deleted.
    ``suffix`` lets tools that infer the format from the name (ffmpeg, imageio) write to it."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem[:32]}.", suffix=suffix)
    os.close(fd)
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, 0o666 & ~mask)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_torch_save(obj, path: str | os.PathLike) -> None:
    """``torch.save`` through :func:`atomic_path` (parent folders created): readers never see a half-written
    checkpoint. torch is imported here, not at module level, so light modules can use this file without it."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def atomic_write(path: str | os.PathLike, write: Callable, mode: str = "wb") -> Path:
    """Call ``write(fileobj)`` on a temp file beside ``path`` (opened with ``mode``) and rename it into place."""
    with atomic_path(path) as tmp, open(tmp, mode) as f:
        write(f)
    return Path(path)


@contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temp folder beside ``path``; when the block succeeds it replaces ``path`` (an existing one is
    moved aside first and deleted, so the swap is two renames), otherwise it is deleted and ``path`` is untouched.
    Used by the corpus builders (data/), which check beforehand that ``path`` is theirs to replace."""
    out = Path(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.build-", dir=out.parent))
    try:
        yield tmp
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / out.name)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
