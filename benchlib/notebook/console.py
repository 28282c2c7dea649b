"""The suite's console: its own lines on the terminal, everything else in a log file per notebook.

A papermill kernel and every process it starts inherit the suite's standard output and error file
descriptors, so framework chatter written straight to them (TensorFlow's and oneDNN's banners, the
kernel's transport warning, absl) would land between the suite's lines. :class:`Console` points
descriptors 1 and 2 at ``outputs/logs/<notebook>.log`` while a notebook runs and keeps a private
copy of the terminal for the suite's own lines. :class:`ResultsWatcher` prints one line per record
appended to the results folder (every case of every notebook writes one as soon as it finishes), so a
long notebook shows its progress case by case.

benchlib's text uses a few characters beyond ASCII (``±``, ``µs``, ``×``, ``→``). A terminal whose
encoding lacks them (``PYTHONIOENCODING=ascii``, a C locale) gets ASCII stand-ins (``+/-``, ``us``,
``x``, ``->``) from one error handler, :data:`ASCII_FALLBACK`, which :func:`degrade_to_ascii` puts on
the process's streams: no message has to care which terminal it is printed on.
"""

from __future__ import annotations

import codecs
import json
import os
import sys
import threading
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from benchlib.report.display import halfwidth_text
from benchlib.studies.compare import between_rounds_halfwidth
from benchlib.system.files import atomic_write_text

#: ASCII stand-ins for the characters benchlib's own text uses (others: their accents stripped, else ``?``).
ASCII_STAND_INS = {"±": "+/-", "µ": "u", "μ": "u", "×": "x", "→": "->", "←": "<-", "↔": "<->", "↳": "->", "·": ".",
                   "–": "-", "—": "-", "−": "-", "≈": "~", "≤": "<=", "≥": ">=", "…": "...", "ᵀ": "T", "²": "^2",
                   "\u00a0": " ", "\u202f": " ", "‘": "'", "’": "'", "“": '"', "”": '"'}
#: Name of the codec error handler that writes :data:`ASCII_STAND_INS` for characters a stream cannot encode.
ASCII_FALLBACK = "benchlib-ascii"


def ascii_stand_in(char: str) -> str:
    """What ``char`` is printed as where the terminal cannot show it."""
    if char in ASCII_STAND_INS:
        return ASCII_STAND_INS[char]
    plain = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode("ascii")
    return plain or "?"


