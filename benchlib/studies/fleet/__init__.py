"""Fleet runs: one sweep spread over the hosts of a Dask distributed cluster, one benchmark per host at a time.

Each case runs as one Dask task that calls :func:`benchlib.engine.launcher.run_case` on a worker
host (a case dict in, a record dict out), so it still runs in its own isolated process there. The
records come back to the local results store with the host's fingerprint and its name and address.
See docs/fleet.md for running it on several hosts, and :func:`benchlib.studies.fleet.views.machine_views`
for the per-machine and cross-machine tables of the records.

Importing this package does not import Dask: only :mod:`benchlib.studies.fleet.cluster` and the runner do.
"""

from __future__ import annotations

#: The worker resource each case asks for: a host started with ``--resources benchmark=1`` runs one
#: benchmark at a time, whichever client submitted it.
RESOURCE = "benchmark"

__all__ = ["RESOURCE"]
