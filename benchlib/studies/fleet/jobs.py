"""What the fleet sends to a host (jobs, one Dask task each), each case's state across attempts, each record's origin.

A case measured in interleaved rounds (:func:`benchlib.engine.rounds.in_rounds_mode`) is compared with the
cases of its :func:`benchlib.engine.rounds.pair_key` only in rounds they share, on one host: so the cases
of one machine with one key form one job (split as :func:`benchlib.engine.rounds.plan_groups` splits a set
larger than a group), and the host measures them together through the engine's one path
(:func:`benchlib.engine.launcher.run_cases`). Every other case is a job of its own, run once in its own
process as ``sweep`` runs it. Every record that comes back says where it was measured (:func:`annotate`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchlib.engine.case import RunCase
from benchlib.engine.rounds import RoundSettings, in_rounds_mode, pair_key, plan_groups
from benchlib.studies.fleet.cluster import Host, Machine, colocation_warning


@dataclass
class CaseState:
    """One case on one machine, across its attempts."""

    case: RunCase
    machine: Machine
    deaths: int = 0  # hosts that died while running it
    unstarted: int = 0  # hosts that died while it waited on them
    dead_workers: set[str] = field(default_factory=set)


@dataclass
class Job:
    """Cases one Dask task runs on one host: one case run once, or a set of cases measured in rounds together.

    ``per_case_s`` is each case's share of the machine's rounds time (``rounds.max_time_s`` divided among
    all its cases in rounds, as :func:`benchlib.engine.rounds.measure_in_rounds` divides a run's), so a
    job's rounds last as long as they would in a ``run`` of the whole list.
    """

    states: list[CaseState]
    rounds: RoundSettings | None = None
    per_case_s: float = 0.0

    @property
    def machine(self) -> Machine:
        return self.states[0].machine

    def task(self, topic: str, key: str) -> tuple[Callable[..., dict[str, Any]], tuple[Any, ...]]:
        """The Dask task that runs this job on a host (:mod:`benchlib.studies.fleet.task`) and its arguments:
        plain dicts, the rounds' settings with this job's share of the time."""
        from benchlib.studies.fleet.task import run_on_host, run_rounds_on_host

        if self.rounds is None:
            return run_on_host, (self.states[0].case.to_dict(), topic, key)
        settings = dataclasses.replace(self.rounds, max_time_s=self.per_case_s * len(self.states))
        return run_rounds_on_host, ([s.case.to_dict() for s in self.states], settings.to_dict(), topic, key)

    def label(self) -> str:
        if len(self.states) == 1:
            return self.states[0].case.label()
        return f"{len(self.states)} cases sharing rounds ({', '.join(s.case.label() for s in self.states)})"


@dataclass
class Attempt:
    """One submission of a job: its Dask future, where it started and which of its cases have a record."""

    job: Job
    key: str
    future: Any
    eligible: list[str]
    started_on: list[str] = field(default_factory=list)  # workers that announced its start
    lost_on: set[str] = field(default_factory=set)
    recorded: set[str] = field(default_factory=set)  # case_key of the cases whose record came back

    def state_of(self, record: dict[str, Any]) -> CaseState | None:
        """The case ``record`` belongs to (by its ``case_key``; a job of one case owns any record it returns)."""
        if len(self.job.states) == 1:
            return self.job.states[0]
        return next((s for s in self.job.states if s.case.case_key == record.get("case_key")), None)

    def pending(self) -> list[CaseState]:
        """The job's cases with no record from this attempt yet."""
        return [s for s in self.job.states if s.case.case_key not in self.recorded]


def plan_jobs(states: Sequence[CaseState], rounds: RoundSettings | None) -> list[Job]:
    """``states`` (one machine's cases) as jobs: one per case run once, then one per set of cases that share
    rounds (``rounds``: their settings, with the machine's whole rounds time; ``None``: every case runs once)."""
    once: list[CaseState] = []
    sets: dict[tuple[str, int, str], list[CaseState]] = {}
    for state in states:
        if rounds is not None and in_rounds_mode(state.case):
            sets.setdefault(pair_key(state.case), []).append(state)
        else:
            once.append(state)
    jobs = [Job([state]) for state in once]
    if rounds is None or not sets:
        return jobs
    per_case_s = rounds.max_time_s / sum(len(members) for members in sets.values())
    largest = max(1, rounds.max_alive // rounds.processes)  # a group's size in a run (measure_in_rounds)
    for members in sets.values():
        for group in plan_groups([s.case for s in members], largest):
            jobs.append(Job([members[i] for i in group], rounds, per_case_s))
    return jobs


def annotate(record: dict[str, Any], machine: Machine, host: Host | None, number: int, scheduler: str,
             local: bool) -> dict[str, Any]:
    """``record`` with its origin: host, worker, attempt ``number``, scheduler, machine (``fleet``), the host's
    fingerprint when the benchmark process died before taking its own, and the colocation warning."""
    record["fleet"] = {"host": host.name if host else None, "worker": host.worker if host else None,
                       "ip": host.ip if host else None, "attempt": number, "scheduler": scheduler,
                       "colocated_workers": host.colocated if host else None, "local": local,
                       "machine_key": machine.key}
    env = host.env if host else machine.env
    if not isinstance(record.get("env"), dict):  # a child that died early wrote no fingerprint
        record["env"], record["env_key"] = env, env.get("key")
    warning = colocation_warning(host, local) if host else None
    if warning:
        record["warnings"] = [*(record.get("warnings") or []), warning]
    return record


def progress_line(record: dict[str, Any], case: RunCase, host: Host | None) -> str:
    """One line on ``record``: case, host, status, and its p50 (over how many rounds) or its error."""
    status = record.get("status")
    if status == "ok":
        detail = f"p50 {record.get('latency_ms', {}).get('p50') or float('nan'):.4g} ms"
        if (record.get("rounds") or {}).get("n"):
            detail += f" over {record['rounds']['n']} round(s)"
    else:
        detail = str(record.get("error") or "")[:200]
    return f"{case.label()} on {host.label if host else 'no host'}: {status}, {detail}"
