"""Background sampler: peak RSS and USS of the process, and per-core utilisation.

A daemon thread wakes every ``interval_s`` (10 ms by default) and reads RSS (cheap:
``/proc/self/statm``) and, every ``uss_every`` ticks, USS (``memory_full_info``, which reads
``/proc/self/smaps_rollup`` and is tens of microseconds or more on a large process). Per-core
utilisation comes from the kernel's per-CPU time counters (``psutil.cpu_times(percpu=True)``):
the thread reads them every ``cores_every`` ticks (100 ms by default) for a per-core timeline, and
the whole window's figure is the difference between the first and the last reading. The thread
measures its own CPU time with ``time.thread_time`` so its cost is
reported beside the results instead of being guessed.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import psutil

MIB = 1024 * 1024


@dataclass
class SamplerResult:
    """What the sampler saw between start and stop; memory in MiB."""

    rss_peak_mb: float
    uss_peak_mb: float | None
    per_core_percent: list[float]
    n_samples: int
    interval_s: float
    wall_s: float
    sampler_cpu_s: float
    #: CPU time of the sampler thread / wall time of the window, in percent of one core
    sampler_cpu_percent: float
    rss_timeline_mb: list[float] = field(default_factory=list)
    #: per-core busy % over each ``cores_every`` interval, in time order
    per_core_timeline: list[list[float]] = field(default_factory=list)
    #: RSS at ``start()``: the peak minus this is what the process grew while it was watched
    rss_first_mb: float = 0.0


def _core_counters() -> list[tuple[float, float]]:
    """(busy, total) seconds per CPU since boot; idle and iowait count as not busy."""
    counters = []
    for times in psutil.cpu_times(percpu=True):
        total = sum(times)
        counters.append((total - times.idle - getattr(times, "iowait", 0.0), total))
    return counters


def _busy_percent(before: list[tuple[float, float]], after: list[tuple[float, float]]) -> list[float]:
    return [round(100.0 * (b1 - b0) / (t1 - t0), 1) if t1 > t0 else 0.0
            for (b0, t0), (b1, t1) in zip(before, after, strict=False)]


class Sampler:
    """Start before the timed loop, stop after it; the loop itself is never touched."""

    def __init__(self, interval_s: float = 0.01, uss_every: int = 1, cores_every: int = 10) -> None:
        self.interval_s = interval_s
        self.uss_every = max(1, uss_every)
        self.cores_every = max(1, cores_every)
        self._cores_start: list[tuple[float, float]] = []
        self._cores_last: list[tuple[float, float]] = []
        self._cores_timeline: list[list[float]] = []
        self._process = psutil.Process()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rss_peak = 0
        self._uss_peak: int | None = None
        self._n = 0
        self._timeline: list[int] = []
        self._thread_cpu = 0.0
        self._t0 = 0.0
        self._uss_ok = True

    def _sample(self, with_uss: bool) -> None:
        if with_uss and self._uss_ok:
            try:
                info = self._process.memory_full_info()
                self._uss_peak = max(self._uss_peak or 0, info.uss)
                rss = info.rss
            except (psutil.AccessDenied, AttributeError, OSError):
                self._uss_ok = False  # USS is unavailable here; keep RSS
                rss = self._process.memory_info().rss
        else:
            rss = self._process.memory_info().rss
        self._rss_peak = max(self._rss_peak, rss)
        self._timeline.append(rss)
        self._n += 1

    def _run(self) -> None:
        cpu0 = time.thread_time()
        tick = 0
        while not self._stop.wait(self.interval_s):
            tick += 1
            self._sample(tick % self.uss_every == 0)
            if tick % self.cores_every == 0:
                now = _core_counters()
                self._cores_timeline.append(_busy_percent(self._cores_last, now))
                self._cores_last = now
        self._thread_cpu = time.thread_time() - cpu0

    def start(self) -> None:
        """Take a first sample and start the thread."""
        self._cores_start = self._cores_last = _core_counters()
        self._t0 = time.perf_counter()
        self._sample(True)
        self._thread = threading.Thread(target=self._run, name="benchlib-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> SamplerResult:
        """Stop the thread, take a last sample, return the peaks."""
        if self._thread is None:
            raise RuntimeError("Sampler.stop() called before start()")
        self._stop.set()
        self._thread.join()
        wall = max(time.perf_counter() - self._t0, 1e-9)
        per_core = _busy_percent(self._cores_start, _core_counters())
        self._sample(True)
        # Keep the timeline short: about 200 points is plenty for a chart.
        stride = max(1, len(self._timeline) // 200)
        return SamplerResult(
            rss_peak_mb=self._rss_peak / MIB,
            uss_peak_mb=None if self._uss_peak is None else self._uss_peak / MIB,
            per_core_percent=per_core,
            n_samples=self._n,
            interval_s=self.interval_s,
            wall_s=wall,
            sampler_cpu_s=self._thread_cpu,
            sampler_cpu_percent=100.0 * self._thread_cpu / wall,
            rss_timeline_mb=[v / MIB for v in self._timeline[::stride]],
            per_core_timeline=self._cores_timeline[:: max(1, len(self._cores_timeline) // 200)],
            rss_first_mb=self._timeline[0] / MIB,
        )


def memory_now() -> tuple[float, float | None]:
    """Current (RSS, USS) of this process in MiB; USS is ``None`` where it cannot be read."""
    process = psutil.Process()
    try:
        info = process.memory_full_info()
        return info.rss / MIB, info.uss / MIB
    except (psutil.AccessDenied, AttributeError, OSError):
        return process.memory_info().rss / MIB, None
