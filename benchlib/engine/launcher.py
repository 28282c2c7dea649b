"""Run each case in a fresh Python process, with a timeout, and keep going when one fails.

Each case runs through :func:`benchlib.system.child.run_in_child` (own session, timeout, kill of
the whole tree, parent-death signal), so a timeout, Ctrl-C or SIGTERM kills the child and
anything it started. Whatever happens to the child, :func:`run_case` returns a record: ``ok``/``skipped`` from the
worker, or ``failed`` with the reason (exception, signal, timeout, missing record).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from benchlib.engine.case import RunCase
from benchlib.engine.rounds import RoundSettings, in_rounds_mode, measure_in_rounds
from benchlib.results.resume import done_keys
from benchlib.results.schema import failed_record
from benchlib.results.store import ResultsWriteError, append_record
from benchlib.system.child import PARENT_PID_ENV, run_in_child

__all__ = ["PARENT_PID_ENV", "round_settings", "run_case", "run_cases"]

def run_case(case: RunCase, timeout_s: float | None = None) -> dict[str, Any]:
    """Run ``case`` in a child process and return its record (``timeout_s`` defaults to the case's)."""
    timeout = case.timeout_s if timeout_s is None else timeout_s
    # one worker for every scenario (the timed loop, or LoadGen's), one record builder
    child = run_in_child("benchlib.engine.worker:run_case_payload", case.to_dict(), timeout, what="record")
    facts = {"stderr_tail": child.stderr_tail, "child_wall_s": child.wall_s, "pid": child.pid}
    if child.returncode is not None:
        facts["returncode"] = child.returncode
    if not child.ok:
        return failed_record(case, "failed", child.error or "unknown failure", **facts)
    record = child.value
    if not isinstance(record, dict):
        return failed_record(case, "failed", f"unreadable record (a JSON {type(record).__name__}, not an "
                                             f"object); exit status {child.returncode}", **facts)
    record["child_wall_s"] = child.wall_s
    if record.get("status") == "failed":
        record["stderr_tail"] = child.stderr_tail
    return record


def round_settings(cases: Sequence[RunCase]) -> RoundSettings:
    """The rounds' settings of a run of ``cases`` (those in rounds mode): :mod:`benchlib.defaults`', with the
    tightest of the cases' precision targets."""
    return RoundSettings(target_ci=min((c.target_ci for c in cases), default=RoundSettings().target_ci))


def checked_cases(cases: object) -> list[RunCase]:
    """``cases`` as a list of :class:`RunCase` (one case becomes a list of one); anything else is refused."""
    if isinstance(cases, RunCase):
        return [cases]
    if isinstance(cases, str | bytes | dict) or not isinstance(cases, Iterable):
        raise TypeError(f"cases={cases!r:.80} ({type(cases).__name__}) is invalid; allowed: a list of RunCase, "
                        "e.g. [RunCase('numpy', batch_size=64)]")
    items = list(cases)
    for index, case in enumerate(items):
        if not isinstance(case, RunCase):
            raise TypeError(f"cases[{index}]={case!r:.80} ({type(case).__name__}) is not a case; allowed: RunCase "
                            "objects, e.g. RunCase('numpy', batch_size=64)")
    return items


def run_cases(
    cases: Sequence[RunCase],
    results_path: str | os.PathLike | None = None,
    progress: bool = True,
    skip_done: bool | Sequence[str] = False,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    resume_hint: str | None = None,
    rounds: RoundSettings | bool | None = None,
) -> list[dict[str, Any]]:
    """Run every case in its own process; append each record as soon as it exists.

    Cases in precision mode (``target_ci > 0``, the single-call scenario, the engine's protocol) are
    measured in interleaved rounds over warm processes (:mod:`benchlib.engine.rounds`), after the
    other cases, each of which runs once in its own process. ``rounds``: the rounds' settings
    (default: :class:`RoundSettings` with the cases' target), or ``False`` to run every case once.

    ``skip_done`` skips cases that already have an ``ok`` record in ``results_path`` from the same
    environment (CPU model and framework versions); a sequence of statuses (for example
    :data:`benchlib.results.records.SETTLED`) counts those as done instead. Returns the records
    of the cases run now. On Ctrl-C or SIGTERM the running child is killed, nothing partial is
    written, and ``resume_hint`` (what the caller's user should do to resume; by default: run the same
    command again) is printed before the interrupt propagates as ``KeyboardInterrupt``.
    """
    from benchlib.system.env import BATCH_LOAD_ENV

    cases = checked_cases(cases)
    if results_path is not None and not isinstance(results_path, str | os.PathLike):
        raise TypeError(f"results_path={results_path!r} ({type(results_path).__name__}) is invalid; allowed: a file "
                        "path (str or pathlib.Path) or None")
    # The load average before the first run judges whether the machine was busy; later in the
    # batch it mostly counts this batch's own runs (see benchlib.system.env.env_warnings).
    owns_batch_load = BATCH_LOAD_ENV not in os.environ
    if owns_batch_load:
        try:
            os.environ[BATCH_LOAD_ENV] = f"{os.getloadavg()[0]:.2f}"
        except OSError:
            owns_batch_load = False
    try:
        with sigterm_as_interrupt():
            return _run_cases(cases, results_path, progress, skip_done, on_record, resume_hint, rounds)
    finally:
        if owns_batch_load:
            os.environ.pop(BATCH_LOAD_ENV, None)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM behaves like Ctrl-C (the child tree is killed, saved records stay).

    Only the main thread can install signal handlers; elsewhere the block changes nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_cases(
    cases: Sequence[RunCase],
    results_path: str | os.PathLike | None,
    progress: bool,
    skip_done: bool | Sequence[str],
    on_record: Callable[[dict[str, Any]], None] | None,
    resume_hint: str | None,
    rounds: RoundSettings | bool | None = None,
) -> list[dict[str, Any]]:
    from tqdm import tqdm

    from benchlib.system.env import collect_env

    todo = list(cases)
    if skip_done and results_path is not None:
        statuses = ("ok",) if skip_done is True else tuple(skip_done)
        done = done_keys(results_path, collect_env()["key"], statuses)
        skipped = [c for c in todo if c.case_key in done]
        todo = [c for c in todo if c.case_key not in done]
        if skipped:  # said even without a progress bar: the user must know why fewer cases run
            print(f"resuming: {len(skipped)} case(s) already done in {results_path}", file=sys.stderr)
    records: list[dict[str, Any]] = []
    if resume_hint is None:  # every command resumes by itself (benchlib.studies.plan.plan_study)
        resume_hint = "Run the same command again to resume: the cases already measured are not run again"
    in_rounds = [c for c in todo if rounds is not False and in_rounds_mode(c)]
    once = [c for c in todo if c not in in_rounds]
    current = {"label": ""}

    def save(record: dict[str, Any]) -> None:
        if results_path is not None:
            try:
                append_record(results_path, record)
            except ResultsWriteError:  # full disk: the file was rolled back; say what is lost and how to go on
                bar.close()
                print(f"\nstopped after {len(records)} of {len(todo)} run(s): the record of {current['label']} "
                      f"could not be saved; completed records are saved. Free some space, then: {resume_hint}",
                      file=sys.stderr)
                raise
        records.append(record)
        if on_record is not None:
            on_record(record)

    bar = tqdm(once, disable=not progress or not once, unit="run", file=sys.stderr, dynamic_ncols=True)
    try:
        for case in bar:
            bar.set_description(case.label())
            current["label"] = case.label()
            save(run_case(case))
        bar.close()
        if in_rounds:
            settings = rounds if isinstance(rounds, RoundSettings) else round_settings(in_rounds)

            def log(message: str) -> None:
                if progress:
                    print(message, file=sys.stderr, flush=True)

            log(f"{len(in_rounds)} case(s) in interleaved rounds: each started alone, then timed in "
                f"{settings.block_s:g} s blocks over {settings.processes} processes per case")
            measure_in_rounds(in_rounds, settings, on_record=save, log=log)
    except KeyboardInterrupt:
        bar.close()
        print(f"\ninterrupted after {len(records)} of {len(todo)} run(s); completed records are saved. "
              f"{resume_hint}", file=sys.stderr)
        raise
    finally:
        bar.close()
    return records
