"""Run a sweep on every machine of a Dask cluster: one case per task, one benchmark per host at a time.

Every machine (hosts with one fingerprint, :func:`benchlib.studies.fleet.cluster.group_machines`) runs the
whole list of cases its builder gives, spread over its hosts, so frameworks are always compared on
one machine and a fleet of Intel, AMD and Arm hosts gives one sweep per CPU type. Each case is a
Dask task asking for the ``benchmark`` resource; on its host it runs through ``run_case`` in its
own process. The client submits no more cases to a machine than it has live hosts, so no case
waits in the queue of a host that may die.

A host that dies mid-case (its worker process killed, the machine gone) costs that case only: the
case gets a ``failed`` record naming the host, and is sent again, with Dask's worker restrictions,
to the other live hosts of the same machine (at most ``retries`` times). Records are appended to
the results file as they arrive; a re-run skips cases settled (``ok`` or ``skipped``) on that
machine, like ``sweep``.
"""

from __future__ import annotations

import queue
import sys
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchlib.engine.case import RunCase
from benchlib.results.records import case_key
from benchlib.studies.fleet import RESOURCE
from benchlib.studies.fleet.cluster import Host, Machine, benchmark_workers, colocation_warning
from benchlib.studies.plan import StudyRun, plan_study

#: How often the loop looks for finished cases, and how often it asks the scheduler which hosts live.
POLL_S = 0.1
WORKER_CHECK_S = 1.0
#: A case waiting on a host that dies before it starts loses nothing; it is sent again, at most this often.
MAX_UNSTARTED_LOSSES = 3
#: Retries of a case whose host died mid-case, by default (a case that kills hosts would take down
#: every host of its machine if retried without bound).
DEFAULT_RETRIES = 1
RESUME_HINT = "A fleet resumes by itself: run the same command again."


@dataclass
class CaseState:
    """One case on one machine, across its attempts."""

    case: RunCase
    machine: Machine
    deaths: int = 0  # hosts that died while running it
    unstarted: int = 0  # hosts that died while it waited on them
    dead_workers: set[str] = field(default_factory=set)


@dataclass
class Attempt:
    """One submission of a case: its Dask future and where it started."""

    state: CaseState
    key: str
    future: Any
    eligible: list[str]
    started_on: list[str] = field(default_factory=list)  # workers that announced its start
    lost_on: set[str] = field(default_factory=set)


@dataclass(kw_only=True)
class FleetResult(StudyRun):
    """What one call of :func:`run_fleet` did (``resumed``: cases already settled on their machine)."""

    machines: list[Machine]
    not_run: list[tuple[RunCase, Machine, str]] = field(default_factory=list)  # never measured now, and why
    gave_up: list[tuple[RunCase, Machine, str]] = field(default_factory=list)  # failed, not retried, and why

    def final(self) -> dict[tuple[str, str], dict[str, Any]]:
        """The last record of each (machine, case) written now: what a retry ended in."""
        return {(r.get("fleet", {}).get("machine_key"), case_key(r)): r for r in self.records}

    @property
    def complete(self) -> bool:
        """Every planned case ended ``ok`` or ``skipped`` (now or before)."""
        return not self.not_run and all(r.get("status") != "failed" for r in self.final().values())


def settled_keys(results_path: str | Path, machines: Sequence[Machine]) -> dict[str, set[str]]:
    """``case_key`` of the cases settled (``ok``/``skipped``) on each machine in ``results_path``.

    A study's resume rule (:mod:`benchlib.studies.plan`), per machine: a record counts for the machine whose
    key (machine fingerprint and environment) its own fingerprint gives.
    """
    from benchlib.results.records import SETTLED
    from benchlib.results.resume import done_keys_by
    from benchlib.system.env import machine_key

    done = done_keys_by(results_path, lambda r: f"{machine_key(r.get('env'))}/{r.get('env_key')}", SETTLED)
    return {m.key: done.get(m.key, set()) for m in machines}


