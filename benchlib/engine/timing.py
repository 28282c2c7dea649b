"""The timed loop: one clock reading before and one after each call, nothing else inside.

Both readings go to local names and are stored *after* the second one, so only a local store and the
call lie between them (:func:`harness_overhead_ns` times exactly that on a no-op). They are kept in
preallocated int64 arrays (:class:`Timestamps`, 16 bytes per call, grown only between blocks), so
300,000 calls do not grow the process by the tens of megabytes a list of Python ints would.

:func:`timed_loop` stops either at fixed limits (``min_calls`` and ``min_time_s``, ``target_ci=0``: the
article protocol and the ablation) or, after them, once the 95% interval of the median (order
statistics, :func:`benchlib.engine.stats.median_ci_ranks`) is within ``target_ci`` of it, or at
``max_time_s``. The check runs between blocks of calls, and its own cost is measured and reported.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from benchlib import defaults
from benchlib.engine.clock import DEFAULT_CLOCK, Clock
from benchlib.engine.stats import relative_halfwidth

#: Hard cap on calls in one loop (protects memory when a call takes nanoseconds).
MAX_LOOP_CALLS = 5_000_000
#: Largest block of calls run between two checks of the elapsed time.
MAX_CHUNK = 1_000_000
#: Level of the order-statistic interval the precision mode stops on and reports. Stopping when the
#: interval is narrow enough favours runs whose median fell where calls are dense, which costs about
#: half a point of coverage at 95% (seeded simulation, docs/measurement.md); computing it at 96% gives
#: back an interval that holds the true median at least 95% of the time when the loop stops early.
PRECISION_LEVEL = 0.96
#: After the minimums, each block between two precision checks is at least this share of the calls
#: made so far: the check is O(calls), so the checks together cost a bounded share of the loop.
MIN_BLOCK_FRACTION = 0.25
#: No block of calls lasts much longer than this (at the pace so far): the loop re-plans at least this
#: often, so a pace that slows down cannot carry it far past its minimum or maximum time.
MAX_BLOCK_S = 0.5
#: Storage grows to at least this multiple of its size (few regrowths, never per call).
GROWTH = 1.5

#: Warm-up windows last at least this long and this many calls ...
WARMUP_WINDOW_S = 0.02
WARMUP_WINDOW_CALLS = 5
#: ... and warm-up ends when the last window's median is within this of the previous one's.
WARMUP_TOLERANCE = 0.05

#: Why a loop stopped.
STOP_FIXED = "fixed time"  # fixed mode: both minimums reached
STOP_TARGET = "target met"
STOP_MAX_TIME = "max time"
STOP_MAX_CALLS = "max calls"
STOP_OUT_OF_REACH = "out of reach"  # the target would take more than OUT_OF_REACH × max time
#: Give up at a look when the calls the target needs would take more than this multiple of the
#: maximum time (at the pace so far): a busy machine then costs one minimum time, not the maximum.
OUT_OF_REACH = 2.0


class Timestamps:
    """Start and end reading of every call, as int64 in preallocated arrays.

    ``reserve`` makes room before a block runs (never during one): a new array is allocated,
    every page written once (so the pages are resident before timing, not faulted in by the
    loop), and the readings so far copied over. A scratch array of the same size, used by the
    precision check to select order statistics in place, is allocated only when asked for.
    """

    def __init__(self, capacity: int = 0, scratch: bool = False) -> None:
        self.n = 0
        self._scratch_wanted = scratch
        self.starts = np.zeros(0, dtype=np.int64)
        self.ends = np.zeros(0, dtype=np.int64)
        self.scratch = np.zeros(0, dtype=np.int64)
        self.regrowths = 0
        if capacity > 0:
            self.reserve(capacity)
            self.regrowths = 0  # the first allocation is not a regrowth

    @property
    def capacity(self) -> int:
        return int(self.starts.size)

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (all resident: every page was written at allocation)."""
        return int(self.starts.nbytes + self.ends.nbytes + self.scratch.nbytes)

    @staticmethod
    def _touched(size: int, keep: np.ndarray | None = None) -> np.ndarray:
        array = np.empty(size, dtype=np.int64)
        array.fill(0)  # np.zeros would map lazily-zeroed pages that fault in while the loop writes
        if keep is not None and keep.size:
            array[: keep.size] = keep
        return array

    def reserve(self, calls: int) -> None:
        """Make room for ``calls`` more calls."""
        need = self.n + calls
        if need <= self.capacity:
            return
        size = max(need, int(self.capacity * GROWTH))
        self.starts = self._touched(size, self.starts[: self.n])
        self.ends = self._touched(size, self.ends[: self.n])
        if self._scratch_wanted:
            self.scratch = self._touched(size)
        self.regrowths += 1

    def durations(self) -> np.ndarray:
        """Per-call times (ns) of the calls so far, a new array in call order."""
        return self.ends[: self.n] - self.starts[: self.n]

    def halfwidth(self, level: float = 0.95) -> float:
        """Relative half-width of the ``level`` interval of the median so far (in the scratch array)."""
        if not self._scratch_wanted:
            self._scratch_wanted = True
            self.scratch = self._touched(self.capacity)
        work = self.scratch[: self.n]
        np.subtract(self.ends[: self.n], self.starts[: self.n], out=work)
        return relative_halfwidth(work, level=level, in_place=True)


