"""The cluster side of a fleet run: connect (or start a local cluster), find the benchmark hosts, group machines.

A *host* here is one Dask worker offering the ``benchmark`` resource (docs/fleet.md asks for one
such worker per machine). Hosts whose fingerprints agree on the machine (:func:`benchlib.system.env.machine_key`)
and on the software (:func:`benchlib.system.env.fingerprint_key`) form one *machine*: its records are
comparable, it runs the whole sweep once, and a case whose host dies is retried on another host
of the same machine.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from benchlib.studies.fleet import QUIET_WORKER_CONFIG, RESOURCE

#: How long to wait for a scheduler, and then for its first benchmark worker, by default.
DEFAULT_CONNECT_TIMEOUT_S = 10.0
#: Upper bound of ``--local N``: more workers than this on one machine only measure contention.
MAX_LOCAL_WORKERS = 64
def loud_settings(config: dict[str, Any]) -> list[str]:
    """The settings of :data:`QUIET_WORKER_CONFIG` a worker's Dask configuration ``config`` runs more often."""
    from dask.utils import parse_timedelta

    loud = []
    for key, quiet in QUIET_WORKER_CONFIG.items():
        value = config.get(key)
        if isinstance(quiet, bool):
            if str(value).lower() not in ("false", "0", "no"):
                loud.append(f"{key}={value}")
        elif value is None or parse_timedelta(value) < parse_timedelta(quiet):
            loud.append(f"{key}={value}")
    return loud


class FleetError(RuntimeError):
    """The fleet cannot start: no scheduler, no benchmark worker, or hosts that cannot run benchlib."""


@dataclass(frozen=True)
class Host:
    """One benchmark worker and the machine it runs on."""

    worker: str  # Dask worker address, e.g. tcp://10.0.0.7:40123
    name: str  # host name
    ip: str  # the address the scheduler knows the host by
    env: dict[str, Any]  # fingerprint (benchlib.system.env.collect_env) taken on the host
    benchlib: str
    colocated: int = 1  # benchmark workers on this host (ip), this one included
    pid: int | None = None  # the worker process (each case runs in a child process of it)
    loud: tuple[str, ...] = ()  # Dask housekeeping that runs more often than QUIET_WORKER_CONFIG

    @property
    def label(self) -> str:
        return f"{self.name} ({self.worker})"

    @property
    def machine(self) -> str:
        """Key of the group of hosts whose records are comparable: machine key and environment key."""
        from benchlib.system.env import machine_key

        return f"{machine_key(self.env)}/{self.env.get('key')}"


@dataclass
class Machine:
    """Hosts with one fingerprint: each case of the sweep runs once on one of them."""

    key: str
    env: dict[str, Any]
    hosts: list[Host] = field(default_factory=list)

    @property
    def label(self) -> str:
        """``CPU model, N CPUs, M GB`` (what :func:`benchlib.results.records.machine_of` calls the machine)."""
        from benchlib.results.records import machine_of

        return machine_of({"env": self.env}) or self.key


def colocation_warning(host: Host, local: bool) -> str | None:
    """Why a record from ``host`` cannot be trusted for speed, or ``None`` for a host of its own."""
    why = ("two benchmarks on one host corrupt each other's numbers (they share cores, caches and memory "
           "bandwidth)")
    if local:
        return (f"co-located: measured by `fleet --local` with {host.colocated} benchmark worker(s), the scheduler "
                f"and the client on one machine; {why}, so this record shows the fleet working, not how fast "
                "anything is")
    if host.colocated > 1:
        return (f"co-located: {host.colocated} benchmark workers share host {host.name} ({host.ip}); {why}; start "
                "one benchmark worker per host (docs/fleet.md)")
    return None


class HandshakeTimeout(TimeoutError):
    """A program accepted the connection but did not complete Dask's handshake in time."""


def _identity(address: str, timeout_s: float) -> dict[str, Any]:
    """The scheduler's answer to ``identity`` at ``address``; raises ``OSError`` when nothing answers in time.

    Asked over one Dask connection before the client is made, so an absent scheduler (or another
    program on that port) fails within the timeout with the reason, and no half-made client is
    left behind to time out again when it is collected. The timeout covers the connection *and*
    Dask's handshake: ``distributed.comm.connect`` bounds only the first and then waits for the
    peer's handshake without a limit, so a program that accepts and never answers would hang.
    """
    import asyncio

    from distributed.comm import connect as comm_connect
    from distributed.security import Security

    async def ask() -> dict[str, Any]:
        # TLS settings come from Dask's configuration, as they do for the client made afterwards
        deadline = asyncio.get_running_loop().time() + timeout_s
        try:
            comm = await asyncio.wait_for(
                comm_connect(address, timeout=timeout_s, **Security().get_connection_args("client")), timeout_s)
        except TimeoutError as exc:
            raise HandshakeTimeout("no Dask handshake was completed (nothing accepted the connection, or a "
                                   "program accepted it and never answered)") from exc
        except (OSError, TypeError, ValueError):
            raise
        except Exception as exc:  # noqa: BLE001 - a program that is not Dask answered the handshake
            return {"error": f"{type(exc).__name__}: {str(exc)[:120]}"}
        try:
            await comm.write({"op": "identity", "reply": True})
            left = max(0.1, deadline - asyncio.get_running_loop().time())
            try:
                return await asyncio.wait_for(comm.read(), left)
            except TimeoutError as exc:
                raise HandshakeTimeout("it completed the handshake but never answered Dask's identity "
                                       "request") from exc
        except (OSError, TimeoutError):
            raise
        except Exception as exc:  # noqa: BLE001 - whatever a program that is not Dask sends back
            return {"error": f"{type(exc).__name__}: {str(exc)[:120]}"}
        finally:
            comm.abort()

    return asyncio.run(ask())


