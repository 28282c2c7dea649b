"""Statistics on known inputs, and the timed loop driven by a scripted (fake) clock."""

from __future__ import annotations

import numpy as np
import pytest

from benchlib.engine.clock import FakeClock
from benchlib.engine.stats import bootstrap_quantile_ci, compute_stats, subsample
from benchlib.engine.timing import harness_overhead_ns, timed_loop


def _script(durations: list[int], gap: int = 100) -> list[int]:
    """Clock readings (start, end, start, end, ...) that yield ``durations`` as per-call times."""
    readings, now = [], 0
    for d in durations:
        readings += [now, now + d]
        now += d + gap
    return readings


def test_fake_clock_loop_yields_the_scripted_samples() -> None:
    durations = [5, 7, 3, 11, 2]
    calls: list[int] = []
    result = timed_loop(lambda x: calls.append(x), 42, min_calls=5, min_time_s=0.0,
                        clock=FakeClock(_script(durations)))
    assert result.samples_ns.tolist() == durations
    assert calls == [42] * 5
    assert result.wall_ns == sum(durations) + 4 * 100


def test_loop_runs_until_both_minimums_are_met() -> None:
    # Each call takes 1 ms on the fake clock; 10 ms minimum time must win over 3 minimum calls.
    clock = FakeClock(step_ns=500_000)  # start->end and end->next start each 0.5 ms
    result = timed_loop(lambda x: None, None, min_calls=3, min_time_s=0.010, clock=clock)
    assert result.wall_ns >= 10_000_000
    assert result.n_calls >= 10
    assert set(result.samples_ns.tolist()) == {500_000}
    # ... and minimum calls win when the time is already spent.
    result = timed_loop(lambda x: None, None, min_calls=40, min_time_s=0.001, clock=FakeClock(step_ns=500_000))
    assert result.n_calls == 40


def test_loop_with_nothing_to_do_calls_nothing() -> None:
    result = timed_loop(lambda x: pytest.fail("called"), None, min_calls=0, min_time_s=0.0)
    assert result.n_calls == 0


def test_percentiles_on_known_inputs() -> None:
    samples = np.arange(1, 101) * 1_000_000  # 1..100 ms
    stats = compute_stats(samples, batch_size=10)
    ms = stats.latency_ms()
    assert ms["min"] == 1 and ms["max"] == 100
    assert ms["mean"] == pytest.approx(50.5)
    assert ms["p50"] == pytest.approx(50.5)
    assert ms["p90"] == pytest.approx(90.1)
    assert ms["p99"] == pytest.approx(99.01)
    assert ms["iqr"] == pytest.approx(75.25 - 25.75)
    assert ms["std"] == pytest.approx(np.std(np.arange(1, 101), ddof=1))
    assert stats.cv == pytest.approx(ms["std"] / ms["mean"])
    # throughput is batch / median per-call time
    assert stats.throughput_sps == pytest.approx(10 / 0.0505)
    assert stats.n_calls == 100
    assert set(stats.to_dict()) >= {"p50", "p99", "p50_ci95", "noisy", "throughput_sps"}


def test_noisy_flag() -> None:
    steady = np.full(1000, 1_000_000) + np.arange(1000) % 7  # tiny spread
    assert not compute_stats(steady).noisy
    rng = np.random.default_rng(1)
    spread = rng.uniform(0.5e6, 1.5e6, size=1000)  # IQR about half the median
    assert compute_stats(spread).noisy


def test_bootstrap_ci_contains_true_median_and_matches_brute_force() -> None:
    rng = np.random.default_rng(7)
    true_median = np.log(2)  # median of Exp(1)
    hits = 0
    for trial in range(40):
        sample = np.sort(rng.exponential(1.0, size=400))
        lo, hi = bootstrap_quantile_ci(sample, 0.5, seed=trial)
        assert lo <= np.median(sample) <= hi
        hits += lo <= true_median <= hi
    assert hits >= 32  # nominal 95%: 38 of 40 expected; generous bound

    sample = np.sort(rng.exponential(1.0, size=300))
    brute = np.quantile(
        [np.sort(rng.choice(sample, size=sample.size))[int(np.ceil(0.5 * sample.size)) - 1] for _ in range(3000)],
        [0.025, 0.975])
    fast = bootstrap_quantile_ci(sample, 0.5, resamples=3000, seed=3)
    width = brute[1] - brute[0]
    assert abs(fast[0] - brute[0]) < 0.25 * width and abs(fast[1] - brute[1]) < 0.25 * width


def test_bootstrap_is_seeded() -> None:
    sample = np.sort(np.random.default_rng(0).normal(size=500))
    assert bootstrap_quantile_ci(sample, 0.99, seed=5) == bootstrap_quantile_ci(sample, 0.99, seed=5)


def test_empty_samples_are_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        compute_stats([])


def test_subsample_keeps_a_uniform_stride() -> None:
    values, stride = subsample(np.arange(25) * 1_000_000, limit=10)
    assert stride == 3 and values == [0.0, 3.0, 6.0, 9.0, 12.0, 15.0, 18.0, 21.0, 24.0]


def test_harness_overhead_is_measured_with_the_given_clock() -> None:
    assert harness_overhead_ns(calls=10, clock=FakeClock(step_ns=40), repeats=2) == 40
