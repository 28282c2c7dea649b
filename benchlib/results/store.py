"""Results as JSON lines: append-only, one write per record, tolerant streaming reads, a tidy DataFrame.

Writing: each record is serialised to one line and written on an ``O_APPEND`` descriptor under
an exclusive ``flock``, then fsynced, so concurrent writers (several processes appending to one
file) never interleave. A write that fails (full disk, file size limit) is rolled back to the
file's previous length, so the file never ends in half a record; the error says why.

Reading streams line by line and reads only regular files (a FIFO or device is named and
skipped, never opened for a blocking read). A line that is cut, longer than
:data:`MAX_LINE_BYTES`, not UTF-8, not JSON, not an object, from a newer schema or holding an
impossible value (:func:`benchlib.results.schema.invalid_reason`) is skipped and reported with
its file and line number; the rest loads.
"""

from __future__ import annotations

import csv
import errno
import fcntl
import json
import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from benchlib.results.schema import CASE_FIELDS, SCHEMA_VERSION, invalid_reason, upgrade_record
from benchlib.system.files import atomic_path, clean_for_json, json_default

if TYPE_CHECKING:  # pandas is imported only when a frame is built: run workers never need it
    import pandas as pd

PathLike = str | os.PathLike

#: Env fields copied into the flat table (the full fingerprint stays in the JSON file).
ENV_COLUMNS = ("cpu_model", "usable_cores", "logical_cores", "memory_total_mb", "python", "key")
#: Keys never flattened into columns.
NOT_FLAT = ("samples_ms", "env", "case", "rss_timeline_mb", "per_core_timeline")
#: A line longer than this is skipped unread: benchlib's largest records (10,000 samples, a
#: per-core timeline of a long run on a large machine) stay far below it.
MAX_LINE_BYTES = 32 * 2**20
#: Problems listed per file; the rest are counted (a large foreign file would list one per line).
MAX_PROBLEMS_PER_FILE = 50
#: errno values that mean "no room left" (disk or quota).
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class ResultsWriteError(OSError):
    """A record could not be saved (full disk, file size limit, I/O error); the file was rolled back."""

    def __str__(self) -> str:  # the message alone, without OSError's "[Errno 28]" prefix
        return str(self.strerror)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:  # a regular file accepts nothing more: the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[written:]


def _why(exc: OSError) -> str:
    if exc.errno in DISK_FULL:
        return "the disk is full"
    if exc.errno == errno.EFBIG:
        return "the file size limit (ulimit -f) is reached"
    return "the write failed"


def append_record(path: PathLike, record: dict[str, Any]) -> None:
    """Append ``record`` as one line to ``path`` (created with its folder if needed).

    Either the whole line is written or none of it: a failed write (full disk, file size limit)
    truncates the file back to its previous length and raises :class:`ResultsWriteError`.
    """
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
            try:
                _write_all(fd, line)
                os.fsync(fd)
            except OSError as exc:
                # Every benchlib writer holds the lock, so nobody appended after ``size``: cutting
                # back to it removes exactly the part of this record that reached the disk.
                try:
                    os.ftruncate(fd, size)
                    kept = f"nothing of it was kept (the file is back to its previous {size} bytes)"
                except OSError:
                    kept = "the file may end in a partial line, which readers skip"
                raise ResultsWriteError(
                    exc.errno, f"could not save a record to {path}: {_why(exc)} ({exc.strerror or exc}); "
                               f"{kept}; the records saved before are intact") from exc
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


# -- reading -----------------------------------------------------------------------------------------

def file_kind(mode: int) -> str:
    """Words for a file type: ``a FIFO (named pipe)``, ``a character device``, ``a directory``, ..."""
    for test, words in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                        (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                        (stat.S_ISSOCK, "a socket"), (stat.S_ISREG, "a regular file")):
        if test(mode):
            return words
    return "not a regular file"


def _expand(paths: PathLike | Iterable[PathLike], problems: list[str]) -> list[Path]:
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    files: list[Path] = []
    for item in paths:
        item = Path(item)
        if item.is_dir():
            found = sorted(item.glob("*.jsonl"))
            if not found:
                problems.append(f"{item}: no *.jsonl results files in this folder")
            files.extend(found)
        else:
            files.append(item)
    return files


