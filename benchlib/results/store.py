"""Results as JSON lines: append-only, one write per record, tolerant reading, a tidy DataFrame.

Writing: each record is serialised to one line and written with a single ``os.write`` on an
``O_APPEND`` descriptor under an exclusive ``flock``, then fsynced, so concurrent writers
(several processes appending to one file) never interleave and a crash loses at most the line
being written. Reading: a line that is cut, not JSON, not an object or from a newer schema is
skipped and reported with its file and line number; the rest loads.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchlib.results.schema import SCHEMA_VERSION

if TYPE_CHECKING:  # pandas is imported only when a frame is built: run workers never need it
    import pandas as pd

PathLike = str | os.PathLike

#: Env fields copied into the flat table (the full fingerprint stays in the JSON file).
ENV_COLUMNS = ("cpu_model", "usable_cores", "logical_cores", "python", "key")
#: Keys never flattened into columns.
NOT_FLAT = ("samples_ms", "env", "case", "rss_timeline_mb", "per_core_timeline")


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


def append_record(path: PathLike, record: dict[str, Any]) -> None:
    """Append ``record`` as one line to ``path`` (created with its folder if needed)."""
    text = json.dumps(clean_for_json(record), default=json_default, allow_nan=False, separators=(",", ":"))
    line = (text + "\n").encode()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # read access too: the last byte is checked for a newline before appending
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            # If a killed writer left a line without its newline, start on a fresh line so the
            # broken line stays alone (and is reported) instead of corrupting this record.
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line
            written = os.write(fd, line)
            if written != len(line):  # a short write on a regular file means a full disk
                raise OSError(f"short write to {path}: {written} of {len(line)} bytes")
            os.fsync(fd)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _expand(paths: PathLike | Iterable[PathLike]) -> list[Path]:
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    files: list[Path] = []
    for item in paths:
        item = Path(item)
        files.extend(sorted(item.glob("*.jsonl")) if item.is_dir() else [item])
    return files


def read_records(paths: PathLike | Iterable[PathLike]) -> tuple[list[dict[str, Any]], list[str]]:
    """All records in ``paths`` (files, folders of ``*.jsonl``, or a list), and load problems.

    Each problem names the file and line: a missing file, a cut or non-JSON line, a line that
    is not an object, or a record with a newer ``schema_version`` than this benchlib reads.
    """
    records: list[dict[str, Any]] = []
    problems: list[str] = []
    for file in _expand(paths):
        try:
            lines = file.read_bytes().split(b"\n")
        except OSError as exc:
            problems.append(f"{file}: cannot read ({exc.strerror or exc})")
            continue
        last = len(lines)
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            where = f"{file}:{number}"
            try:
                record = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                cut = number >= last - 1 and not raw.endswith(b"}")
                kind = "truncated line (the writer was probably killed)" if cut else f"not JSON ({exc.msg})"
                problems.append(f"{where}: skipped {kind}")
                continue
            if not isinstance(record, dict):
                problems.append(f"{where}: skipped, a JSON {type(record).__name__} instead of a record object")
                continue
            version = record.get("schema_version")
            if not isinstance(version, int) or version > SCHEMA_VERSION:
                problems.append(f"{where}: skipped, schema_version {version!r} is not readable by this "
                                f"benchlib (reads up to {SCHEMA_VERSION}); upgrade benchlib")
                continue
            record["_source"] = f"{where}"
            records.append(record)
    return records, problems


def flatten(record: dict[str, Any]) -> dict[str, Any]:
    """One flat row: nested objects become dotted columns (``latency_ms.p50``).

    ``samples_ms`` and the full ``env`` stay out; a few env fields become ``env.<field>``.
    Lists (per-core figures, confidence intervals) are kept as lists in one cell.
    """
    row: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for key, sub in value.items():
                walk(f"{prefix}.{key}", sub)
        else:
            row[prefix] = value

    for key, value in record.items():
        if key in NOT_FLAT:
            continue
        if key == "latency_ci95_ms" and isinstance(value, dict):
            for quantile, pair in value.items():
                pair = pair or [None, None]
                row[f"latency_ci95_ms.{quantile}.lo"], row[f"latency_ci95_ms.{quantile}.hi"] = pair
            continue
        walk(key, value)
    env = record.get("env") or {}
    for key in ENV_COLUMNS:
        row[f"env.{key}"] = env.get(key)
    row["n_samples_stored"] = len(record.get("samples_ms") or [])
    return row


def load(paths: PathLike | Iterable[PathLike]) -> pd.DataFrame:
    """A tidy DataFrame, one row per run, from result files or folders (problems in ``df.attrs``).

    Load problems (skipped lines) are in ``df.attrs["problems"]``; use :func:`read_records`
    to get them without building a frame.
    """
    import pandas as pd

    records, problems = read_records(paths)
    df = pd.DataFrame([flatten(r) for r in records])
    df.attrs["problems"] = problems
    return df


def to_csv(df: pd.DataFrame, path: PathLike) -> Path:
    """Write ``df`` as CSV (folders created) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
    return path