def connect(address: str, timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S) -> Any:
    """A ``distributed.Client`` connected to the scheduler at ``address``, or :class:`FleetError` naming it."""
    from distributed import Client

    allowed = "allowed: the address of a running `dask scheduler`, e.g. tcp://host:8786 (docs/fleet.md)"
    if not isinstance(address, str) or not address.strip():
        raise FleetError(f"scheduler={address!r} is invalid; {allowed}")
    address = address.strip()
    try:
        identity = _identity(address, timeout_s)
    except ValueError as exc:  # no port, unknown scheme
        raise FleetError(f"scheduler={address!r} is invalid ({exc}); {allowed}") from None
    except HandshakeTimeout as exc:
        raise FleetError(f"scheduler {address!r} does not answer within {timeout_s:g} s (--connect-timeout-s): "
                         f"{exc}; {allowed}") from None
    except (OSError, TimeoutError) as exc:
        raise FleetError(f"scheduler {address!r} does not answer within {timeout_s:g} s ({exc}); {allowed}") from None
    except TypeError as exc:  # tls:// without TLS settings in Dask's configuration
        raise FleetError(f"scheduler {address!r} cannot be reached with this Dask configuration ({exc}); "
                         f"{allowed}") from None
    if not isinstance(identity, dict) or identity.get("type") != "Scheduler":
        raise FleetError(f"scheduler {address!r} answers, but not as a Dask scheduler ({str(identity)[:160]}); "
                         f"{allowed}")
    try:
        return Client(address, timeout=timeout_s, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise FleetError(f"scheduler {address!r} does not answer within {timeout_s:g} s ({exc}); {allowed}") from None


@contextlib.contextmanager
def local_cluster(workers: int) -> Iterator[Any]:
    """A client of a cluster of ``workers`` processes on this machine, listening on loopback only.

    Every worker offers one ``benchmark`` resource, like a real host. The scheduler is told that a
    task fails as soon as one worker dies running it (``allowed-failures: 0``), so the fleet
    itself decides where to retry (on another host), as it does with any scheduler.
    """
    import dask
    from distributed import Client, LocalCluster

    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_LOCAL_WORKERS:
        raise ValueError(f"local={workers!r} is invalid; allowed: a number of workers from 1 to {MAX_LOCAL_WORKERS}")
    with dask.config.set({"distributed.scheduler.allowed-failures": 0, **QUIET_WORKER_CONFIG}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address="127.0.0.1:0", worker_dashboard_address="127.0.0.1:0",
                               resources={RESOURCE: 1}, memory_limit=0,
                               silence_logs=logging.CRITICAL)
    try:
        client = Client(cluster, set_as_default=False)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def benchmark_workers(client: Any) -> dict[str, dict[str, Any]]:
    """Scheduler's view of the workers offering the ``benchmark`` resource: address -> worker info."""
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    return {address: info for address, info in workers.items() if (info.get("resources") or {}).get(RESOURCE, 0) >= 1}


def survey(client: Any, timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S, address: str = "the scheduler") -> list[Host]:
    """Every benchmark worker with its host's fingerprint; waits up to ``timeout_s`` for the first one.

    Raises :class:`FleetError` when none comes, or when a worker cannot run this benchlib version
    (not installed there, or another version: its numbers would not be comparable).
    """
    from benchlib.studies.fleet.task import host_facts
    from benchlib.system.version import __version__

    deadline = time.monotonic() + timeout_s
    workers = benchmark_workers(client)
    while not workers and time.monotonic() < deadline:
        time.sleep(0.2)
        workers = benchmark_workers(client)
    if not workers:
        raise FleetError(f"{address} has no worker offering the resource {RESOURCE}=1 after {timeout_s:g} s; start "
                         f"one per host with: dask worker {address} --resources {RESOURCE}=1 --nthreads 1")
    facts = client.run(host_facts, workers=list(workers), on_error="return")
    problems = []
    hosts = []
    for worker, info in workers.items():
        fact = facts.get(worker)
        if isinstance(fact, BaseException) or not isinstance(fact, dict):
            problems.append(f"worker {worker} cannot run benchlib ({type(fact).__name__}: {fact})")
        elif fact["benchlib"] != __version__:
            problems.append(f"worker {worker} on {fact['hostname']} has benchlib {fact['benchlib']}, "
                            f"this machine {__version__}")
        else:
            hosts.append(Host(worker=worker, name=fact["hostname"], ip=str(info.get("host") or worker),
                              env=fact["env"], benchlib=fact["benchlib"], pid=fact.get("pid"),
                              loud=tuple(loud_settings(fact.get("dask_config") or {}))))
    if problems:
        raise FleetError("; ".join(problems) + "; allowed: the same benchlib version and requirements on every host "
                                               "(docs/fleet.md)")
    per_ip: dict[str, int] = {}
    for host in hosts:
        per_ip[host.ip] = per_ip.get(host.ip, 0) + 1
    return [dataclasses.replace(host, colocated=per_ip[host.ip]) for host in hosts]


def group_machines(hosts: list[Host]) -> list[Machine]:
    """Hosts grouped by fingerprint (machine and software), in the order their first host appears."""
    machines: dict[str, Machine] = {}
    for host in hosts:
        machines.setdefault(host.machine, Machine(key=host.machine, env=host.env)).hosts.append(host)
    return list(machines.values())
