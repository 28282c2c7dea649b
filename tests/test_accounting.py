"""CPU and memory accounting on workloads of known cost (generous tolerances, not benchmarks)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from benchlib.engine.case import RunCase
from benchlib.engine.worker import measure


def _busy(cpu_seconds: float):  # noqa: ANN202 - a predictor
    # Spin until this thread has used ``cpu_seconds`` of CPU: the work is known even when other
    # processes compete for the cores (then wall time grows, CPU time does not).
    def predict(_inputs: object) -> None:
        end = time.thread_time() + cpu_seconds
        while time.thread_time() < end:
            pass

    return predict


def test_busy_loop_on_one_thread_is_about_one_core() -> None:
    case = RunCase("numpy", min_time_s=0.5, min_calls=5, warmup_calls=1, warmup_time_s=0.0)
    fields = measure(_busy(0.005), None, case)
    # CPU time over the loop matches the known work (plus the sampler's few percent) ...
    cpu_s = fields["cpu_percent"] / 100 * fields["loop_wall_s"]
    assert 0.85 <= cpu_s / (fields["n_calls"] * 0.005) <= 1.3, (cpu_s, fields["n_calls"])
    # ... and one spinning thread reads as about one core: never much more (the sampler adds a
    # little); less only when other processes take the core away, hence the generous lower bound.
    assert 40 <= fields["cpu_percent"] <= 125, fields["cpu_percent"]
    cores = fields["usable_cores"]
    assert fields["cpu_fraction_of_usable"] == pytest.approx(fields["cpu_percent"] / 100 / cores)
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


def test_a_300000_call_loop_does_not_grow_the_process() -> None:
    # The readings go to int64 storage whose pages are written before the sampler's first reading,
    # so the loop itself adds (almost) nothing; lists of Python ints grew ~100 bytes per call here.
    case = RunCase("numpy", min_time_s=0.0, min_calls=300_000, warmup_calls=10, warmup_time_s=0.0)
    fields = measure(lambda _x: None, None, case)
    assert fields["n_calls"] == 300_000
    assert fields["timing_storage_mb"] >= 300_000 * 16 / 2**20  # start and end reading, 8 bytes each
    assert fields["loop_rss_growth_mb"] < 1.0, fields["loop_rss_growth_mb"]