def open_regular(file: PathLike) -> tuple[IO[bytes] | None, str | None]:
    """``(handle, None)`` for a regular file (symlinks followed), else ``(None, why not)``.

    A FIFO would block the reader until some writer appeared, and a device never ends: both are
    named and refused without reading (the descriptor is opened non-blocking, then checked).
    """
    try:
        kind = os.stat(file).st_mode  # follows a symlink: a link to a FIFO is a FIFO
        if stat.S_ISREG(kind):
            fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            kind = os.fstat(fd).st_mode  # what was opened, in case the path changed in between
            if stat.S_ISREG(kind):
                os.set_blocking(fd, True)
                return os.fdopen(fd, "rb", buffering=1 << 20), None
            os.close(fd)
    except OSError as exc:
        return None, f"{file}: cannot read ({exc.strerror or exc})"
    return None, (f"{file}: skipped, {file_kind(kind)} is not a regular file; "
                  f"allowed: a results file (JSON lines) or a folder of them")


def _lines(handle: IO[bytes], limit: int) -> Iterator[tuple[bytes | None, int]]:
    """Each line as ``(bytes, length)``; a line longer than ``limit`` as ``(None, length)``, unread."""
    while True:
        raw = handle.readline(limit + 1)
        if not raw:
            return
        if len(raw) <= limit or raw.endswith(b"\n"):
            yield raw, len(raw)
            continue
        length = len(raw)
        while not raw.endswith(b"\n"):  # skip the rest of the line, one chunk at a time
            raw = handle.readline(1 << 20)
            if not raw:
                break
            length += len(raw)
        yield None, length


def parse_line(raw: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """A record from one line, or ``(None, the reason it is skipped)``; ``(None, None)`` for a blank line."""
    if not raw.strip():
        return None, None
    cut = not raw.endswith(b"\n") and not raw.rstrip().endswith(b"}")
    try:
        record = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        if cut:
            return None, "skipped truncated line (the writer was probably killed)"
        return None, f"skipped, not UTF-8 text (byte 0x{raw[exc.start]:02x} at position {exc.start + 1})"
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError; so are 5000-digit numbers
        if cut:
            return None, "skipped truncated line (the writer was probably killed)"
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else ("nested too deeply" if isinstance(
            exc, RecursionError) else str(exc).split(":")[0])
        return None, f"skipped not JSON ({detail})"
    if not isinstance(record, dict):
        return None, f"skipped, a JSON {type(record).__name__} instead of a record object"
    version = record.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int) or version > SCHEMA_VERSION:
        return None, (f"skipped, schema_version {version!r} is not readable by this benchlib "
                      f"(reads up to {SCHEMA_VERSION}); upgrade benchlib")
    reason = invalid_reason(record)
    if reason:
        return None, f"skipped, invalid record (not shown or ranked): {reason}"
    if version < SCHEMA_VERSION:  # every reader sees the current shape; the stored version is kept
        record = upgrade_record(record)
    return record, None