@dataclass(frozen=True)
class LoopResult:
    """Raw outcome of a timed loop.

    ``starts_ns`` and ``ends_ns`` are views into the loop's storage (no copy is made while memory
    is watched); they stay valid until that storage runs another loop.
    """

    starts_ns: np.ndarray  # int64 start reading of each call (the loop's clock), in call order
    ends_ns: np.ndarray  # int64 end reading of each call
    wall_ns: int  # from the first call's start reading to the last call's end reading
    stop: str = STOP_FIXED  # why the loop ended (STOP_*)
    target_ci: float = 0.0  # the precision target (0: fixed mode)
    halfwidth: float | None = None  # relative half-width at the last precision check
    checks: int = 0  # precision checks made
    check_ns: int = 0  # real time spent in them (between blocks, outside every timed call)
    blocks: int = 0  # blocks of calls run
    storage_bytes: int = 0  # bytes of timestamp storage the loop held
    regrowths: int = 0  # times the storage had to grow while the loop ran

    @cached_property
    def samples_ns(self) -> np.ndarray:
        """int64 per-call times (end - start), in call order."""
        return self.ends_ns - self.starts_ns

    @property
    def n_calls(self) -> int:
        return int(self.starts_ns.size)

    @property
    def target_met(self) -> bool | None:
        """Whether the precision target was reached (``None`` in fixed mode)."""
        return None if self.target_ci <= 0 else self.stop == STOP_TARGET


def _run_block(predict: Callable[[Any], Any], inputs: Any, clock: Clock, starts: np.ndarray, ends: np.ndarray,
               first: int, stop: int) -> None:
    # Local names only. Both readings are stored after the second one, so between them the
    # harness does one local store and the call: no item store, attribute lookup or allocation.
    for i in range(first, stop):
        t0 = clock()
        predict(inputs)
        t1 = clock()
        starts[i] = t0
        ends[i] = t1


def _run_block_until(predict: Callable[[Any], Any], inputs: Any, clock: Clock, starts: np.ndarray,
                     ends: np.ndarray, first: int, stop: int, deadline: int) -> int:
    # As _run_block, and after each call (outside its two readings) one comparison with the deadline,
    # so that a pace that collapses mid-block (a co-runner taking a core) cannot carry the loop far
    # past its maximum time. Returns the index after the last call made.
    for i in range(first, stop):
        t0 = clock()
        predict(inputs)
        t1 = clock()
        starts[i] = t0
        ends[i] = t1
        if t1 > deadline:
            return i + 1
    return stop


