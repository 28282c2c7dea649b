"""A sweep on a fleet, end to end: connect (or start a local cluster), find the machines, build each one's cases, run.

The cases are the sweep's (:func:`benchlib.studies.sweep.build_cases`, the one case grid), built per
machine: thread counts left to their default, or given as ``cores``, follow that machine's usable
cores, not those of the machine the command runs on. Like every study (:mod:`benchlib.studies.plan`), a
fleet sweep has a fixed results file and plans each machine's cases once against that machine's records.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from benchlib.engine.case import RunCase
from benchlib.studies.fleet.cluster import DEFAULT_CONNECT_TIMEOUT_S, Machine
from benchlib.studies.fleet.runner import DEFAULT_RETRIES, FleetResult
from benchlib.studies.plan import results_file
from benchlib.studies.sweep import SweepConfig


def machine_threads(requested: Sequence[int | str] | None, quick: bool, env: dict[str, Any]) -> tuple[int, ...]:
    """Thread counts on the machine of fingerprint ``env``: like the sweep's, with that machine's usable cores.

    ``None``: 1 up to its usable cores (``quick``: its usable cores only); ``"cores"`` in the list:
    its usable cores; integers stay as they are.
    """
    from benchlib.engine.params import check_thread_settings, thread_count

    usable = int(env.get("usable_cores") or 1)
    if requested is None:
        return (usable,) if quick else tuple(range(1, usable + 1))
    # checked where they entered (the CLI's --threads) or here; "cores" is counted on that machine
    settings = check_thread_settings(requested, explicit=True)
    return tuple(dict.fromkeys(thread_count(setting, usable) for setting in settings))


def sweep_cases_for(config: SweepConfig,
                    threads: Sequence[int | str] | None = None) -> Callable[[Machine], list[RunCase]]:
    """The case builder of a fleet sweep: ``config``'s cases on each machine, threads per :func:`machine_threads`.

    ``threads`` is what the user asked for (``None``: the default), since ``config.threads`` was
    resolved on this machine.
    """
    from benchlib.studies.sweep import build_cases

    def cases_for(machine: Machine) -> list[RunCase]:
        counts = machine_threads(threads, config.quick, machine.env)
        return build_cases(dataclasses.replace(config, threads=counts))

    return cases_for


def default_results_path(quick: bool = False, folder: str | os.PathLike | None = None) -> Path:
    """``fleet.jsonl`` (``fleet-quick.jsonl`` for quick sweeps) in ``folder`` (default: ``outputs/results``):
    fixed, so re-runs resume."""
    return results_file("fleet", quick, folder)


@contextlib.contextmanager
def fleet_client(scheduler: str | None = None, local: int | None = None,
                 connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S) -> Iterator[tuple[Any, str]]:
    """``(client, scheduler address)`` of the cluster at ``scheduler``, or of a new local one of ``local`` workers.

    Raises :class:`benchlib.studies.fleet.cluster.FleetError` when the scheduler does not answer in time.
    """
    from benchlib.studies.fleet.cluster import connect, local_cluster

    if (scheduler is None) == (local is None):
        raise ValueError(f"scheduler={scheduler!r}, local={local!r} is invalid; allowed: exactly one of them")
    if local is not None:
        with local_cluster(local) as client:
            yield client, client.scheduler.address
        return
    client = connect(scheduler, connect_timeout_s)
    try:
        yield client, scheduler
    finally:
        client.close()


def describe_machines(machines: Sequence[Machine], address: str) -> str:
    """Which machines and hosts a fleet run uses, one line each."""
    hosts = sum(len(m.hosts) for m in machines)
    lines = [f"fleet: {len(machines)} machine(s), {hosts} host(s) at {address}"]
    for number, machine in enumerate(machines, start=1):
        names = ", ".join(h.label for h in machine.hosts)
        lines.append(f"  M{number} {machine.label} [{machine.key}]: {names}")
    for host in (h for m in machines for h in m.hosts if h.loud):
        lines.append(f"note: worker {host.label} runs Dask housekeeping beside each benchmark more often than "
                     f"needed ({', '.join(host.loud)}): about 4% of one core; start it with the settings in "
                     "docs/fleet.md")
    return "\n".join(lines)


def fleet_sweep(
    config: SweepConfig,
    scheduler: str | None = None,
    local: int | None = None,
    results_path: str | os.PathLike | None = None,
    threads: Sequence[int | str] | None = None,
    retries: int = DEFAULT_RETRIES,
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
    progress: bool = True,
    fresh: bool = False,
) -> FleetResult:
    """Run the sweep ``config`` on every machine of the cluster at ``scheduler`` (or of ``local`` workers here).

    Every machine (hosts sharing a fingerprint) runs all of the sweep's cases, spread over its
    hosts, one benchmark per host at a time; records are appended to ``results_path`` (default:
    :func:`default_results_path`); cases settled there are not run again, unless ``fresh``. Raises
    :class:`benchlib.studies.fleet.cluster.FleetError` when the scheduler does not answer, has no benchmark
    worker, or a worker cannot run this benchlib. A user's model in
    ``config`` is refused (``ValueError``): each host would need its file, or the factory's package and export.
    """
    from benchlib.engine.params import check_models
    from benchlib.studies.fleet.cluster import group_machines, survey
    from benchlib.studies.fleet.runner import run_fleet

    check_models(config.models, "models", zoo_only=True)
    path = Path(results_path) if results_path is not None else default_results_path(config.quick)
    with fleet_client(scheduler, local, connect_timeout_s) as (client, address):
        machines = group_machines(survey(client, connect_timeout_s, address))
        if progress:
            print(describe_machines(machines, address), file=sys.stderr)
            if local is not None:
                print(f"warning: --local {local} runs up to {local} benchmark(s) at once on this machine, beside the "
                      "scheduler and the client; two benchmarks on one host corrupt each other's numbers, so every "
                      "record is marked co-located: use it to try the fleet, not to compare frameworks",
                      file=sys.stderr)
        return run_fleet(client, machines, sweep_cases_for(config, threads), path, retries=retries,
                         local=local is not None, scheduler=address, progress=progress, fresh=fresh)