def iter_records(paths: PathLike | Iterable[PathLike], problems: list[str] | None = None,
                 max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[dict[str, Any]]:
    """Each readable record in ``paths`` (files, folders of ``*.jsonl``, or a list), one at a time.

    Nothing but the current line is held in memory. Every skipped file or line is appended to
    ``problems`` as ``FILE:LINE: why``. Each record gets ``_source`` (its ``FILE:LINE``).
    """
    problems = [] if problems is None else problems
    for file in _expand(paths, problems):
        handle, problem = open_regular(file)
        if handle is None:
            problems.append(problem or f"{file}: cannot read")
            continue
        found = 0
        with handle:
            for number, (raw, length) in enumerate(_lines(handle, max_line_bytes), start=1):
                where = f"{file}:{number}"
                if raw is None:
                    record, problem = None, (f"skipped a line of {length:,} bytes, longer than the "
                                             f"{max_line_bytes:,} bytes any benchlib record takes")
                else:
                    record, problem = parse_line(raw)
                if problem:
                    found += 1
                    if found <= MAX_PROBLEMS_PER_FILE:
                        problems.append(f"{where}: {problem}")
                if record is not None:
                    record["_source"] = where
                    yield record
        if found > MAX_PROBLEMS_PER_FILE:
            problems.append(f"{file}: {found - MAX_PROBLEMS_PER_FILE} more skipped line(s) not listed")


def read_records(paths: PathLike | Iterable[PathLike],
                 max_line_bytes: int = MAX_LINE_BYTES) -> tuple[list[dict[str, Any]], list[str]]:
    """All records in ``paths`` (files, folders of ``*.jsonl``, or a list), and load problems.

    Each problem names the file and line: a missing or non-regular file, a cut, over-long,
    non-UTF-8 or non-JSON line, a line that is not an object, a record with a newer
    ``schema_version`` than this benchlib reads, or one with impossible values. To keep memory
    flat on large folders, iterate with :func:`iter_records` instead.
    """
    problems: list[str] = []
    records = list(iter_records(paths, problems, max_line_bytes))
    return records, problems


def flatten(record: dict[str, Any]) -> dict[str, Any]:
    """One flat row: nested objects become dotted columns (``latency_ms.p50``).

    ``samples_ms`` and the full ``env`` stay out; a few env fields become ``env.<field>`` and the
    machine (:func:`benchlib.results.records.machine_of`) becomes ``machine``. Lists (per-core
    figures, confidence intervals) are kept as lists in one cell.
    """
    from benchlib.results.records import machine_of

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
                low, high = ([*pair, None, None][:2]) if isinstance(pair, list) else (None, None)
                row[f"latency_ci95_ms.{quantile}.lo"], row[f"latency_ci95_ms.{quantile}.hi"] = low, high
            continue
        walk(key, value)
    env = record.get("env") if isinstance(record.get("env"), dict) else {}
    for key in ENV_COLUMNS:
        row[f"env.{key}"] = env.get(key)
    row["machine"] = machine_of(record)
    samples = record.get("samples_ms")
    row["n_samples_stored"] = len(samples) if isinstance(samples, list) else 0
    return row


def load(paths: PathLike | Iterable[PathLike], columns: Sequence[str] | None = None,
         newest_only: bool = False) -> pd.DataFrame:
    """A tidy DataFrame, one row per run, from result files or folders (problems in ``df.attrs``).

    Records are streamed: only the flat rows are kept, and only ``columns`` of them when given
    (missing ones are empty). ``newest_only`` keeps the newest record of each case and machine
    (:func:`benchlib.results.records.latest`) while reading, so memory follows the number of
    cases, not of lines. Load problems (skipped lines) are in ``df.attrs["problems"]``.
    """
    import pandas as pd

    from benchlib.results.records import latest

    problems: list[str] = []
    rows: Iterable[dict[str, Any]] = (flatten(r) for r in iter_records(paths, problems))
    if columns is not None:
        # what names a case (when a record has no ``case_key``) is kept for the newest-record rule
        wanted = list(dict.fromkeys([*columns, "case_key", "created", "machine", *CASE_FIELDS]))
        rows = ({c: row.get(c) for c in wanted if c in row} for row in rows)
    if newest_only:
        rows = latest(rows)
    df = pd.DataFrame(list(rows))
    df.attrs["problems"] = problems
    return df


def to_csv(df: pd.DataFrame, path: PathLike) -> Path:
    """Write ``df`` as CSV (folders created) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
    return path


def export_csv(paths: PathLike | Iterable[PathLike], dest: PathLike) -> tuple[Path, int]:
    """Write every run in ``paths`` as one flat CSV row to ``dest``; returns ``(dest, rows)``.

    Streams twice (once for the union of columns, once for the rows), so memory stays flat on
    large folders. The file is written beside ``dest`` and renamed over it, so ``dest`` is either
    the old file or the complete new one; a full disk raises :class:`ResultsWriteError`.
    """
    dest = Path(dest)
    columns: dict[str, None] = {}
    for record in iter_records(paths):
        columns.update(dict.fromkeys(flatten(record)))
    dest.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    try:
        with atomic_path(dest) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(columns), restval="", extrasaction="ignore")
            writer.writeheader()
            for record in iter_records(paths):
                writer.writerow(flatten(record))
                count += 1
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise ResultsWriteError(exc.errno, f"could not write {dest}: {_why(exc)} ({exc.strerror or exc}); "
                                           f"the results it exports are intact") from exc
    return dest, count