class _Fleet:
    """The state of one fleet run (see :func:`run_fleet`)."""

    def __init__(self, client: Any, machines: Sequence[Machine], results_path: Path, retries: int, local: bool,
                 scheduler: str, progress: bool, result: FleetResult) -> None:
        self.client, self.machines, self.path = client, list(machines), results_path
        self.retries, self.local, self.scheduler, self.progress = retries, local, scheduler, progress
        self.result = result
        self.hosts = {h.worker: h for m in self.machines for h in m.hosts}
        self.alive = set(self.hosts)
        self.queues: dict[str, deque[CaseState]] = {m.key: deque() for m in self.machines}
        self.inflight: dict[str, Attempt] = {}
        self.topic = f"benchlib-fleet-{uuid.uuid4().hex[:12]}"
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self.todo = 0
        self.finished = 0
        self.completed: Any = None  # distributed.as_completed of the futures in flight, made by run()

    # -- output --------------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        if self.progress:
            print(text, file=sys.stderr, flush=True)

    def write(self, record: dict[str, Any], state: CaseState, host: Host | None, number: int) -> None:
        """Annotate ``record`` with its host, machine and attempt ``number``; append it to the results file."""
        from benchlib.results.store import append_record

        record["fleet"] = {"host": host.name if host else None, "worker": host.worker if host else None,
                           "ip": host.ip if host else None, "attempt": number, "scheduler": self.scheduler,
                           "colocated_workers": host.colocated if host else None, "local": self.local,
                           "machine_key": state.machine.key}
        env = host.env if host else state.machine.env
        if not isinstance(record.get("env"), dict):  # a child that died early wrote no fingerprint
            record["env"], record["env_key"] = env, env.get("key")
        warning = colocation_warning(host, self.local) if host else None
        if warning:
            record["warnings"] = [*(record.get("warnings") or []), warning]
        append_record(self.path, record)
        self.result.records.append(record)

    def tell(self, record: dict[str, Any], state: CaseState, host: Host | None) -> None:
        where = host.label if host else "no host"
        status = record.get("status")
        if status == "ok":
            detail = f"p50 {record.get('latency_ms', {}).get('p50') or float('nan'):.4g} ms"
        else:
            detail = str(record.get("error") or "")[:200]
        self.say(f"[{self.finished}/{self.todo}] {state.case.label()} on {where}: {status}, {detail}")

    # -- submitting ---------------------------------------------------------------------------------

    def live_hosts(self, machine: Machine) -> list[str]:
        return [h.worker for h in machine.hosts if h.worker in self.alive]

    def submit(self) -> None:
        """Send queued cases to each machine while it has more live hosts than cases in flight."""
        from benchlib.studies.fleet.task import run_on_host

        for machine in self.machines:
            pending = self.queues[machine.key]
            live = self.live_hosts(machine)
            if not live:
                while pending:  # nobody left to run them: say so, a re-run resumes them
                    state = pending.popleft()
                    self.result.not_run.append((state.case, machine, f"no live host of {machine.label} left"))
                continue
            busy = sum(1 for a in self.inflight.values() if a.state.machine is machine)
            while pending and busy < len(live):
                state = pending.popleft()
                eligible = [w for w in live if w not in state.dead_workers]
                if not eligible:
                    self.finished += 1
                    self.result.gave_up.append((state.case, machine, "no other live host of its machine"))
                    continue
                key = f"benchlib-case-{state.case.case_key}-{uuid.uuid4().hex[:8]}"
                future = self.client.submit(run_on_host, state.case.to_dict(), self.topic, key, key=key,
                                            resources={RESOURCE: 1}, workers=eligible, allow_other_workers=False,
                                            pure=False, retries=0)
                self.inflight[key] = Attempt(state, key, future, eligible)
                self.completed.add(future)
                busy += 1

    # -- hearing back -------------------------------------------------------------------------------

    def drain_events(self) -> None:
        while True:
            try:
                _, message = self.events.get_nowait()
            except queue.Empty:
                return
            attempt = self.inflight.get(message.get("attempt")) if isinstance(message, dict) else None
            if attempt is not None and message.get("worker") not in attempt.started_on:
                attempt.started_on.append(message["worker"])

    def host_died(self, attempt: Attempt, worker: str) -> bool:
        """Note that ``worker`` died holding ``attempt``; write the case's ``failed`` record if it had started there.

        Returns whether the case had started on it. Called once per (attempt, worker), whichever
        notices first: the scheduler's worker list or the task's ``KilledWorker`` error.
        """
        from benchlib.results.schema import failed_record

        if worker in attempt.lost_on:
            return worker in attempt.started_on
        attempt.lost_on.add(worker)
        state = attempt.state
        state.dead_workers.add(worker)
        if worker not in attempt.started_on:
            state.unstarted += 1
            return False
        state.deaths += 1
        host = self.hosts.get(worker)
        name = host.label if host else worker
        record = failed_record(state.case, "failed", f"host {name} was lost mid-case: its worker process died or "
                                                     "the host went down")
        self.write(record, state, host, state.deaths)
        self.tell(record, state, host)
        return True

    def check_workers(self) -> None:
        """Notice hosts that left the cluster; cases stuck on no live host go back to the queue."""
        alive = set(benchmark_workers(self.client)) & set(self.hosts)
        for worker in self.alive - alive:
            host = self.hosts[worker]
            self.say(f"host {host.label} left the cluster")
            for attempt in list(self.inflight.values()):
                if worker in attempt.started_on:
                    self.host_died(attempt, worker)
        self.alive = alive
        for key, attempt in list(self.inflight.items()):
            if not set(attempt.eligible) & alive:  # Dask would wait for these hosts forever
                attempt.future.cancel()
                del self.inflight[key]
                self.requeue(attempt)

    def requeue(self, attempt: Attempt) -> None:
        state = attempt.state
        if state.deaths > self.retries:
            self.finished += 1
            self.result.gave_up.append((state.case, state.machine, f"its host died {state.deaths} time(s); "
                                                                   f"retries={self.retries}"))
        elif state.unstarted > MAX_UNSTARTED_LOSSES:
            self.fail_unstarted(attempt)
        else:
            self.queues[state.machine.key].appendleft(state)

    def fail_unstarted(self, attempt: Attempt) -> None:
        from benchlib.results.schema import failed_record

        state = attempt.state
        reason = (f"{state.unstarted} host(s) died while this case waited on them "
                  f"(last: {sorted(state.dead_workers)[-1]}); not sent again")
        record = failed_record(state.case, "failed", reason)
        self.finished += 1
        self.write(record, state, None, state.deaths + 1)
        self.tell(record, state, None)
        self.result.gave_up.append((state.case, state.machine, reason))

    def finish(self, future: Any) -> None:
        """Handle one finished task: store its record, or note the lost host and retry elsewhere."""
        from distributed import KilledWorker

        from benchlib.results.schema import failed_record

        attempt = self.inflight.pop(future.key, None)
        if attempt is None:  # cancelled by check_workers and already requeued
            future.release()
            return
        state = attempt.state
        if future.status == "finished":
            payload = future.result()
            host = self.hosts.get(payload["worker"])
            self.finished += 1
            self.write(payload["record"], state, host, state.deaths + 1)  # Dask may have retried it itself
            self.tell(payload["record"], state, host)
        elif future.status == "error" and isinstance(future.exception(), KilledWorker):
            worker = future.exception().last_worker.address
            self.host_died(attempt, worker)
            self.requeue(attempt)
            if self.queues[state.machine.key] and self.queues[state.machine.key][0] is state:
                self.say(f"    {state.case.label()}: sent again to another host of {state.machine.label}")
        elif future.status == "error":
            exc = future.exception()
            host = self.hosts.get(attempt.started_on[-1]) if attempt.started_on else None
            record = failed_record(state.case, "failed", f"the fleet task failed: {type(exc).__name__}: {exc}")
            self.finished += 1
            self.write(record, state, host, state.deaths + 1)
            self.tell(record, state, host)
        else:  # cancelled: the scheduler went away (its cases are then all abandoned) or someone cancelled it
            lost = self.client.status != "running"
            self.result.not_run.append((state.case, state.machine, f"lost the connection to the scheduler "
                                        f"{self.scheduler}" if lost else f"task {future.status}"))
        future.release()

    # -- the loop -----------------------------------------------------------------------------------

    def run(self) -> None:
        from distributed import as_completed

        self.completed = as_completed(loop=self.client.loop)
        self.todo = sum(len(q) for q in self.queues.values())
        self.client.subscribe_topic(self.topic, self.events.put)
        checked = time.monotonic()
        try:
            while any(self.queues.values()) or self.inflight:
                if self.client.status != "running":
                    if self.client.status in ("closing", "closed"):  # Dask gave up reconnecting
                        self.abandon(f"lost the connection to the scheduler {self.scheduler}")
                        break
                    time.sleep(POLL_S)  # reconnecting: which hosts live is unknown meanwhile
                    continue
                if time.monotonic() - checked >= WORKER_CHECK_S:
                    self.check_workers()
                    checked = time.monotonic()
                self.submit()
                done = self.completed.next_batch(block=False)
                self.drain_events()  # after the batch: a start announced before its end is seen
                for future in done:
                    self.finish(future)
                if not done:
                    time.sleep(POLL_S)
        finally:
            if self.client.status == "running":
                for attempt in self.inflight.values():  # interrupted or failed: nothing keeps running for us
                    attempt.future.cancel()
                self.client.unsubscribe_topic(self.topic)

    def abandon(self, reason: str) -> None:
        """Give up on every case queued or in flight (a re-run resumes them)."""
        for attempt in self.inflight.values():
            self.result.not_run.append((attempt.state.case, attempt.state.machine, reason))
        self.inflight.clear()
        for machine in self.machines:
            while self.queues[machine.key]:
                state = self.queues[machine.key].popleft()
                self.result.not_run.append((state.case, machine, reason))


