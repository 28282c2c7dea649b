"""CPU facts and CPU accounting of the current process.

Usable cores respect both the affinity mask and a cgroup CPU quota (containers often get a
quota below the machine's core count). CPU time comes from ``getrusage(RUSAGE_SELF)``, which
sums user and system time over *all* threads of the process with microsecond resolution
(``os.times`` has only clock-tick, usually 10 ms, resolution) and also gives context switches.
"""

from __future__ import annotations

import math
import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path


def affinity_cores() -> int:
    """Number of CPUs this process may run on (its affinity mask)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _cgroup_dirs() -> list[tuple[int, Path]]:
    """Candidate cgroup directories of this process, as (cgroup version, path)."""
    dirs: list[tuple[int, Path]] = []
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, rel = parts
        rel = rel.lstrip("/")
        if hierarchy == "0" and controllers == "":
            dirs.append((2, Path("/sys/fs/cgroup") / rel))
        elif "cpu" in controllers.split(","):
            for mount in ("/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu"):
                dirs.append((1, Path(mount) / rel))
    # Inside a container the process's cgroup is usually mounted as the root.
    dirs += [(2, Path("/sys/fs/cgroup")), (1, Path("/sys/fs/cgroup/cpu,cpuacct")), (1, Path("/sys/fs/cgroup/cpu"))]
    return dirs


def cgroup_quota_cores() -> float | None:
    """CPU quota as a number of cores (e.g. 1.5), or ``None`` when there is no quota."""
    for version, directory in _cgroup_dirs():
        try:
            if version == 2:
                text = (directory / "cpu.max").read_text().split()
                if text and text[0] != "max":
                    return int(text[0]) / int(text[1])
                if text:
                    return None
            else:
                quota = int((directory / "cpu.cfs_quota_us").read_text())
                period = int((directory / "cpu.cfs_period_us").read_text())
                return quota / period if quota > 0 and period > 0 else None
        except (OSError, ValueError, IndexError):
            continue
    return None


def usable_cores() -> dict[str, float | int | None]:
    """Cores available to this process: ``affinity``, cgroup ``quota`` (cores or None), ``usable``.

    ``usable`` is the smaller of the affinity count and the quota, rounded up (a 1.5-core quota
    still lets two threads run, but only for three quarters of the time each).
    """
    affinity = affinity_cores()
    quota = cgroup_quota_cores()
    usable = affinity if quota is None else max(1, min(affinity, math.ceil(quota)))
    return {"affinity": affinity, "quota": quota, "usable": usable}


@dataclass(frozen=True)
class CpuUsage:
    """CPU use of the whole process over a window."""

    wall_s: float
    cpu_s: float  # user + system, all threads
    cpu_percent: float  # percent of one core: 200 means two cores busy all the time
    cpu_fraction_of_usable: float  # 1.0 means every usable core busy all the time
    voluntary_ctx_switches: int
    involuntary_ctx_switches: int
    #: cores' worth of CPU used by *other* processes on this process's CPUs over the window
    #: (/proc/stat busy time of the affinity CPUs minus this process's own), None if unknown
    others_cores: float | None = None


def machine_busy_s(cpus: frozenset[int] | None = None) -> float | None:
    """Busy (non-idle, non-iowait) CPU seconds so far of ``cpus`` (default: this process's affinity).

    Read from /proc/stat through psutil: one file read, cheap enough to do around a timed loop.
    Resolution is one clock tick (usually 10 ms) per CPU.
    """
    import psutil

    try:
        cpus = cpus if cpus is not None else frozenset(os.sched_getaffinity(0))
        per_cpu = psutil.cpu_times(percpu=True)
    except (AttributeError, OSError):
        return None
    total = 0.0
    for index, times in enumerate(per_cpu):
        if index in cpus:
            total += sum(times) - times.idle - getattr(times, "iowait", 0.0) - getattr(times, "guest", 0.0) \
                - getattr(times, "guest_nice", 0.0)
    return total


class CpuWindow:
    """Measure process CPU time and context switches between :meth:`start` and :meth:`stop`.

    Both readings happen outside the timed calls (before the loop and after it).
    """

    def __init__(self, usable: int | None = None) -> None:
        self.usable = usable or int(usable_cores()["usable"] or 1)
        self._start: tuple[int, resource.struct_rusage] | None = None
        self._machine_start: float | None = None

    def start(self) -> None:
        self._machine_start = machine_busy_s()
        self._start = (time.perf_counter_ns(), resource.getrusage(resource.RUSAGE_SELF))

    def stop(self) -> CpuUsage:
        end_ns, end = time.perf_counter_ns(), resource.getrusage(resource.RUSAGE_SELF)
        machine_end = machine_busy_s()
        if self._start is None:
            raise RuntimeError("CpuWindow.stop() called before start()")
        start_ns, start = self._start
        wall = max((end_ns - start_ns) / 1e9, 1e-9)
        cpu = (end.ru_utime - start.ru_utime) + (end.ru_stime - start.ru_stime)
        others = None
        if self._machine_start is not None and machine_end is not None:
            others = max(0.0, (machine_end - self._machine_start - cpu) / wall)
        return CpuUsage(
            wall_s=wall,
            cpu_s=cpu,
            cpu_percent=100.0 * cpu / wall,
            cpu_fraction_of_usable=cpu / wall / self.usable,
            voluntary_ctx_switches=int(end.ru_nvcsw - start.ru_nvcsw),
            involuntary_ctx_switches=int(end.ru_nivcsw - start.ru_nivcsw),
            others_cores=others,
        )