def check_target_ci(value: object, name: str = "target_ci") -> float:
    """Return ``value`` as a float if it is a finite number in [0, 1), else raise ``ValueError``."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not (ok and 0 <= value < 1):
        raise ValueError(f"{name}={value!r} is invalid; allowed: a relative half-width from 0 (fixed time, no "
                         "precision target) up to but excluding 1, e.g. 0.01 for ±1%")
    return float(value)


def effective_max_time(min_time_s: float, max_time_s: float | None) -> float:
    """The precision mode's cap: ``max_time_s``, or by default :data:`benchlib.defaults.MAX_TIME_S` (at least
    ``min_time_s``)."""
    return max(defaults.MAX_TIME_S, min_time_s) if max_time_s is None else max_time_s


def expected_calls(min_calls: int, min_time_s: float, per_call_ns: float, max_calls: int = MAX_LOOP_CALLS) -> int:
    """Calls a loop with these minimums is expected to make at ``per_call_ns`` (plus margin): its storage size."""
    # The loop aims 5% past the minimum time; the estimate adds 10% for a pace that slows down.
    by_time = min_time_s * 1e9 / per_call_ns * 1.1 if per_call_ns > 0 else 0.0
    return int(min(max(by_time, min_calls) * 1.05 + 64, max_calls))


def timed_loop(
    predict: Callable[[Any], Any],
    inputs: Any,
    min_calls: int,
    min_time_s: float,
    clock: Clock = DEFAULT_CLOCK,
    max_calls: int = MAX_LOOP_CALLS,
    *,
    target_ci: float = 0.0,
    max_time_s: float | None = None,
    storage: Timestamps | None = None,
    level: float = PRECISION_LEVEL,
) -> LoopResult:
    """Call ``predict(inputs)`` at least ``min_calls`` times and for at least ``min_time_s``.

    With ``target_ci > 0`` the loop then continues until the ``level`` (:data:`PRECISION_LEVEL`)
    interval of the median is within ``target_ci`` of it, until ``max_time_s``
    (:func:`effective_max_time`) has passed (checked after every call, outside its readings), or
    until a look finds the target out of reach (:data:`OUT_OF_REACH`); ``LoopResult.stop`` says
    which. Calls run in blocks; between blocks (outside any timed call) the elapsed time decides how
    many more calls the minimums need, from the mean call time so far plus 5%, and a look how many
    more the target needs (the interval narrows as one over the square root of the calls).
    ``max_calls`` caps the total. ``storage`` (preallocated by the caller before memory is watched)
    receives the readings. With ``min_calls == 0`` and ``min_time_s == 0`` nothing is called.
    """
    target_ci = check_target_ci(target_ci)
    min_time_ns = int(min_time_s * 1e9)
    if min_calls <= 0 and min_time_ns <= 0:
        empty = np.zeros(0, dtype=np.int64)
        return LoopResult(empty, empty, 0, target_ci=target_ci)
    max_time_ns = int(effective_max_time(min_time_s, max_time_s) * 1e9)
    store = storage if storage is not None else Timestamps(min(max(min_calls, 1), max_calls), scratch=target_ci > 0)
    store.n = 0
    regrowths_before = store.regrowths
    block = min(max(min_calls, 1), max_calls, MAX_CHUNK)
    blocks = checks = check_ns = 0
    halfwidth: float | None = None
    look_at = 0  # calls at which the precision is next looked at (0: as soon as the minimums are met)

    def look() -> float:
        nonlocal checks, check_ns
        tick = time.perf_counter_ns()  # the real clock: the check's cost is real whatever clock times calls
        width = store.halfwidth(level)
        check_ns += time.perf_counter_ns() - tick
        checks += 1
        return width

    while True:
        store.reserve(block)
        if target_ci > 0 and store.n:
            deadline = int(store.starts[0]) + max_time_ns
            store.n = _run_block_until(predict, inputs, clock, store.starts, store.ends, store.n, store.n + block,
                                       deadline)
        else:
            _run_block(predict, inputs, clock, store.starts, store.ends, store.n, store.n + block)
            store.n += block
        blocks += 1
        total = store.n
        elapsed = int(store.ends[total - 1] - store.starts[0])
        if total >= max_calls:
            stop = STOP_MAX_CALLS
            break
        per_call = max(elapsed / total, 1.0)
        longest = math.ceil(MAX_BLOCK_S * 1e9 / per_call)
        if total < min_calls or elapsed < min_time_ns:
            wanted = math.ceil(max(min_time_ns - elapsed, 0) / per_call * 1.05) + 1
            block = min(max(wanted, min_calls - total, 1), longest, max_calls - total, MAX_CHUNK)
            continue
        if target_ci <= 0:
            stop = STOP_FIXED
            break
        # Precision is looked at only when the calls planned at the last look are made (blocks cut short by
        # MAX_BLOCK_S only re-plan the time): every look is a chance to stop on a lucky interval, so
        # the looks are few, and the interval's level pays for them (PRECISION_LEVEL).
        if total >= look_at or elapsed >= max_time_ns:
            halfwidth = look()
            if halfwidth <= target_ci:
                stop = STOP_TARGET
                break
            if elapsed >= max_time_ns:
                stop = STOP_MAX_TIME
                break
            ratio = halfwidth / target_ci if math.isfinite(halfwidth) else 2.0
            if math.isfinite(halfwidth) and elapsed * ratio * ratio * 1.1 > OUT_OF_REACH * max_time_ns:
                stop = STOP_OUT_OF_REACH
                break
            look_at = total + max(math.ceil(total * ratio * ratio * 1.1) - total, math.ceil(MIN_BLOCK_FRACTION * total))
        room = math.floor((max_time_ns - elapsed) / per_call) + 1
        block = min(max(look_at - total, 1), room, longest, max_calls - total, MAX_CHUNK)
    n = store.n
    return LoopResult(
        starts_ns=store.starts[:n], ends_ns=store.ends[:n], wall_ns=int(store.ends[n - 1] - store.starts[0]),
        stop=stop, target_ci=target_ci, halfwidth=halfwidth, checks=checks, check_ns=check_ns, blocks=blocks,
        storage_bytes=store.nbytes, regrowths=store.regrowths - regrowths_before,
    )


@dataclass(frozen=True)
class WarmupResult:
    """What the warm-up did: calls, seconds on the loop's clock, and whether the time settled."""

    calls: int
    seconds: float
    stable: bool | None  # None: fixed warm-up (no stabilisation asked for)
    window_medians_ns: tuple[float, ...]
    per_call_ns: float  # fastest wall time per call of any window (gaps included): sizes the timed loop

    def to_dict(self) -> dict[str, Any]:
        """The record's ``warmup`` object (times in ms and s)."""
        return {"calls": self.calls, "seconds": self.seconds, "stable": self.stable,
                "window_medians_ms": [round(m / 1e6, 6) for m in self.window_medians_ns]}