def _encode_fallback(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    return "".join(ascii_stand_in(c) for c in error.object[error.start:error.end]), error.end


codecs.register_error(ASCII_FALLBACK, _encode_fallback)


def degrade_to_ascii(*streams: TextIO) -> None:
    """Make each stream (default: standard output and error) print ASCII stand-ins for the characters its
    encoding lacks, instead of raising ``UnicodeEncodeError``; a stream that can encode them is unchanged."""
    for stream in streams or (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None:  # not a text file (a notebook's output stream encodes everything)
            continue
        try:
            reconfigure(errors=ASCII_FALLBACK)
        except (AttributeError, OSError, TypeError, ValueError):  # a closed or exotic stream prints as it did
            continue


def duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s`` or ``1 h 02 min``."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class Console:
    """The terminal for the suite's own lines; descriptors 1 and 2 go to a log file while :meth:`logging_to` runs."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream, self._owned = stream or sys.stdout, False
        if stream is None:
            sys.stdout.flush()
            try:
                # a private duplicate of the terminal: it stays the terminal while fds 1 and 2 point elsewhere
                self._stream = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1,
                                         encoding=getattr(sys.stdout, "encoding", None) or "utf-8",
                                         errors=ASCII_FALLBACK)
                self._owned = True
            except (AttributeError, OSError, ValueError):  # a stdout without a descriptor (captured in tests)
                pass
        self._lock = threading.Lock()

    def line(self, text: str) -> None:
        """Print one line on the terminal (thread-safe: the results watcher prints from its own thread)."""
        with self._lock:
            self._stream.write(text + "\n")
            self._stream.flush()

    def close(self) -> None:
        if self._owned:
            self._stream.close()

    def logging_to(self, log_path: Path) -> _Redirect:
        """Within the block, this process's (and its children's) descriptors 1 and 2 append to ``log_path``."""
        return _Redirect(log_path)


class _Redirect:
    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self._saved: tuple[int, int] | None = None

    def __enter__(self) -> Path:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        sys.stdout.flush()
        sys.stderr.flush()
        log_fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._saved = (os.dup(1), os.dup(2))
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(log_fd)
        return self.log_path

    def __exit__(self, *exc: object) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        if self._saved is not None:
            os.dup2(self._saved[0], 1)
            os.dup2(self._saved[1], 2)
            for fd in self._saved:
                os.close(fd)
            self._saved = None


def progress_line(record: dict[str, Any]) -> str:
    """One line about a finished case: what it was, its status and its median with the half-width of its 95%
    interval where the record has one (or why it failed)."""
    variant = record.get("variant")
    what = f"{record.get('backend')}/{variant}" if variant else str(record.get("backend"))
    if record.get("step") is not None:  # an ablation step: its variant only repeats the step's number
        what = f"step {record['step']} ({record.get('step_name', '')}) {record.get('backend')}"
    threads = record.get("threads")
    what += f" b={record.get('batch_size')} t={'default' if threads is None else threads}"
    scenario = record.get("scenario")
    if scenario not in (None, "single"):
        what += f" {scenario}"
    status = record.get("status", "?")
    if status == "ok" and scenario not in (None, "single"):
        return f"{what}: ok, {_scenario_figure(record)}"
    if status == "ok":
        latency = record.get("latency_ms") or {}
        value = latency.get("p50") if isinstance(latency, dict) else None
        if value is None and isinstance(latency, dict):
            value = latency.get("mean")
        line = f"{what}: ok" + (f", {value:.3g} ms per call" if isinstance(value, int | float) else "")
        width = between_rounds_halfwidth(record)  # never the within-process interval: not the number's precision
        if isinstance(value, int | float) and width is not None:  # the median's 95% half-width over rounds
            line += f" {halfwidth_text(width)}"
        return line
    reason = str(record.get("error") or "").splitlines()[0][:100] if record.get("error") else ""
    return f"{what}: {status}" + (f" ({reason})" if reason else "")


def _scenario_figure(record: dict[str, Any]) -> str:
    """What a LoadGen scenario measures: a query's latency (SingleStream, MultiStream) or a rate.

    Offline's "latency" is the time to finish its one query of every sample, and Server is judged
    by the rate it sustained within its latency bound: neither is a time per call.
    """
    latency = record.get("latency_ms") if isinstance(record.get("latency_ms"), dict) else {}
    rate = record.get("throughput_sps")
    rate_text = f"{rate:,.0f} samples/s" if isinstance(rate, int | float) else "no rate"
    if record.get("scenario") == "Offline":
        return rate_text
    p99 = latency.get("p99")
    tail = f", p99 {p99:.3g} ms per query" if isinstance(p99, int | float) else ""
    if record.get("scenario") == "Server":
        return f"{rate_text}{tail}"
    p50 = latency.get("p50")
    return (f"{p50:.3g} ms per query (p50)" if isinstance(p50, int | float) else rate_text) + tail


class ResultsWatcher:
    """Print a line for every record appended to ``folder``'s ``*.jsonl`` files while the block runs.

    Polls (every ``interval_s``) rather than hooking the engine: every notebook, whichever protocol it
    runs, appends each record as soon as it exists, so the results folder is the one place to watch.
    """

    def __init__(self, folder: Path, emit: Callable[[str], None], interval_s: float = 0.5) -> None:
        self.folder = folder
        self.emit = emit
        self.interval_s = interval_s
        self.count = 0
        self._offsets: dict[Path, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _files(self) -> list[Path]:
        return sorted(self.folder.glob("*.jsonl")) if self.folder.is_dir() else []

    def __enter__(self) -> ResultsWatcher:
        self._offsets = {path: path.stat().st_size for path in self._files()}
        self._thread = threading.Thread(target=self._run, name="results-watcher", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.poll()  # the last records written just before the notebook ended

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.poll()

    def poll(self) -> None:
        """Read the complete lines added since the last poll and emit one line per record."""
        for path in self._files():
            start = self._offsets.get(path, 0)
            try:
                size = path.stat().st_size
                if size <= start:
                    continue
                with path.open("rb") as handle:
                    handle.seek(start)
                    chunk = handle.read(size - start)
            except OSError:
                continue
            end = chunk.rfind(b"\n")
            if end < 0:
                continue  # a record still being written: read it whole next time
            self._offsets[path] = start + end + 1
            for raw in chunk[: end + 1].splitlines():
                try:
                    record = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(record, dict):
                    self.count += 1
                    self.emit(progress_line(record))


class Timings:
    """Each notebook's last duration (per quick/full setting), kept to estimate what is left of a run."""

    def __init__(self, path: Path, mode: str, defaults: dict[str, float]) -> None:
        self.path = path
        self.mode = mode
        self.defaults = defaults
        try:
            stored = json.loads(path.read_text())
        except (OSError, ValueError):
            stored = {}
        self.stored: dict[str, dict[str, float]] = stored if isinstance(stored, dict) else {}

    def expected(self, name: str) -> float:
        return float(self.stored.get(self.mode, {}).get(name, self.defaults.get(name, 60.0)))

    def left(self, names: list[str] | tuple[str, ...]) -> float:
        return sum(self.expected(name) for name in names)

    def record(self, name: str, seconds: float) -> None:
        self.stored.setdefault(self.mode, {})[name] = round(seconds, 1)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.path, json.dumps(self.stored, indent=2, sort_keys=True))
        except OSError:
            pass  # an estimate is a convenience: never fail the suite over it
