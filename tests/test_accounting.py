"""CPU and memory accounting on workloads of known cost (generous tolerances, not benchmarks)."""

from __future__ import annotations

import time

import numpy as np

from benchlib.engine.case import RunCase
from benchlib.engine.worker import measure


def _busy(seconds: float):  # noqa: ANN202 - a predictor
    def predict(_inputs: object) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass

    return predict


def test_busy_loop_on_one_thread_is_about_one_core() -> None:
    case = RunCase("numpy", min_time_s=0.5, min_calls=5, warmup_calls=1, warmup_time_s=0.0)
    fields = measure(_busy(0.005), None, case)
    # One thread spinning: about 100% of one core (the sampler thread adds a few percent).
    assert 75 <= fields["cpu_percent"] <= 125, fields["cpu_percent"]
    assert 0.3 <= fields["cpu_fraction_of_usable"] * fields["usable_cores"] <= 1.25
    assert fields["latency_ms"]["p50"] >= 5.0
    assert fields["n_calls"] >= 5
    assert fields["sampler"]["n_samples"] >= 10


def test_sleeping_predictor_uses_little_cpu() -> None:
    case = RunCase("numpy", min_time_s=0.3, min_calls=5, warmup_calls=1, warmup_time_s=0.0)
    fields = measure(lambda _x: time.sleep(0.005), None, case)
    assert fields["cpu_percent"] < 30
    assert fields["ctx_switches"]["voluntary"] >= 5


def test_allocation_during_the_loop_shows_in_peak_rss() -> None:
    size_mb = 200

    def allocate(_inputs: object) -> None:
        block = np.ones(size_mb * 2**20 // 8)  # touched: np.ones writes every page
        time.sleep(0.03)  # held long enough for a 10 ms sampler to see it
        del block

    # The baseline predictor sleeps so that the loop's own sample lists stay small.
    baseline = measure(lambda _x: time.sleep(0.001), None, RunCase("numpy", min_time_s=0.1, warmup_calls=0,
                                                      warmup_time_s=0.0))["rss_peak_mb"]
    fields = measure(allocate, None, RunCase("numpy", min_time_s=0.2, min_calls=3, warmup_calls=0,
                                             warmup_time_s=0.0))
    assert fields["rss_peak_mb"] - baseline >= 0.8 * size_mb
    assert fields["uss_peak_mb"] is None or fields["uss_peak_mb"] - baseline >= 0.7 * size_mb