def warm_up(
    predict: Callable[[Any], Any],
    inputs: Any,
    min_calls: int,
    min_time_s: float,
    max_time_s: float = 0.0,
    clock: Clock = DEFAULT_CLOCK,
    tolerance: float = WARMUP_TOLERANCE,
) -> WarmupResult:
    """Call ``predict`` until its per-call time has settled, at least ``min_calls`` and ``min_time_s``.

    With ``max_time_s > 0`` the calls run in windows of at least :data:`WARMUP_WINDOW_S` and
    :data:`WARMUP_WINDOW_CALLS`; warm-up ends once the minimums are met and the last window's
    median is within ``tolerance`` of the previous window's (``stable``), or at ``max_time_s``
    (``stable=False``: the record says the time never settled). With ``max_time_s == 0`` it is the
    fixed warm-up: just the minimums.
    """
    if max_time_s <= 0:
        loop = timed_loop(predict, inputs, min_calls, min_time_s, clock=clock)
        per_call = loop.wall_ns / loop.n_calls if loop.n_calls else 0.0
        median = (float(np.median(loop.samples_ns)),) if loop.n_calls else ()
        return WarmupResult(loop.n_calls, loop.wall_ns / 1e9, None, median, per_call)
    storage = Timestamps(WARMUP_WINDOW_CALLS)
    medians: list[float] = []
    calls = 0
    first_start = last_end = None
    stable = False
    per_call = math.inf
    while True:
        window = timed_loop(predict, inputs, WARMUP_WINDOW_CALLS, WARMUP_WINDOW_S, clock=clock, storage=storage)
        medians.append(float(np.median(window.samples_ns)))
        calls += window.n_calls
        first_start = int(window.starts_ns[0]) if first_start is None else first_start
        last_end = int(window.ends_ns[-1])
        # The fastest pace seen bounds the calls the timed loop can make: its storage is sized from it.
        per_call = min(per_call, window.wall_ns / window.n_calls)
        elapsed = (last_end - first_start) / 1e9
        if calls >= min_calls and elapsed >= min_time_s and len(medians) >= 2 \
                and abs(medians[-1] - medians[-2]) <= tolerance * max(medians[-2], 1.0):
            stable = True
            break
        if elapsed >= max_time_s:
            break
    return WarmupResult(calls, (last_end - first_start) / 1e9, stable, tuple(medians), per_call)


def _noop(_inputs: Any) -> None:
    return None


def harness_overhead_ns(calls: int = 5_000, clock: Clock = DEFAULT_CLOCK, repeats: int = 3) -> float:
    """Median per-call time of the timed loop around a no-op predictor, in nanoseconds.

    This is what the harness itself adds to every sample: the clock call, a local store and one
    Python call. The best median of ``repeats`` loops is kept, so a context switch during one
    loop does not inflate the figure. Every case pays for this after its loop, so it is kept short:
    the median of a no-op settles to the nanosecond long before 5,000 calls.
    """
    best = math.inf
    storage = Timestamps(calls)
    for _ in range(repeats):
        result = timed_loop(_noop, None, min_calls=calls, min_time_s=0.0, clock=clock, max_calls=calls,
                            storage=storage)
        best = min(best, float(np.median(result.samples_ns)))
    return best
