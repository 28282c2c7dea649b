"""Measure cases in interleaved rounds over warm processes, so that an answer holds on a second run.

On a virtual machine whose core is shared, the speed of the same code switches between levels for
seconds at a time. A case measured once for a second sits in one level; the next case, a minute later,
may sit in the other. So every case is measured in short blocks, spread over the whole run:

1. **Cold phase, one process at a time.** Each case's first process imports its framework, builds the
   model, checks the outputs and measures memory and the first call with nothing else running (the
   worker's usual path, with a short timed loop); it then stays alive and idle. A case that is skipped
   or fails there keeps that record and takes no part in the rounds.
2. **More processes.** Each case gets ``processes`` (default 2) independent processes, started the same
   way, one at a time; their blocks alternate, so the interval holds the variation between processes
   (code layout, allocator and thread placement) as well as between rounds.
3. **Rounds.** In each round every case runs one timed block of ``block_s`` seconds in one of its
   processes, in an order shuffled per round (seed recorded). Only one process measures at a time; the
   idle ones wait on a pipe, and their CPU time is read around every round to show that they stay idle.
   After ``min_rounds``, the run stops when every case's round interval is within ``target_ci`` of its
   median, or at ``max_rounds`` or at its share of ``max_time_s``: the time is the whole run's, shared
   among the groups by their number of cases, so a run of many cases is not many times longer.
4. **Groups.** At most ``max_alive`` processes are alive at once, and a group closes early when the
   resident memory of its processes would pass ``memory_fraction`` of the memory available at the start.
   Cases that are compared with each other (one model, batch size and thread setting: :func:`pair_key`)
   are kept in one group where they fit (:func:`plan_groups`), so they share rounds and their ratios
   are paired.

The statistics are :mod:`benchlib.engine.round_stats`'s; :func:`apply_rounds` writes them into the
record (one record builder: the worker's record, its latency fields replaced by the rounds').
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from benchlib import defaults
from benchlib.engine import round_stats as rs
from benchlib.engine.case import RunCase
from benchlib.engine.stats import compute_stats, median_ci, subsample

#: The worker's entry points, run in a case's session.
PREPARE_TARGET = "benchlib.engine.live:prepare"
BLOCK_TARGET = "benchlib.engine.live:timed_block"
#: An idle process is "not idle" when it used more than this share of a core while others measured.
IDLE_CPU_LIMIT = 0.02
#: Further processes of a group start this many at a time (two cores: two imports at once).
PARALLEL_STARTS = 2
#: Samples kept in a record from all rounds' calls (for distribution charts).
SAMPLES_KEPT = 2000


@dataclass(frozen=True)
class RoundSettings:
    """How a run is measured in rounds (see the module's docstring); the defaults are :mod:`benchlib.defaults`'s
    (evidence: docs/measurement.md, "Interleaved rounds")."""

    block_s: float = defaults.ROUND_BLOCK_S
    min_rounds: int = defaults.MIN_ROUNDS
    max_rounds: int = defaults.MAX_ROUNDS
    max_time_s: float = defaults.ROUND_MAX_TIME_S
    processes: int = defaults.ROUND_PROCESSES
    target_ci: float = defaults.ROUND_TARGET_CI
    seed: int = 0
    max_alive: int = defaults.ROUND_MAX_ALIVE
    memory_fraction: float = defaults.ROUND_MEMORY_FRACTION

    def __post_init__(self) -> None:
        checks = {"block_s": (self.block_s, 0.001, 60.0), "max_time_s": (self.max_time_s, 0.0, 86400.0),
                  "target_ci": (self.target_ci, 0.0, 1.0), "memory_fraction": (self.memory_fraction, 0.01, 1.0)}
        for name, (value, low, high) in checks.items():
            if not isinstance(value, int | float) or isinstance(value, bool) or not low <= value <= high:
                raise ValueError(f"{name}={value!r} is invalid; allowed: a number from {low:g} to {high:g}")
        for name in ("min_rounds", "max_rounds", "processes", "max_alive", "seed"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < (0 if name == "seed" else 1):
                raise ValueError(f"{name}={value!r} is invalid; allowed: a whole number of at least "
                                 f"{0 if name == 'seed' else 1}")
        if self.max_rounds < self.min_rounds:
            raise ValueError(f"max_rounds={self.max_rounds} is invalid; allowed: at least min_rounds "
                             f"({self.min_rounds})")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Session(Protocol):
    """What the rounds need of a process (:class:`benchlib.system.child.ChildSession`, or a fake in tests)."""

    pid: int

    def call(self, target: str, payload: Any, timeout_s: float | None = None, what: str = "result") -> Any: ...

    def send(self, target: str, payload: Any) -> bool: ...

    def receive(self, timeout_s: float | None = None, what: str = "result") -> Any: ...

    def cpu_seconds(self) -> float: ...

    def close(self) -> None: ...


def in_rounds_mode(case: RunCase) -> bool:
    """Whether ``case`` is measured in rounds: precision mode, the single-call scenario, the engine's protocol.

    Fixed-time cases (``target_ci == 0``: the article protocol, the ablation, tests that fix their
    loop) and LoadGen scenarios keep their own protocols.
    """
    return case.target_ci > 0 and case.scenario == "single" and case.protocol == "engine"


def _start_session() -> Session:
    from benchlib.system.child import ChildSession

    return ChildSession()


@dataclass
class _Live:
    """One case in the rounds: its record so far, its processes and its blocks."""

    case: RunCase
    record: dict[str, Any]
    sessions: list[Session]
    block_ms: list[float] = field(default_factory=list)
    rounds: list[int] = field(default_factory=list)
    process: list[int] = field(default_factory=list)
    calls_ns: list[np.ndarray] = field(default_factory=list)
    idle_cpu_s: float = 0.0
    n_calls: int = 0
    idle_wall_s: float = 0.0
    notes: list[str] = field(default_factory=list)


def _rss_mb(record: dict[str, Any]) -> float:
    """The process's peak resident memory as its record gives it (0 when it gives none)."""
    for value in (record.get("rss_peak_mb"), (record.get("rss_mb") or {}).get("peak"), record.get("ru_maxrss_mb")):
        if isinstance(value, int | float) and value > 0:
            return float(value)
    return 0.0


def _available_mb() -> float:
    import psutil

    return psutil.virtual_memory().available / 2**20


def measure_in_rounds(cases: Sequence[RunCase], settings: RoundSettings | None = None,
                      on_record: Callable[[dict[str, Any]], None] | None = None,
                      start_session: Callable[[], Session] = _start_session,
                      log: Callable[[str], None] | None = None,
                      clock: Callable[[], float] = time.perf_counter) -> list[dict[str, Any]]:
    """Records of ``cases`` measured in interleaved rounds (see the module's docstring), in the given order."""
    settings = settings or RoundSettings()
    say = log or (lambda _message: None)
    budget_mb = _available_mb() * settings.memory_fraction
    records: list[dict[str, Any] | None] = [None] * len(cases)
    per_case_s = settings.max_time_s / max(1, len(cases))  # the run's rounds time, shared by case
    for planned in plan_groups(cases, settings.max_alive // settings.processes):
        group: list[tuple[int, _Live]] = []
        used_mb = 0.0
        for index in planned:
            case = cases[index]
            if used_mb > budget_mb:  # memory closed the group early: the rest waits for a group of its own
                say(f"rounds: group closed at {len(group)} case(s), {used_mb:,.0f} MB resident")
                _measure_group(group, settings, start_session, clock, say, records, on_record,
                               per_case_s * len(group))
                group, used_mb = [], 0.0
            live = _cold_start(case, start_session)
            say(f"  {case.label()}: {live.record.get('status')} (its own process, alone)")
            if live.record.get("status") != "ok":
                records[index] = live.record
                if on_record is not None:
                    on_record(live.record)
                continue
            group.append((index, live))
            used_mb += _rss_mb(live.record) * settings.processes
        _measure_group(group, settings, start_session, clock, say, records, on_record, per_case_s * len(group))
    return [r for r in records if r is not None]


def pair_key(case: RunCase) -> tuple[str, int, str]:
    """Cases with one key are compared with each other (frameworks, variants, precisions): they share rounds."""
    return (case.model, case.batch_size, str(case.threads))


def plan_groups(cases: Sequence[RunCase], max_cases: int) -> list[list[int]]:
    """Indices of ``cases`` in groups of at most ``max_cases``: whole sets of cases with one :func:`pair_key`
    where they fit (in the order their keys first appear), a set larger than a group split over several."""
    sets: dict[tuple[str, int, str], list[int]] = {}
    for index, case in enumerate(cases):
        sets.setdefault(pair_key(case), []).append(index)
    groups: list[list[int]] = []
    current: list[int] = []
    for members in sets.values():
        if current and len(current) + len(members) > max_cases:
            groups.append(current)
            current = []
        while len(members) > max_cases:
            groups.append(members[:max_cases])
            members = members[max_cases:]
        current += members
    if current:
        groups.append(current)
    return groups


def _measure_group(group: list[tuple[int, _Live]], settings: RoundSettings, start_session: Callable[[], Session],
                   clock: Callable[[], float], say: Callable[[str], None], records: list[dict[str, Any] | None],
                   on_record: Callable[[dict[str, Any]], None] | None, max_time_s: float) -> None:
    """Further processes, the rounds (for at most ``max_time_s`` after ``min_rounds``), then every record of
    the group (all its processes closed, whatever happens)."""
    if not group:
        return
    try:
        _more_processes(group, settings, start_session)
        _run_rounds(group, settings, clock, max_time_s)
    finally:
        for _, live in group:
            for session in live.sessions:
                session.close()
    group_id = uuid.uuid4().hex[:12]
    levels = _group_levels(group)
    first = group[0][1]
    say(f"rounds: {len(set(first.rounds))} round(s) of {len(group)} case(s), stopped at "
        f"{first.record.get('rounds', {}).get('stop')}; {levels.describe()}")
    for position, live in group:
        record = apply_rounds(live, levels, group_id, settings)
        records[position] = record
        if on_record is not None:
            on_record(record)


def _cold_start(case: RunCase, start_session: Callable[[], Session]) -> _Live:
    from benchlib.results.schema import failed_record

    session = start_session()
    result = session.call(PREPARE_TARGET, case.to_dict(), timeout_s=case.timeout_s, what="record")
    if not result.ok or not isinstance(result.value, dict):
        session.close()
        reason = result.error if not result.ok else "unreadable record"
        return _Live(case, failed_record(case, "failed", reason or "unknown failure",
                                         stderr_tail=getattr(result, "stderr_tail", "")), [])
    record = result.value
    record["child_wall_s"] = result.wall_s
    if record.get("status") != "ok":
        session.close()
        return _Live(case, record, [])
    return _Live(case, record, [session])


def _more_processes(group: list[tuple[int, _Live]], settings: RoundSettings,
                    start_session: Callable[[], Session]) -> None:
    """Each case's further processes, started :data:`PARALLEL_STARTS` at a time: their cold-start figures
    are never used (the record's come from the cold phase, where each process started alone)."""
    todo = [live for _ in range(settings.processes - 1) for _, live in group]
    for first in range(0, len(todo), PARALLEL_STARTS):
        batch = [(live, start_session()) for live in todo[first:first + PARALLEL_STARTS]]
        for live, session in batch:
            session.send(PREPARE_TARGET, {**live.case.to_dict(), "rounds_extra_process": True})
        for live, session in batch:
            result = session.receive(live.case.timeout_s, what="record")
            if result.ok and isinstance(result.value, dict) and result.value.get("status") == "ok":
                live.sessions.append(session)
            else:
                session.close()
                reason = result.error if not result.ok else (result.value or {}).get("error", "not ok")
                live.notes.append(f"an extra process could not start: {reason}")


def _run_rounds(group: list[tuple[int, _Live]], settings: RoundSettings, clock: Callable[[], float],
                max_time_s: float) -> None:
    rng = np.random.default_rng(settings.seed)
    started = clock()
    lives = [live for _, live in group]
    for round_number in range(settings.max_rounds):
        cpu_before = {id(s): s.cpu_seconds() for live in lives for s in live.sessions}
        round_start = clock()
        busy: dict[int, float] = {}
        for position in rng.permutation(len(lives)):
            live = lives[int(position)]
            if not live.sessions:
                continue
            which = round_number % len(live.sessions)
            session = live.sessions[which]
            result = session.call(BLOCK_TARGET, {"seconds": settings.block_s}, timeout_s=live.case.timeout_s,
                                  what="block")
            if not result.ok:
                live.notes.append(f"round {round_number}: process {which} failed ({result.error}); dropped")
                live.sessions.pop(which)
                continue
            block = result.value
            calls = np.asarray(block["calls_ns"], dtype=np.float64)
            live.calls_ns.append(calls)
            live.n_calls += int(block.get("n_calls", calls.size))
            live.block_ms.append(float(block.get("median_ns", np.median(calls))) / 1e6)
            live.rounds.append(round_number)
            live.process.append(which)
            busy[id(session)] = float(block.get("cpu_s", 0.0))
        round_wall = clock() - round_start
        for live in lives:
            for session in live.sessions:
                spent = session.cpu_seconds() - cpu_before.get(id(session), 0.0) - busy.get(id(session), 0.0)
                live.idle_cpu_s += max(0.0, spent)
                live.idle_wall_s += round_wall
        if round_number + 1 >= settings.min_rounds:
            widths = [rs.round_interval(live.block_ms, seed=settings.seed).halfwidth
                      for live in lives if live.block_ms]
            if widths and max(widths) <= settings.target_ci:
                _stop(lives, "target met")
                return
            if clock() - started >= max_time_s:
                _stop(lives, "max time")
                return
    _stop(lives, "max rounds")


def _stop(lives: Sequence[_Live], reason: str) -> None:
    for live in lives:
        live.record.setdefault("rounds", {})["stop"] = reason


def _group_levels(group: list[tuple[int, _Live]]) -> rs.MachineLevels:
    states = rs.round_states({str(i): (live.block_ms, live.rounds) for i, live in group if live.block_ms})
    return rs.machine_levels(list(states.values())) if states else rs.machine_levels([])


def apply_rounds(live: _Live, levels: rs.MachineLevels, group_id: str, settings: RoundSettings) -> dict[str, Any]:
    """The case's record with its latency from the rounds: median of block medians, round interval, levels.

    The worker's own timed loop (in the cold phase) stays as the ``within_process`` diagnostic: its
    interval is the median's precision *inside one process and one machine state*, never the answer's.
    """
    record = live.record
    if not live.block_ms:
        record.update(status="failed", error="no timed block completed in the rounds: " + "; ".join(live.notes))
        return record
    all_rounds = sorted({r for r in live.rounds})
    interval = rs.case_interval(live.block_ms, live.rounds, levels if levels.split else None,
                                all_rounds if levels.split else None, seed=settings.seed)
    calls = np.concatenate(live.calls_ns)
    stats = compute_stats(calls, batch_size=int(record.get("batch_size") or 1), seed=settings.seed)
    median_ms = interval.median
    stopping = record.get("stopping") or {}
    record["within_process"] = {
        "p50_ms": (record.get("latency_ms") or {}).get("p50"),
        "latency_ci95_ms": record.get("latency_ci95_ms"),
        "halfwidth": stopping.get("halfwidth"),
        "what": "the cold-phase timed loop's interval: one process, one machine state; a diagnostic only",
    }
    latency = stats.latency_ms()
    latency["p50"] = median_ms
    record["latency_ms"] = latency
    record["latency_ci95_ms"] = {"p50": [interval.low, interval.high],
                                 "p99": [v / 1e6 for v in stats.p99_ci95]}
    record["throughput_sps"] = float(record.get("batch_size") or 1) / (median_ms / 1e3) if median_ms > 0 else math.inf
    cold_p50 = ((record.get("within_process") or {}).get("p50_ms"))
    if isinstance(record.get("gflops"), int | float) and cold_p50 and median_ms > 0:
        record["gflops"] = record["gflops"] * cold_p50 / median_ms  # the same work over the rounds' median
    record["n_calls"] = live.n_calls  # every timed call of the rounds (the percentiles use a thinning)
    record["stopping"] = {**stopping, "halfwidth": interval.halfwidth, "target_ci": settings.target_ci,
                          "rule": "round interval (moving-block bootstrap over rounds and processes)"}
    samples, stride = subsample(calls, SAMPLES_KEPT)
    record["samples_ms"], record["samples_stride"] = samples, stride
    noisy = stats.noisy_reasons
    record["noisy"], record["noisy_reasons"] = bool(noisy), list(noisy)
    idle_share = live.idle_cpu_s / live.idle_wall_s if live.idle_wall_s > 0 else 0.0
    within = median_ci(np.asarray(live.block_ms, dtype=np.float64))
    record["rounds"] = {
        **record.get("rounds", {}),
        "group": group_id, "n": len(all_rounds), "processes": len(set(live.process)),
        "block_s": settings.block_s, "order_seed": settings.seed, "block_ms": live.block_ms,
        "round": live.rounds, "process": live.process, "interval": interval.to_dict(),
        "order_statistic_ci_ms": [within[1], within[2]], "idle_cpu_share": idle_share,
        "settings": settings.to_dict(), "notes": live.notes,
    }
    if idle_share > IDLE_CPU_LIMIT:
        live.notes.append(f"idle processes of this case used {idle_share:.1%} of a core while others measured")
    machine = levels.to_dict()
    if levels.split:
        fast, slow = rs.level_medians(live.block_ms, live.rounds, levels, all_rounds)
        machine["level_medians_ms"] = [fast, slow]
        record.setdefault("warnings", []).append(
            f"{levels.describe()} (this case: {fast:.4g} ms fast, {slow:.4g} ms slow)")
    if idle_share > IDLE_CPU_LIMIT:
        record.setdefault("warnings", []).append(live.notes[-1])
    record["machine_levels"] = machine
    return record
