"""What runs on a worker host: its facts (fingerprint, host name) and one case per task.

These functions are sent to the workers by reference (module and name), so every host needs the
same benchlib installed; the case and its record travel as plain JSON-able dicts.
"""

from __future__ import annotations

import os
import socket
from typing import Any


def host_facts(dask_worker: Any = None) -> dict[str, Any]:
    """This worker's host: name, fingerprint (:func:`benchlib.system.env.collect_env`), benchlib version, pid, and
    the Dask settings of its housekeeping (:data:`benchlib.studies.fleet.QUIET_WORKER_CONFIG`).

    Called through ``Client.run``, which passes the worker as ``dask_worker``.
    """
    import dask

    from benchlib.studies.fleet import QUIET_WORKER_CONFIG
    from benchlib.system.env import collect_env
    from benchlib.system.version import __version__

    return {"hostname": socket.gethostname(), "env": collect_env(), "benchlib": __version__,
            "pid": os.getpid(), "worker": getattr(dask_worker, "address", None),
            "dask_config": {key: dask.config.get(key, None) for key in QUIET_WORKER_CONFIG}}


def mark_batch_start(load_env: str, owner: str) -> bool:
    """Remember the load average before this fleet's first case in the worker's environment.

    Within a batch of runs the 1-minute load average mostly counts the batch's own earlier runs,
    so the figure taken before the batch is the one records judge (as ``run_cases`` does on one
    machine); every benchmark process the worker starts inherits it. ``owner`` (the fleet run)
    is kept beside it, so that only that run clears it, and a value left by a client that was
    killed is replaced. Returns whether the value was set.
    """
    try:
        os.environ[load_env] = f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return False
    os.environ[load_env + "_OWNER"] = owner
    return True


def clear_batch_start(load_env: str, owner: str) -> None:
    """Forget the load average set by :func:`mark_batch_start` for ``owner``, unless another run set it since."""
    if os.environ.get(load_env + "_OWNER") == owner:
        os.environ.pop(load_env, None)
        os.environ.pop(load_env + "_OWNER", None)


def run_on_host(case: dict[str, Any], topic: str, attempt: str) -> dict[str, Any]:
    """Dask task: announce the start on ``topic``, run ``case`` in its own process, return its record.

    The announcement tells the client which host holds the case, so that a host dying mid-case
    is named in the case's ``failed`` record (Dask alone only says that some worker died).
    """
    from distributed import get_worker

    from benchlib.engine.case import RunCase
    from benchlib.engine.launcher import run_case

    worker = get_worker()
    worker.log_event(topic, {"attempt": attempt, "worker": worker.address, "pid": os.getpid()})
    record = run_case(RunCase.from_dict(case, checked=True))  # the client checked the case
    return {"record": record, "worker": worker.address}
