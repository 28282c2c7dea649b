"""The precision stopping rule, warm-up and timestamp storage, on scripted clocks (no real timing)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from benchlib.engine.clock import FakeClock
from benchlib.engine.stats import compute_stats, median_ci, median_ci_ranks, noisy_reasons, relative_halfwidth
from benchlib.engine.timing import (
    PRECISION_LEVEL,
    STOP_FIXED,
    STOP_MAX_TIME,
    STOP_OUT_OF_REACH,
    STOP_TARGET,
    Timestamps,
    check_target_ci,
    expected_calls,
    timed_loop,
    warm_up,
)

GAP_NS = 200  # clock distance between one call's end and the next call's start


def _readings(draw: Callable[[int], np.ndarray], gap: int = GAP_NS) -> Iterator[int]:
    """Start/end readings whose per-call times are ``draw(k)`` values (ns), drawn in chunks."""
    now = 0
    while True:
        for duration in np.maximum(np.rint(draw(4096)), 1).astype(np.int64).tolist():
            yield now
            yield now + duration
            now += duration + gap


def _normal_cdf(x: float, mu: float, sigma: float) -> float:
    return 0.5 * (1.0 + math.erf((x - mu) / (sigma * math.sqrt(2.0))))


def _mixture_median(weights: list[float], mus: list[float], sigmas: list[float]) -> float:
    """Median of a mixture of normals, by bisection on its CDF."""
    low, high = min(mus) - 10 * max(sigmas), max(mus) + 10 * max(sigmas)
    for _ in range(200):
        mid = (low + high) / 2
        cdf = sum(w * _normal_cdf(mid, m, s) for w, m, s in zip(weights, mus, sigmas, strict=True))
        low, high = (mid, high) if cdf < 0.5 else (low, mid)
    return (low + high) / 2


# (name, sampler factory from a generator, true median in ns)
DISTRIBUTIONS = [
    ("lognormal", lambda rng: (lambda k: 100_000 * rng.lognormal(0.0, 0.3, k)), 100_000.0),
    ("shifted exponential", lambda rng: (lambda k: 50_000 + rng.exponential(20_000, k)),
     50_000 + 20_000 * math.log(2)),
    ("bimodal", lambda rng: (lambda k: np.where(rng.random(k) < 0.7, rng.normal(100_000, 3_000, k),
                                                 rng.normal(130_000, 3_000, k))),
     _mixture_median([0.7, 0.3], [100_000, 130_000], [3_000, 3_000])),
]


@pytest.mark.parametrize(("name", "factory", "true_median"), DISTRIBUTIONS, ids=[d[0] for d in DISTRIBUTIONS])
def test_stopping_early_the_interval_covers_the_true_median(name: str, factory, true_median: float) -> None:
    """Seeded simulation: 100 loops stop on a ±1% target; at least 94 intervals hold the true median.

    The interval is the one the loop stops on and reports (order statistics at PRECISION_LEVEL). Its
    coverage over 1,000 seeds per distribution is in docs/evidence/stopping-rule-coverage.md; seeds 0-99 are the first
    hundred of those runs.
    """
    hits, calls = 0, []
    for trial in range(100):
        rng = np.random.default_rng(trial)
        loop = timed_loop(lambda _x: None, None, min_calls=50, min_time_s=0.0,
                          clock=FakeClock(_readings(factory(rng))), target_ci=0.01, max_time_s=3600.0)
        assert loop.stop == STOP_TARGET, (name, trial, loop.stop, loop.halfwidth)
        assert loop.halfwidth is not None and loop.halfwidth <= 0.01
        _median, low, high = median_ci(loop.samples_ns.astype(np.float64), PRECISION_LEVEL)  # what it reports
        hits += low <= true_median <= high
        calls.append(loop.n_calls)
    assert hits >= 94, (name, hits)
    # It stopped early: far below the max-time budget, yet past the minimum calls.
    assert min(calls) > 50 and max(calls) < 200_000, (min(calls), max(calls))


def test_a_target_far_out_of_reach_gives_up_at_the_first_look() -> None:
    rng = np.random.default_rng(3)
    clock = FakeClock(_readings(lambda k: 100_000 * rng.lognormal(0.0, 1.0, k)))
    loop = timed_loop(lambda _x: None, None, min_calls=50, min_time_s=0.01, clock=clock, target_ci=0.001,
                      max_time_s=0.05)
    assert loop.stop == STOP_OUT_OF_REACH and loop.checks == 1
    assert loop.target_met is False
    assert loop.halfwidth is not None and loop.halfwidth > 0.001
    assert loop.wall_ns < 50_000_000  # gave up before spending the maximum time


def test_the_check_never_reads_the_call_clock_and_its_cost_is_counted() -> None:
    # If a precision check read the injected clock, the scripted start/end pairs would shift and the
    # samples would no longer be the scripted durations: the check sits between calls, not inside one.
    rng = np.random.default_rng(5)
    durations = np.rint(100_000 * rng.lognormal(0.0, 0.2, 200_000)).astype(np.int64)
    readings, now = [], 0
    for d in durations.tolist():
        readings += [now, now + d]
        now += d + GAP_NS
    loop = timed_loop(lambda _x: None, None, min_calls=50, min_time_s=0.0, clock=FakeClock(readings),
                      target_ci=0.01, max_time_s=3600.0)
    assert loop.samples_ns.tolist() == durations[: loop.n_calls].tolist()
    assert loop.checks >= 1 and loop.check_ns > 0
    assert loop.blocks >= loop.checks


def test_fixed_mode_makes_no_check_and_keeps_its_minimums() -> None:
    loop = timed_loop(lambda _x: None, None, min_calls=40, min_time_s=0.0, clock=FakeClock(step_ns=1_000))
    assert loop.stop == STOP_FIXED and loop.checks == 0 and loop.n_calls == 40
    assert loop.target_met is None and loop.halfwidth is None


def test_target_is_checked_only_after_the_minimum_time() -> None:
    # Identical calls give a zero-width interval at once; the minimum time must still be spent.
    loop = timed_loop(lambda _x: None, None, min_calls=10, min_time_s=0.02, clock=FakeClock(step_ns=50_000),
                      target_ci=0.01)
    assert loop.stop == STOP_TARGET
    assert loop.wall_ns >= 20_000_000


@pytest.mark.parametrize("bad", [-0.1, 1.0, float("nan"), "0.01", True])
def test_target_ci_is_validated(bad: object) -> None:
    with pytest.raises(ValueError, match="target_ci=.* is invalid; allowed: a relative half-width"):
        check_target_ci(bad)


def test_order_statistic_ranks_cover_at_least_95_percent_exactly() -> None:
    """Exact binomial coverage of the rank interval, for every n from 10 to 1500."""
    assert median_ci_ranks(5) is None
    for n in range(10, 1501):
        low, high = median_ci_ranks(n)
        assert high == n - 1 - low  # symmetric
        coverage = sum(math.comb(n, k) for k in range(low + 1, n - low)) / 2**n
        assert coverage >= 0.95, (n, coverage)


def test_halfwidth_on_known_samples() -> None:
    samples = np.arange(1, 101, dtype=np.float64)  # median 50.5; ranks (39, 60) → values 40 and 61
    median, low, high = median_ci(samples)
    assert (median, low, high) == (50.5, 40.0, 61.0)
    assert relative_halfwidth(samples) == pytest.approx(10.5 / 50.5)
    assert relative_halfwidth(np.full(100, 7.0)) == 0.0
    assert relative_halfwidth(np.arange(5.0)) == math.inf  # too few calls for an interval
    stats = compute_stats(samples * 1e6)
    assert stats.p50_halfwidth == pytest.approx(10.5 / 50.5)


def test_noisy_flag_names_the_tail_when_the_iqr_is_tight() -> None:
    # The case: p50 0.034 ms, p99 15.6 ms. 97% of calls are tight, 3% are 15.6 ms.
    samples = np.concatenate([np.full(970, 34_000) + np.arange(970) % 5, np.full(30, 15_600_000)])
    stats = compute_stats(samples)
    assert stats.noisy
    assert len(stats.noisy_reasons) == 1 and stats.noisy_reasons[0].startswith("tail: p99")
    assert noisy_reasons(1.0, 0.5, 1.5)[0].startswith("spread: IQR 50%")
    assert noisy_reasons(1.0, 0.05, 2.0) == () and noisy_reasons(1.0, 0.05, 4.9) == ()
    assert noisy_reasons(1.0, 0.05, 5.1) == ("tail: p99 5.1x the median > 5x",)


def _settling(first: list[int], then: int) -> Callable[[int], np.ndarray]:
    queue = list(first)

    def draw(k: int) -> np.ndarray:
        out = [queue.pop(0) if queue else then for _ in range(k)]
        return np.asarray(out, dtype=np.float64)

    return draw


def test_warm_up_ends_once_the_per_call_time_has_settled() -> None:
    # Calls start at 2 ms and decay towards a steady 100 µs (3% less excess per call): consecutive
    # windows' medians differ by more than 5% until the excess has nearly gone, then agree.
    first = [100_000 + 1_900_000 * 0.97**i for i in range(400)]
    clock = FakeClock(_readings(_settling(first, 100_000)))
    warm = warm_up(lambda _x: None, None, min_calls=10, min_time_s=0.0, max_time_s=5.0, clock=clock)
    assert warm.stable is True
    assert warm.calls > 50  # not after the first two windows of 10 calls
    assert warm.window_medians_ns[0] > 1_000_000
    last, previous = warm.window_medians_ns[-1], warm.window_medians_ns[-2]
    assert abs(last - previous) <= 0.05 * previous and last < 1.3 * 100_000
    assert warm.seconds < 5.0


def test_warm_up_that_never_settles_stops_at_its_cap() -> None:
    rng = np.random.default_rng(0)
    # Each window's calls all take one of two very different times: window medians keep jumping.
    state = {"slow": False}

    def draw(k: int) -> np.ndarray:
        state["slow"] = not state["slow"]
        return np.full(k, 1_000_000.0 if state["slow"] else 100_000.0) * (1 + 0.001 * rng.random(k))

    clock = FakeClock(_readings(draw, gap=0))
    # windows are 5 calls / 20 ms; the draw alternates every 4096 calls, so consecutive windows
    # sometimes straddle a switch: use a tolerance no pair of distinct levels can meet
    warm = warm_up(lambda _x: None, None, min_calls=10, min_time_s=0.0, max_time_s=0.5, clock=clock,
                   tolerance=0.0)
    assert warm.stable is False
    assert warm.seconds >= 0.5


def test_fixed_warm_up_just_meets_its_minimums() -> None:
    warm = warm_up(lambda _x: None, None, min_calls=7, min_time_s=0.0, clock=FakeClock(step_ns=1_000))
    assert warm.stable is None and warm.calls == 7


def test_timestamp_storage_is_preallocated_and_grows_between_blocks() -> None:
    storage = Timestamps(1_000)
    assert storage.starts.dtype == np.int64 and storage.capacity == 1_000 and storage.regrowths == 0
    loop = timed_loop(lambda _x: None, None, min_calls=800, min_time_s=0.0, clock=FakeClock(step_ns=10),
                      storage=storage)
    assert loop.regrowths == 0 and loop.storage_bytes == 2 * 8 * 1_000
    loop = timed_loop(lambda _x: None, None, min_calls=5_000, min_time_s=0.0, clock=FakeClock(step_ns=10),
                      storage=storage)
    assert loop.regrowths == 1 and loop.n_calls == 5_000 and storage.capacity >= 5_000
    assert loop.samples_ns.tolist() == [10] * 5_000


def test_expected_calls_sizes_storage_from_the_pace() -> None:
    assert expected_calls(50, 1.0, 10_000) == pytest.approx(1.0e9 / 10_000 * 1.1 * 1.05 + 64, abs=1)
    assert expected_calls(500, 0.0, 10_000) == int(500 * 1.05 + 64)
    assert expected_calls(50, 100.0, 1.0, max_calls=1_000) == 1_000


def test_a_pace_that_collapses_mid_block_stops_within_one_call_of_max_time() -> None:
    # ~11.5 µs calls for 500 calls, then 100 ms calls. The first look (at 5 ms) plans more fast calls
    # for a ±0.5% target; the block planned at that pace would take minutes, but the deadline,
    # compared after each call (outside its readings), ends it after one slow call.
    durations = [10_000 + (i * 7919) % 3001 for i in range(500)] + [100_000_000] * 10_000
    readings, now = [], 0
    for d in durations:
        readings += [now, now + d]
        now += d + GAP_NS
    loop = timed_loop(lambda _x: None, None, min_calls=50, min_time_s=0.005, clock=FakeClock(readings),
                      target_ci=0.005, max_time_s=0.05)
    assert loop.stop == STOP_MAX_TIME and loop.target_met is False
    assert loop.n_calls == 501
    assert 0.05e9 <= loop.wall_ns <= 0.05e9 + 100_000_000
