"""The timed loop: one clock reading before and one after each call, nothing else inside.

The loop body is three statements on local names (``starts[i] = clock()``, the call,
``ends[i] = clock()``) writing into preallocated lists, so the harness adds only two clock
reads and two list stores per call; :func:`harness_overhead_ns` measures exactly that by timing
a no-op. Per-call times are ``ends - starts``, computed after the loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchlib.engine.clock import DEFAULT_CLOCK, Clock

#: Hard cap on calls in one loop (protects memory when a call takes nanoseconds).
MAX_LOOP_CALLS = 5_000_000
#: Largest block of calls run between two checks of the elapsed time.
MAX_CHUNK = 1_000_000


@dataclass(frozen=True)
class LoopResult:
    """Raw outcome of a timed loop."""

    samples_ns: np.ndarray  # int64 per-call times, in call order
    wall_ns: int  # from the first call's start reading to the last call's end reading

    @property
    def n_calls(self) -> int:
        return int(self.samples_ns.size)


def _run_block(predict: Callable[[Any], Any], inputs: Any, clock: Clock, n: int) -> tuple[list[int], list[int]]:
    # Preallocated lists and local names only: no attribute lookups, allocations or function
    # calls other than the clock and the predictor happen between the two readings.
    starts = [0] * n
    ends = [0] * n
    for i in range(n):
        starts[i] = clock()
        predict(inputs)
        ends[i] = clock()
    return starts, ends


def timed_loop(
    predict: Callable[[Any], Any],
    inputs: Any,
    min_calls: int,
    min_time_s: float,
    clock: Clock = DEFAULT_CLOCK,
    max_calls: int = MAX_LOOP_CALLS,
) -> LoopResult:
    """Call ``predict(inputs)`` at least ``min_calls`` times and for at least ``min_time_s``.

    Calls run in blocks; between blocks (outside any timed call) the elapsed time decides how
    many more calls are needed, estimated from the mean call time so far plus 5%. ``max_calls``
    caps the total. With ``min_calls == 0`` and ``min_time_s == 0`` nothing is called.
    """
    min_time_ns = int(min_time_s * 1e9)
    if min_calls <= 0 and min_time_ns <= 0:
        return LoopResult(np.zeros(0, dtype=np.int64), 0)
    all_starts: list[int] = []
    all_ends: list[int] = []
    block = min(max(min_calls, 1), max_calls, MAX_CHUNK)
    while block > 0:
        starts, ends = _run_block(predict, inputs, clock, block)
        all_starts += starts
        all_ends += ends
        total = len(all_ends)
        elapsed = all_ends[-1] - all_starts[0]
        if (total >= min_calls and elapsed >= min_time_ns) or total >= max_calls:
            break
        per_call = max(elapsed / total, 1.0)
        wanted = math.ceil(max(min_time_ns - elapsed, 0) / per_call * 1.05) + 1
        block = min(max(wanted, min_calls - total, 1), max_calls - total, MAX_CHUNK)
    starts_arr = np.asarray(all_starts, dtype=np.int64)
    ends_arr = np.asarray(all_ends, dtype=np.int64)
    return LoopResult(ends_arr - starts_arr, int(ends_arr[-1] - starts_arr[0]))


def _noop(_inputs: Any) -> None:
    return None


def harness_overhead_ns(calls: int = 20_000, clock: Clock = DEFAULT_CLOCK, repeats: int = 3) -> float:
    """Median per-call time of the timed loop around a no-op predictor, in nanoseconds.

    This is what the harness itself adds to every sample: two clock reads, two list stores and
    one Python call. The best median of ``repeats`` loops is kept, so a context switch during one
    loop does not inflate the figure.
    """
    best = math.inf
    for _ in range(repeats):
        result = timed_loop(_noop, None, min_calls=calls, min_time_s=0.0, clock=clock, max_calls=calls)
        best = min(best, float(np.median(result.samples_ns)))
    return best