def run_fleet(
    client: Any,
    machines: Sequence[Machine],
    cases_for: Callable[[Machine], Sequence[RunCase]],
    results_path: str | Path,
    retries: int = DEFAULT_RETRIES,
    local: bool = False,
    scheduler: str = "",
    progress: bool = True,
    fresh: bool = False,
) -> FleetResult:
    """Run ``cases_for(machine)`` on each machine's hosts; append every record to ``results_path`` (cases settled
    there on their machine are not run again, unless ``fresh``).

    ``machines`` come from :func:`benchlib.studies.fleet.cluster.group_machines`. ``retries``: how often a
    case whose host died mid-case is sent to another live host of its machine. ``local`` marks
    every record co-located (``fleet --local``). On Ctrl-C, cases in flight are cancelled, the
    records already written stay, and ``KeyboardInterrupt`` propagates.
    """
    from benchlib.studies.fleet.task import clear_batch_start, mark_batch_start
    from benchlib.system.env import BATCH_LOAD_ENV

    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 100:
        raise ValueError(f"retries={retries!r} is invalid; allowed: an integer from 0 to 100")
    started = time.perf_counter()
    path = Path(results_path)
    result = FleetResult(machines=list(machines), results_path=path)
    fleet = _Fleet(client, machines, path, retries, local, scheduler, progress, result)
    settled = settled_keys(path, machines)  # one read of the file: every machine's settled cases
    for machine in machines:
        plan = plan_study("fleet", cases_for(machine), path, resume_hint=RESUME_HINT, done=settled[machine.key],
                          fresh=fresh)
        result.planned += plan.planned
        result.resumed += plan.resumed
        fleet.queues[machine.key].extend(CaseState(case, machine) for case in plan.todo)
    if result.resumed:
        fleet.say(f"fleet: resuming, {result.resumed} of {result.planned} case(s) already done in {path}")
    marked = client.run(mark_batch_start, BATCH_LOAD_ENV, fleet.topic, workers=list(fleet.hosts), on_error="return")
    try:
        fleet.run()
    except KeyboardInterrupt:
        print(f"\ninterrupted after {len(result.records)} record(s); completed records are saved in {path}. "
              f"{RESUME_HINT}", file=sys.stderr)
        raise
    finally:
        ours = [w for w, value in marked.items() if value is True and w in fleet.alive]
        if ours and client.status == "running":
            client.run(clear_batch_start, BATCH_LOAD_ENV, fleet.topic, workers=ours, on_error="ignore")
        result.wall_s = time.perf_counter() - started
    return result
