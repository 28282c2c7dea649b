"""Fleet runs: one sweep spread over the hosts of a Dask distributed cluster, one benchmark per host at a time.

Each machine's cases in precision mode that are compared with each other (one
:func:`benchlib.engine.rounds.pair_key`) run as one Dask task on one worker host, which measures them in
interleaved rounds over warm processes through :func:`benchlib.engine.launcher.run_cases`, as ``run``
does; every other case runs as one task that calls :func:`benchlib.engine.launcher.run_case` (a case
dict in, a record dict out), in its own isolated process there (:mod:`benchlib.studies.fleet.jobs`).
The records come back to the local results store with the host's fingerprint and its name and address.
See docs/fleet.md for running it on several hosts, and :func:`benchlib.report.fleet.machine_views`
for the per-machine and cross-machine tables of the records.

Importing this package does not import Dask: only :mod:`benchlib.studies.fleet.cluster` and the runner do.
"""

from __future__ import annotations

from typing import Any

#: The worker resource each task asks for: a host started with ``--resources benchmark=1`` runs one
#: benchmark at a time, whichever client submitted it.
RESOURCE = "benchmark"

#: Dask worker housekeeping slowed down so that it barely runs beside a benchmark: the statistical
#: profiler (every 10 ms by default), event-loop checks (20 ms), system and memory monitors (0.5 s,
#: 0.1 s). With the defaults an idle worker's housekeeping takes a few percent of a core, which lands on the
#: core a benchmark measures on; these settings bring it near zero.
QUIET_WORKER_CONFIG: dict[str, Any] = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "10s",
    "distributed.worker.memory.monitor-interval": "10s",
}

__all__ = ["QUIET_WORKER_CONFIG", "RESOURCE"]
