"""What runs on a worker host: its facts (fingerprint, host name) and one job per task.

A job is one case run once in its own process (:func:`run_on_host`), or a set of cases measured in
interleaved rounds together on this host (:func:`run_rounds_on_host`), each record sent to the client
as soon as it exists. These functions are sent to the workers by reference (module and name), so every
host needs the same benchlib installed; cases, settings and records travel as plain JSON-able dicts.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
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


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` as plain JSON values (the rounds' statistics hold NumPy numbers), as the results file stores it."""
    from benchlib.system.files import clean_for_json, json_default

    return json.loads(json.dumps(clean_for_json(record), default=json_default, allow_nan=False))


def run_rounds_on_host(cases: list[dict[str, Any]], rounds: dict[str, Any], topic: str,
                       attempt: str) -> dict[str, Any]:
    """Dask task: announce the start on ``topic``, measure ``cases`` in interleaved rounds here, return the records.

    The cases go through :func:`benchlib.engine.launcher.run_cases` with the rounds' settings ``rounds``
    (a :class:`benchlib.engine.rounds.RoundSettings` as a dict), the path ``run`` takes. Each record is
    also published on ``topic`` as soon as it exists, so that a host dying later in the job costs
    only the cases that had no record yet.
    """
    from distributed import get_worker

    from benchlib.engine.case import RunCase
    from benchlib.engine.launcher import run_cases
    from benchlib.engine.rounds import RoundSettings

    worker = get_worker()
    worker.log_event(topic, {"attempt": attempt, "worker": worker.address, "pid": os.getpid()})

    def publish(record: dict[str, Any]) -> None:
        worker.log_event(topic, {"attempt": attempt, "worker": worker.address, "record": _plain(record)})

    checked = [RunCase.from_dict(case, checked=True) for case in cases]  # the client checked the cases
    records = run_cases(checked, progress=False, on_record=publish, rounds=RoundSettings(**rounds))
    return {"records": [_plain(record) for record in records], "worker": worker.address}


def forgetter(topic: str) -> Callable[..., None]:
    """A function that drops the events the scheduler keeps for ``topic`` (for ``Client.run_on_scheduler``).

    The scheduler keeps the last events of every topic while it runs, and a fleet run's carry its records,
    saved by then. A local function is sent by value, so the scheduler needs no benchlib to run it.
    """
    def forget(dask_scheduler: Any = None) -> None:
        broker = getattr(dask_scheduler, "_broker", None)  # no public call for it in distributed (pinned)
        if broker is not None and hasattr(broker, "truncate"):
            broker.truncate(topic)

    return forget
