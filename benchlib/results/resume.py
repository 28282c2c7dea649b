"""Resuming a results file: which planned cases it already holds, and whether it was made with other settings.

A case is done when the file has a record of it (matched by :func:`~benchlib.results.records.case_key`, which
every case field is part of) with a settling status (:data:`~benchlib.results.records.OK_ONLY`, or
:data:`~benchlib.results.records.SETTLED` for sweeps), measured in this environment. The launcher, every study
and ``run`` (through :func:`benchlib.studies.plan.plan_study`, the one resume decision) decide with these
functions.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchlib.results.records import OK_ONLY, case_key
from benchlib.results.store import iter_records

PathLike = str | os.PathLike


def done_keys(results: PathLike | Iterable[dict[str, Any]], env_key: str,
              statuses: Sequence[str] = OK_ONLY) -> set[str]:
    """``case_key`` of every record in ``results`` with one of ``statuses``, measured in ``env_key``.

    ``results`` is a results file or folder (a missing one has no done cases) or records.
    """
    return done_keys_by(results, lambda record: record.get("env_key"), statuses).get(env_key, set())


def done_keys_by(results: PathLike | Iterable[dict[str, Any]], where: Callable[[dict[str, Any]], str | None],
                 statuses: Sequence[str] = OK_ONLY) -> dict[str | None, set[str]]:
    """:func:`done_keys` for every place at once, in one read: ``where(record)`` names the place a record was
    measured (its environment; a fleet's machine and environment), and each place gets the ``case_key`` of its
    records with one of ``statuses``."""
    if isinstance(results, str | os.PathLike):
        if not Path(results).exists():
            return {}
        records: Iterable[dict[str, Any]] = iter_records(results)  # streamed: only the keys are kept
    else:
        records = results
    done: dict[str | None, set[str]] = {}
    for record in records:
        if record.get("status") in statuses:
            done.setdefault(where(record), set()).add(case_key(record))
    return done


#: Case settings that change what a case measures (so its ``case_key``): a resumed file made with
#: other values has none of the cases these options describe.
RESUME_SETTINGS: tuple[str, ...] = ("model", "min_time_s", "min_calls", "warmup_time_s", "warmup_calls", "seed")


@dataclass
class ResumeCheck:
    """What resuming ``cases`` from a results file means (see :func:`resume_check`)."""

    #: planned cases with an ``ok`` record from this environment: they are not run again
    done: int = 0
    #: planned cases measured only in another environment (CPU or framework versions): run again
    other_environment: int = 0
    #: setting -> (values in the file, values now), when the file has none of the planned cases
    differences: dict[str, tuple[list[Any], list[Any]]] = field(default_factory=dict)
    #: how the other environment differs from this one ("numpy 2.4.6 there, 2.5.0 here")
    environment_differences: list[str] = field(default_factory=list)


def _environment_differences(there: dict[str, Any], here: dict[str, Any]) -> list[str]:
    out = []
    if there.get("cpu_model") != here.get("cpu_model"):
        out.append(f"CPU {there.get('cpu_model')!r} there, {here.get('cpu_model')!r} here")
    theirs, ours = there.get("frameworks") or {}, here.get("frameworks") or {}
    if isinstance(theirs, dict) and isinstance(ours, dict):
        for name in sorted(set(theirs) | set(ours)):
            if theirs.get(name) != ours.get(name):
                out.append(f"{name} {theirs.get(name) or 'absent'} there, {ours.get(name) or 'absent'} here")
    return out


def resume_check(results: PathLike, cases: Sequence[Any], env: dict[str, Any]) -> ResumeCheck:
    """Compare the planned ``cases`` (:class:`~benchlib.engine.case.RunCase`) with the records in ``results``.

    Streams the file once. ``env`` is this environment (:func:`benchlib.system.env.collect_env`).
    """
    planned = {case.case_key for case in cases}
    here, there = set(), set()
    seen: dict[str, set[str]] = {name: set() for name in RESUME_SETTINGS}
    values: dict[str, dict[str, Any]] = {name: {} for name in RESUME_SETTINGS}
    other_env: dict[str, Any] | None = None
    for record in iter_records(results):
        case = record.get("case")
        if isinstance(case, dict):
            for name in RESUME_SETTINGS:
                source = case if name in case else record  # a case field is the record's own key (schema 3)
                if name in source:
                    key = repr(source[name])
                    seen[name].add(key)
                    values[name].setdefault(key, source[name])
        key = case_key(record)
        if record.get("status") != "ok" or key not in planned:
            continue
        if record.get("env_key") == env.get("key"):
            here.add(key)
        else:
            there.add(key)
            if other_env is None and isinstance(record.get("env"), dict):
                other_env = record["env"]
    check = ResumeCheck(done=len(here), other_environment=len(there - here))
    if check.other_environment and other_env is not None:
        check.environment_differences = _environment_differences(other_env, env)
    if not here and not there:
        for name in RESUME_SETTINGS:
            now = {repr(getattr(case, name)): getattr(case, name) for case in cases if hasattr(case, name)}
            if seen[name] and not set(now) <= seen[name]:
                check.differences[name] = (list(values[name].values()), list(now.values()))
    return check
