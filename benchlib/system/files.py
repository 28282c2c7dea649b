"""Writing files whole: a temporary name beside the target, then one rename; and values made plain JSON.

A reader (another process, a later run, a user opening the file) sees either the old file or the
complete new one, never half of it: ``os.replace`` within one folder is atomic on POSIX. The
temporary name starts with a dot and carries the process id and a random part, so concurrent
writers of the same target never write into each other's temporary file, and a listing of the
folder does not show it. A write that fails removes its temporary file and raises.
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PathLike = str | os.PathLike


def temporary_beside(path: Path, suffix: str = "") -> Path:
    """A fresh hidden name in ``path``'s folder for writing ``path`` (``suffix`` kept for tools that need it)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp{suffix}")


@contextlib.contextmanager
def atomic_path(path: PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on a normal exit rename it over ``path``.

    For writers that want a path of their own (CSV writers, exporters, quantisers): whatever the
    block writes there replaces ``path`` in one rename when the block ends without an exception.
    The temporary file is removed in every case (after an exception, or when the block wrote
    nothing the rename would fail and raise). ``suffix`` ends the temporary name, for writers that
    choose a format by it (``".onnx"``). The folder must exist.
    """
    path = Path(path)
    tmp = temporary_beside(path, suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` whole (temporary file, then a rename); return the path. The folder must exist."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` whole (temporary file, then a rename); return the path. The folder must exist."""
    return atomic_write_bytes(path, text.encode(encoding))


def json_default(value: Any) -> Any:
    """``json.dumps`` fallback: NumPy values and paths as plain JSON."""
    # NumPy scalars and arrays sneak into records from statistics; store them as plain JSON.
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def clean_for_json(value: Any) -> Any:
    """``value`` with non-finite floats replaced by ``None``, recursively."""
    # JSON has no NaN/Infinity; write null so that every reader accepts the line.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: clean_for_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_for_json(v) for v in value]
    return value


def prove_writable(folder: Path) -> None:
    """Create ``folder`` if needed and write (then remove) a real file in it: raises ``OSError`` when it cannot.

    A real file, because ``os.access`` says yes to root everywhere, even on a read-only mount.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".benchlib-write-check-"):
        pass
