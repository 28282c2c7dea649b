"""One shape for every study: a checked config, its cases, a fixed results file, the cases still to run, the run.

A sweep (:mod:`benchlib.studies.sweep`), a scenario sweep (:mod:`benchlib.studies.scenarios`) and a fleet
sweep (:mod:`benchlib.studies.fleet.plan`) differ in what they measure and where it runs, not in how a
re-run resumes. Each checks its config and builds its cases through the one case grid; :func:`plan_study`
names the results file (:func:`results_file`, fixed, so running the same study again resumes it) and
decides once, from the records already in it, which cases are settled: a record of the same case (its
``case_key``, which every case field is part of) with an ``ok`` or ``skipped`` status, measured in this
environment (:func:`benchlib.results.resume.done_keys` with :data:`~benchlib.results.records.SETTLED`). A
``skipped`` variant (one a framework version cannot do) would otherwise pay a process start and an import on
every re-run although the environment key, which includes the framework versions, guarantees the same
outcome; ``failed`` cases are retried. :func:`run_study` then runs exactly the cases left: nothing decides
again. A fleet plans each machine the same way, against that machine's records.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchlib.engine.case import RunCase
from benchlib.results.records import status_counts

PathLike = str | os.PathLike


def results_file(name: str, quick: bool = False, folder: PathLike | None = None) -> Path:
    """A study's results file: ``<name>.jsonl`` (``<name>-quick.jsonl`` for a quick one) in ``folder``
    (default: benchlib's results folder, ``outputs/results``). Fixed, so a re-run finds and resumes it."""
    if folder is None:
        from benchlib.system.paths import results_dir

        folder = results_dir()
    return Path(folder) / (f"{name}-quick.jsonl" if quick else f"{name}.jsonl")


@dataclass(frozen=True)
class StudyPlan:
    """What a study will do: every planned case, and those of them still to run, appended to one file."""

    name: str  # what the study calls itself in its messages ("sweep", "scenarios")
    results_path: Path
    cases: tuple[RunCase, ...]
    todo: tuple[RunCase, ...]  # the planned cases without a settled record (see plan_study)
    resume_hint: str  # what an interrupted run tells its user

    @property
    def planned(self) -> int:
        return len(self.cases)

    @property
    def resumed(self) -> int:
        """Planned cases already settled in the results file: not run again."""
        return len(self.cases) - len(self.todo)


def settled_cases(results_path: PathLike) -> set[str]:
    """``case_key`` of the cases settled (``ok`` or ``skipped``) in ``results_path`` in this environment."""
    from benchlib.results.records import SETTLED
    from benchlib.results.resume import done_keys
    from benchlib.system.env import collect_env

    return done_keys(results_path, collect_env()["key"], SETTLED)


def plan_study(name: str, cases: Iterable[RunCase], results_path: PathLike | None = None, quick: bool = False,
               resume_hint: str = "", done: set[str] | None = None, progress: bool = False,
               fresh: bool = False) -> StudyPlan:
    """Plan ``cases`` against ``results_path`` (default: :func:`results_file` of ``name`` and ``quick``).

    The one resume decision, for every command that measures cases (``run``, ``sweep``, ``scenarios``,
    ``fleet``) and the notebooks: a case whose ``case_key`` is in ``done`` (default: :func:`settled_cases` of
    the file) is not run again; ``fresh`` (the commands' ``--fresh``) runs every case again, appending its new
    record (readers take the newest record of each case). With ``progress``, says on stderr how many cases
    are resumed.
    """
    path = Path(results_path) if results_path is not None else results_file(name, quick)
    planned = tuple(cases)
    settled = set() if fresh else settled_cases(path) if done is None else done
    plan = StudyPlan(name=name, results_path=path, cases=planned,
                     todo=tuple(case for case in planned if case.case_key not in settled), resume_hint=resume_hint)
    if progress and plan.resumed:
        print(f"{name}: resuming, {plan.resumed} of {plan.planned} case(s) already in {path}", file=sys.stderr)
    return plan


def run_study(plan: StudyPlan, progress: bool = True,
              on_record: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Run the cases ``plan`` left to run, each in its own process, appending each record to its results file;
    the records of the cases run now."""
    from benchlib.engine.launcher import run_cases

    return run_cases(list(plan.todo), results_path=plan.results_path, progress=progress, on_record=on_record,
                     resume_hint=plan.resume_hint)


@dataclass(kw_only=True)
class StudyRun:
    """What one run of a study did (each study's result adds its own facts)."""

    results_path: Path
    planned: int = 0
    resumed: int = 0  # cases already settled, not run again
    records: list[dict[str, Any]] = field(default_factory=list)  # the records written now, in order
    wall_s: float = 0.0

    def counts(self) -> dict[str, int]:
        """Records written now, by status."""
        return status_counts(self.records)
