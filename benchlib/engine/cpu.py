"""CPU accounting of the current process (the machine's facts, such as usable cores, are in
:mod:`benchlib.system.env`).

CPU time comes from ``getrusage(RUSAGE_SELF)``, which
sums user and system time over *all* threads of the process with microsecond resolution
(``os.times`` has only clock-tick, usually 10 ms, resolution) and also gives context switches.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass

from benchlib.system.audit import counters, difference
from benchlib.system.env import usable_cores


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
    #: noise counters over the window (benchlib.system.audit.counters): steal_s, nr_throttled, throttled_s,
    #: swap_io_bytes; None where the kernel does not expose one
    noise: dict | None = None


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
        self._noise_start: dict | None = None

    def start(self) -> None:
        self._noise_start = counters()
        self._machine_start = machine_busy_s()
        self._start = (time.perf_counter_ns(), resource.getrusage(resource.RUSAGE_SELF))

    def stop(self) -> CpuUsage:
        end_ns, end = time.perf_counter_ns(), resource.getrusage(resource.RUSAGE_SELF)
        machine_end = machine_busy_s()
        noise = difference(self._noise_start, counters()) if self._noise_start is not None else None
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
            noise=noise,
        )
