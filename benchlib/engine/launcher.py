"""Run each case in a fresh Python process, with a timeout, and keep going when one fails.

A run's child process is started in its own session (process group), so a timeout or Ctrl-C
kills the child and anything it started (compiler helpers, thread-pool processes) at once.
Whatever happens to the child, :func:`run_case` returns a record: ``ok``/``skipped`` from the
worker, or ``failed`` with the reason (exception, signal, timeout, missing record).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from benchlib.engine.case import RunCase
from benchlib.results.schema import failed_record
from benchlib.results.store import append_record, read_records

#: The launcher's pid, given to each worker, which asks Linux to kill it when the launcher dies.
PARENT_PID_ENV = "BENCHLIB_LAUNCHER_PID"
#: How much of the child's stderr is kept in a failed record.
STDERR_TAIL_CHARS = 2000


def _tail(handle: IO[bytes], limit: int = STDERR_TAIL_CHARS) -> str:
    handle.flush()
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    handle.seek(max(0, size - limit))
    return handle.read().decode(errors="replace").strip()


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the child, its process group, and descendants that left the group (own session)."""
    import psutil

    try:
        descendants = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        descendants = []
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for child in descendants:
        try:
            child.kill()
        except psutil.Error:
            pass
    proc.wait()
    psutil.wait_procs(descendants, timeout=5)


def _signal_reason(returncode: int) -> str:
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    if name == "SIGKILL":
        return "killed by SIGKILL (out of memory?)"
    return f"crashed with {name}"


def run_case(case: RunCase, timeout_s: float | None = None) -> dict[str, Any]:
    """Run ``case`` in a child process and return its record (``timeout_s`` defaults to the case's)."""
    timeout = case.timeout_s if timeout_s is None else timeout_s
    with tempfile.TemporaryDirectory(prefix="benchlib-run-") as tmp:
        case_file, record_file = Path(tmp) / "case.json", Path(tmp) / "record.json"
        case_file.write_text(json.dumps(case.to_dict()))
        with open(Path(tmp) / "stdout", "w+b") as out, open(Path(tmp) / "stderr", "w+b") as err:
            started = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-m", "benchlib.engine.worker", str(case_file), str(record_file)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True,
                env={**os.environ, PARENT_PID_ENV: str(os.getpid())},
            )
            try:
                returncode = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                return failed_record(case, "failed", f"timed out after {timeout:g} s", pid=proc.pid,
                                     stderr_tail=_tail(err), child_wall_s=time.perf_counter() - started)
            except BaseException:  # Ctrl-C: leave no orphan behind, then let the caller decide
                _kill_group(proc)
                raise
            wall = time.perf_counter() - started
            stderr_tail = _tail(err)
        if returncode < 0:
            return failed_record(case, "failed", _signal_reason(returncode), stderr_tail=stderr_tail,
                                 returncode=returncode, child_wall_s=wall, pid=proc.pid)
        try:
            record = json.loads(record_file.read_text())
            if not isinstance(record, dict):
                raise ValueError("record is not a JSON object")
        except (OSError, ValueError) as exc:
            last = stderr_tail.splitlines()[-1] if stderr_tail else "no stderr"
            reason = "no record written" if isinstance(exc, OSError) else f"unreadable record ({exc})"
            return failed_record(case, "failed", f"{reason}; exit status {returncode}; stderr: {last}",
                                 stderr_tail=stderr_tail, returncode=returncode, child_wall_s=wall, pid=proc.pid)
        record["child_wall_s"] = wall
        if record.get("status") == "failed":
            record["stderr_tail"] = stderr_tail
        return record


def done_keys(results_path: str | os.PathLike, env_key: str) -> set[str]:
    """``case_key`` of every ``ok`` record in ``results_path`` measured in this environment."""
    if not Path(results_path).exists():
        return set()
    records, _ = read_records(results_path)
    return {r["case_key"] for r in records if r.get("status") == "ok" and r.get("env_key") == env_key}


def run_cases(
    cases: Sequence[RunCase],
    results_path: str | os.PathLike | None = None,
    progress: bool = True,
    skip_done: bool = False,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run every case in turn, each in its own process; append each record as soon as it exists.

    ``skip_done`` skips cases that already have an ``ok`` record in ``results_path`` from the same
    environment (CPU model and framework versions). Returns the records of the cases run now.
    On Ctrl-C the running child is killed, nothing partial is written, and how to resume is
    printed before the interrupt propagates.
    """
    from benchlib.env import BATCH_LOAD_ENV

    # The load average before the first run judges whether the machine was busy; later in the
    # batch it mostly counts this batch's own runs (see benchlib.env.env_warnings).
    owns_batch_load = BATCH_LOAD_ENV not in os.environ
    if owns_batch_load:
        try:
            os.environ[BATCH_LOAD_ENV] = f"{os.getloadavg()[0]:.2f}"
        except OSError:
            owns_batch_load = False
    try:
        return _run_cases(cases, results_path, progress, skip_done, on_record)
    finally:
        if owns_batch_load:
            os.environ.pop(BATCH_LOAD_ENV, None)


def _run_cases(
    cases: Sequence[RunCase],
    results_path: str | os.PathLike | None,
    progress: bool,
    skip_done: bool,
    on_record: Callable[[dict[str, Any]], None] | None,
) -> list[dict[str, Any]]:
    from tqdm import tqdm

    from benchlib.env import collect_env

    todo = list(cases)
    if skip_done and results_path is not None:
        done = done_keys(results_path, collect_env()["key"])
        skipped = [c for c in todo if c.case_key in done]
        todo = [c for c in todo if c.case_key not in done]
        if skipped:  # said even without a progress bar: the user must know why fewer cases run
            print(f"resuming: {len(skipped)} case(s) already done in {results_path}", file=sys.stderr)
    records: list[dict[str, Any]] = []
    bar = tqdm(todo, disable=not progress, unit="run", file=sys.stderr, dynamic_ncols=True)
    try:
        for case in bar:
            bar.set_description(case.label())
            record = run_case(case)
            if results_path is not None:
                append_record(results_path, record)
            records.append(record)
            if on_record is not None:
                on_record(record)
    except KeyboardInterrupt:
        bar.close()
        where = f" --out {results_path}" if results_path is not None else ""
        print(f"\ninterrupted after {len(records)} of {len(todo)} run(s); completed records are saved. "
              f"Resume with the same command plus --resume{where}", file=sys.stderr)
        raise
    finally:
        bar.close()
    return records
