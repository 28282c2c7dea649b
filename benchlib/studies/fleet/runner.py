"""Run a sweep on every machine of a Dask cluster: one job per task, one benchmark per host at a time.

Every machine (hosts with one fingerprint, :func:`benchlib.studies.fleet.cluster.group_machines`) runs the
whole list of cases its builder gives, spread over its hosts, so frameworks are always compared on
one machine and a fleet of Intel, AMD and Arm hosts gives one sweep per CPU type. Each job
(:mod:`benchlib.studies.fleet.jobs`) is a Dask task asking for the ``benchmark`` resource: the cases in
precision mode that are compared with each other (one ``pair_key``) are measured together in interleaved
rounds on one host, as ``run`` measures them (:mod:`benchlib.engine.rounds`), so their intervals hold the
variation between rounds and processes and their ratios are paired; any other case runs once through
``run_case`` in its own process. The client submits no more jobs to a machine than it has live hosts,
so no job waits in the queue of a host that may die.

A host that dies mid-job (its worker process killed, the machine gone) costs the cases of that job
that had no record yet: each gets a ``failed`` record naming the host, and they are sent again
together, with Dask's worker restrictions, to the other live hosts of the same machine (at most
``retries`` times per case). Records are appended to the results file as they arrive (a job in rounds
publishes each on the run's event topic as soon as it exists); a re-run skips cases settled (``ok``
or ``skipped``) on that machine, like ``sweep``.
"""

from __future__ import annotations

