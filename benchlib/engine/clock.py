"""The clock the timed loop reads: injectable so that tests can script the readings.

A clock is any zero-argument callable returning integer nanoseconds from a monotonic origin.
Production code uses :func:`time.perf_counter_ns` (the highest-resolution monotonic clock
Python offers; integer nanoseconds, so no float rounding on long runs).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

Clock = Callable[[], int]

#: The default clock of every measurement.
DEFAULT_CLOCK: Clock = time.perf_counter_ns


class FakeClock:
    """A clock that returns scripted readings, then keeps advancing by ``step_ns``.

    ``FakeClock([0, 5, 10, 17])`` returns 0, 5, 10, 17, then 17 + step_ns, ... .
    The timed loop reads the clock once before and once after each call, so a script of
    alternating start/end readings yields known per-call samples.
    """

    def __init__(self, readings: Iterable[int] = (), step_ns: int = 1_000) -> None:
        self._readings: Iterator[int] = iter(readings)
        self._last = 0
        self.step_ns = step_ns
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        try:
            self._last = int(next(self._readings))
        except StopIteration:
            self._last += self.step_ns
        return self._last