import contextlib
import dataclasses
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
from benchlib.engine.rounds import RoundSettings, in_rounds_mode
from benchlib.results.records import case_key
from benchlib.studies.fleet import RESOURCE
from benchlib.studies.fleet.cluster import Host, Machine, benchmark_workers
from benchlib.studies.fleet.jobs import Attempt, CaseState, Job, annotate, plan_jobs, progress_line
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
        self.queues: dict[str, deque[Job]] = {m.key: deque() for m in self.machines}
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
        """Annotate ``record`` with its host, machine and attempt ``number``; append it to the results file; say so."""
        from benchlib.results.store import append_record

        append_record(self.path, annotate(record, state.machine, host, number, self.scheduler, self.local))
        self.result.records.append(record)
        self.say(f"[{self.finished}/{self.todo}] {progress_line(record, state.case, host)}")

    def take(self, attempt: Attempt, record: Any, worker: str | None) -> None:
        """Save ``record``, returned or published by ``attempt``'s task, unless its case has one from it already."""
        state = attempt.state_of(record) if isinstance(record, dict) else None
        if state is None or state.case.case_key in attempt.recorded:
            return
        attempt.recorded.add(state.case.case_key)
        host = self.hosts.get(worker) if worker else None
        self.finished += 1
        self.write(record, state, host, state.deaths + 1)  # Dask may have retried it itself

    def fail_pending(self, attempt: Attempt, reason: str) -> None:
        """A ``failed`` record for each case of ``attempt`` without a record: the task ended without one."""
        from benchlib.results.schema import failed_record

        host = self.hosts.get(attempt.started_on[-1]) if attempt.started_on else None
        for state in attempt.pending():
            record = failed_record(state.case, "failed", reason)
            attempt.recorded.add(state.case.case_key)
            self.finished += 1
            self.write(record, state, host, state.deaths + 1)

    # -- submitting ---------------------------------------------------------------------------------

    def live_hosts(self, machine: Machine) -> list[str]:
        return [h.worker for h in machine.hosts if h.worker in self.alive]

    def submit(self) -> None:
        """Send queued jobs to each machine while it has more live hosts than jobs in flight."""
        for machine in self.machines:
            pending = self.queues[machine.key]
            live = self.live_hosts(machine)
            if not live:
                while pending:  # nobody left to run them: say so, a re-run resumes them
                    for state in pending.popleft().states:
                        self.result.not_run.append((state.case, machine, f"no live host of {machine.label} left"))
                continue
            busy = sum(1 for a in self.inflight.values() if a.job.machine is machine)
            while pending and busy < len(live):
                job = pending.popleft()
                dead = set().union(*(state.dead_workers for state in job.states))
                eligible = [w for w in live if w not in dead]
                if not eligible:
                    for state in job.states:
                        self.finished += 1
                        self.result.gave_up.append((state.case, machine, "no other live host of its machine"))
                    continue
                key = f"benchlib-case-{job.states[0].case.case_key}-{uuid.uuid4().hex[:8]}"
                function, args = job.task(self.topic, key)
                future = self.client.submit(function, *args, key=key, resources={RESOURCE: 1}, workers=eligible,
                                            allow_other_workers=False, pure=False, retries=0)
                self.inflight[key] = Attempt(job, key, future, eligible)
                self.completed.add(future)
                busy += 1

    # -- hearing back -------------------------------------------------------------------------------

    def drain_events(self) -> None:
        """Note where each job started, and save each record a job in rounds published."""
        while True:
            try:
                _, message = self.events.get_nowait()
            except queue.Empty:
                return
            attempt = self.inflight.get(message.get("attempt")) if isinstance(message, dict) else None
            if attempt is None:  # a job already finished: what it published came back with its result
                continue
            worker = message.get("worker")
            if worker not in attempt.started_on:
                attempt.started_on.append(worker)
            if "record" in message:
                self.take(attempt, message["record"], worker)

    def host_died(self, attempt: Attempt, worker: str) -> bool:
        """Note that ``worker`` died holding ``attempt``; write a ``failed`` record for each of its cases without a
        record if it had started there.

        Returns whether the job had started on it. Called once per (attempt, worker), whichever
        notices first: the scheduler's worker list or the task's ``KilledWorker`` error.
        """
        from benchlib.results.schema import failed_record

        started = worker in attempt.started_on
        if worker in attempt.lost_on:
            return started
        attempt.lost_on.add(worker)
        host = self.hosts.get(worker)
        name = host.label if host else worker
        for state in attempt.pending():
            state.dead_workers.add(worker)
            if not started:
                state.unstarted += 1
                continue
            state.deaths += 1
            record = failed_record(state.case, "failed", f"host {name} was lost mid-case: its worker process died "
                                                         "or the host went down")
            self.write(record, state, host, state.deaths)
        return started

    def check_workers(self) -> None:
        """Notice hosts that left the cluster; jobs stuck on no live host go back to the queue."""
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

    def requeue(self, attempt: Attempt) -> bool:
        """Queue again, as one job, the cases of ``attempt`` that have no record and may be retried; returns
        whether any were."""
        again = []
        for state in attempt.pending():
            if state.deaths > self.retries:
                self.finished += 1
                self.result.gave_up.append((state.case, state.machine, f"its host died {state.deaths} time(s); "
                                                                       f"retries={self.retries}"))
            elif state.unstarted > MAX_UNSTARTED_LOSSES:
                self.fail_unstarted(state)
            else:
                again.append(state)
        if again:
            self.queues[attempt.job.machine.key].appendleft(dataclasses.replace(attempt.job, states=again))
        return bool(again)

    def fail_unstarted(self, state: CaseState) -> None:
        from benchlib.results.schema import failed_record

        reason = (f"{state.unstarted} host(s) died while this case waited on them "
                  f"(last: {sorted(state.dead_workers)[-1]}); not sent again")
        record = failed_record(state.case, "failed", reason)
        self.finished += 1
        self.write(record, state, None, state.deaths + 1)
        self.result.gave_up.append((state.case, state.machine, reason))

    def finish(self, future: Any) -> None:
        """Handle one finished task: store its records, or note the lost host and retry elsewhere."""
        from distributed import KilledWorker

        attempt = self.inflight.pop(future.key, None)
        if attempt is None:  # cancelled by check_workers and already requeued
            future.release()
            return
        if future.status == "finished":
            payload = future.result()
            records = payload["records"] if "records" in payload else [payload["record"]]
            for record in records:
                self.take(attempt, record, payload["worker"])
            self.fail_pending(attempt, "the host's task returned no record for this case")
        elif future.status == "error" and isinstance(future.exception(), KilledWorker):
            worker = future.exception().last_worker.address
            self.host_died(attempt, worker)
            if self.requeue(attempt):
                self.say(f"    {attempt.job.label()}: sent again to another host of {attempt.job.machine.label}")
        elif future.status == "error":
            exc = future.exception()
            self.fail_pending(attempt, f"the fleet task failed: {type(exc).__name__}: {exc}")
        else:  # cancelled: the scheduler went away (its cases are then all abandoned) or someone cancelled it
            lost = self.client.status != "running"
            reason = f"lost the connection to the scheduler {self.scheduler}" if lost else f"task {future.status}"
            self.result.not_run.extend((state.case, state.machine, reason) for state in attempt.pending())
        future.release()

    # -- the loop -----------------------------------------------------------------------------------

    def run(self) -> None:
        from distributed import as_completed

        from benchlib.studies.fleet.task import forgetter

        self.completed = as_completed(loop=self.client.loop)
        self.todo = sum(len(job.states) for q in self.queues.values() for job in q)
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
                with contextlib.suppress(Exception):  # if the scheduler cannot, its events merely stay
                    self.client.run_on_scheduler(forgetter(self.topic))

    def abandon(self, reason: str) -> None:
        """Give up on every case queued or in flight (a re-run resumes them)."""
        for attempt in self.inflight.values():
            self.result.not_run.extend((state.case, state.machine, reason) for state in attempt.pending())
        self.inflight.clear()
        for machine in self.machines:
            while self.queues[machine.key]:
                for state in self.queues[machine.key].popleft().states:
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
    rounds: RoundSettings | bool | None = None,
) -> FleetResult:
    """Run ``cases_for(machine)`` on each machine's hosts; append every record to ``results_path`` (cases settled
    there on their machine are not run again, unless ``fresh``).

    ``machines`` come from :func:`benchlib.studies.fleet.cluster.group_machines`. ``retries``: how often a
    case whose host died mid-case is sent to another live host of its machine. ``local`` marks
    every record co-located (``fleet --local``). ``rounds``: the settings of the interleaved rounds of the
    cases in precision mode, with the rounds time of each machine's whole list (default: ``run``'s,
    :func:`benchlib.engine.launcher.round_settings`), or ``False`` to run every case once. On Ctrl-C, jobs in
    flight are cancelled, the records already written stay, and ``KeyboardInterrupt`` propagates.
    """
    from benchlib.engine.launcher import round_settings
    from benchlib.studies.fleet.task import clear_batch_start, mark_batch_start
    from benchlib.system.env import BATCH_LOAD_ENV

    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 100:
        raise ValueError(f"retries={retries!r} is invalid; allowed: an integer from 0 to 100")
    if rounds is not None and not isinstance(rounds, RoundSettings | bool):
        raise TypeError(f"rounds={rounds!r:.80} ({type(rounds).__name__}) is invalid; allowed: a RoundSettings, "
                        "True or None (run's settings) or False (every case once)")
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
        settings = rounds if isinstance(rounds, RoundSettings) else None if rounds is False else round_settings(
            [case for case in plan.todo if in_rounds_mode(case)])
        fleet.queues[machine.key].extend(plan_jobs([CaseState(case, machine) for case in plan.todo], settings))
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
