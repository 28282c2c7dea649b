"""CPU and memory accounting on workloads of known cost (generous tolerances, not benchmarks).

Nothing here depends on how busy the machine is: a real workload is judged by the CPU seconds it
used (which other processes cannot change, only stretch over more wall time), and what a share of a
core reads as is checked on an injected CPU window and sampler.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from benchlib.engine import worker
from benchlib.engine.case import RunCase
from benchlib.engine.cpu import CpuUsage, CpuWindow
from benchlib.engine.sampler import Sampler, SamplerResult
from benchlib.engine.worker import measure


def _spy_windows(monkeypatch: pytest.MonkeyPatch) -> list[CpuUsage]:
    """Make ``measure`` use the real CPU window, keeping what each one measured in the returned list."""
    seen: list[CpuUsage] = []

    class SpyWindow(CpuWindow):
        def stop(self) -> CpuUsage:
            usage = super().stop()
            seen.append(usage)
            return usage

    monkeypatch.setattr(worker, "CpuWindow", SpyWindow)
    return seen


class _CountingSampler(Sampler):
    """The real sampler, counting its samples (all, and those that read USS) as they are taken, and
    keeping what each one saw."""

    samples = 0
    uss_samples = 0
    results: list[SamplerResult] = []

    def _sample(self, with_uss: bool) -> None:
        super()._sample(with_uss)
        type(self).samples += 1
        type(self).uss_samples += with_uss

    def stop(self) -> SamplerResult:
        result = super().stop()
        type(self).results.append(result)
        return result


def _busy(cpu_seconds: float):  # noqa: ANN202 - a predictor
    # Spin until this thread has used ``cpu_seconds`` of CPU: the work is known even when other
    # processes compete for the cores (then wall time grows, CPU time does not).
    def predict(_inputs: object) -> None:
        end = time.thread_time() + cpu_seconds
        while time.thread_time() < end:
            pass

    return predict


def test_busy_loop_on_one_thread_is_about_one_core(monkeypatch: pytest.MonkeyPatch) -> None:
    windows = _spy_windows(monkeypatch)
    monkeypatch.setattr(_CountingSampler, "results", [])
    monkeypatch.setattr(worker, "Sampler", _CountingSampler)
    case = RunCase("numpy", min_time_s=0.5, min_calls=5, warmup_calls=1, warmup_time_s=0.0)
    fields = measure(_busy(0.005), None, case)
    (usage,), (sampled,) = windows, _CountingSampler.results
    # The record's figure is the window's CPU time less the sampler's, over the window's wall time ...
    cpu_s = usage.cpu_s - sampled.sampler_cpu_s
    assert fields["cpu_percent"] == pytest.approx(100 * cpu_s / usage.wall_s)
    # ... and those CPU seconds match the known work, which other processes cannot change (they can
    # only spread it over more wall time, which is why no lower bound is put on the percentage here).
    assert 0.85 <= cpu_s / (fields["n_calls"] * 0.005) <= 1.3, (cpu_s, fields["n_calls"])
    # One spinning thread never reads as much more than one core, however busy the machine.
    assert fields["cpu_percent"] <= 125, fields["cpu_percent"]
    cores = fields["usable_cores"]
    assert fields["cpu_fraction_of_usable"] == pytest.approx(fields["cpu_percent"] / 100 / cores)
    assert fields["latency_ms"]["p50"] >= 5.0
    assert fields["n_calls"] >= 5
    # The sampler took samples while the thread spun holding the GIL: more than its first and last one.
    # (How many depends on when the scheduler runs it; at most one per interval it was running.)
    samples = fields["sampler"]["n_samples"]
    assert samples == sampled.n_samples and 3 <= samples <= sampled.wall_s / sampled.interval_s + 3, samples


def test_a_window_in_which_one_thread_had_the_core_reads_as_one_core(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a share of a core reads as, on an injected CPU window and sampler: 100% is one core, less is less."""
    def fake_sampler(cpu_s: float) -> type:
        class FakeSampler:
            def __init__(self, interval_s: float = 0.01, uss_every: int = 1) -> None:
                self.interval_s = interval_s

            def start(self) -> None:
                pass

            def stop(self) -> SamplerResult:
                return SamplerResult(rss_peak_mb=100.0, uss_peak_mb=90.0, per_core_percent=[100.0, 0.0],
                                     n_samples=200, interval_s=self.interval_s, wall_s=2.0, sampler_cpu_s=cpu_s,
                                     sampler_cpu_percent=100 * cpu_s / 2.0, rss_first_mb=100.0)

        return FakeSampler

    def fake_window(cpu_s: float, wall_s: float = 2.0) -> type:
        class FakeWindow:
            def __init__(self, usable: int | None = None) -> None:
                self.usable = usable or 1

            def start(self) -> None:
                pass

            def stop(self) -> CpuUsage:
                return CpuUsage(wall_s=wall_s, cpu_s=cpu_s, cpu_percent=100 * cpu_s / wall_s,
                                cpu_fraction_of_usable=cpu_s / wall_s / self.usable, voluntary_ctx_switches=0,
                                involuntary_ctx_switches=3, others_cores=0.0, noise={})

        return FakeWindow

    case = RunCase("numpy", min_time_s=0.0, min_calls=5, warmup_calls=0, warmup_time_s=0.0)
    # 2 s of wall time: the thread had the core all along (2 s of CPU) and the sampler used 0.04 s
    monkeypatch.setattr(worker, "Sampler", fake_sampler(0.04))
    monkeypatch.setattr(worker, "CpuWindow", fake_window(2.04))
    fields = measure(lambda _x: None, None, case)
    assert 40 <= fields["cpu_percent"] <= 125 and fields["cpu_percent"] == pytest.approx(100.0)
    assert fields["cpu_percent_with_sampler"] == pytest.approx(102.0)
    assert fields["cpu_fraction_of_usable"] == pytest.approx(1.0 / fields["usable_cores"])
    # another process took the core away half of the time: half a core
    monkeypatch.setattr(worker, "CpuWindow", fake_window(1.04))
    assert measure(lambda _x: None, None, case)["cpu_percent"] == pytest.approx(50.0)


def test_sleeping_predictor_uses_little_cpu() -> None:
    case = RunCase("numpy", min_time_s=0.3, min_calls=5, warmup_calls=1, warmup_time_s=0.0)
    fields = measure(lambda _x: time.sleep(0.005), None, case)
    assert fields["cpu_percent"] < 30
    assert fields["ctx_switches"]["voluntary"] >= 5


def test_allocation_during_the_loop_shows_in_peak_rss(monkeypatch: pytest.MonkeyPatch) -> None:
    size_mb = 200
    monkeypatch.setattr(worker, "Sampler", _CountingSampler)

    def allocate(_inputs: object) -> None:
        block = np.ones(size_mb * 2**20 // 8)  # touched: np.ones writes every page
        # Held until the sampler has read RSS twice and USS twice since the block existed (the first
        # reading may have begun before it): seen for certain, however late the sampler thread runs.
        rss, uss = _CountingSampler.samples + 2, _CountingSampler.uss_samples + 2
        deadline = time.monotonic() + 120
        while (_CountingSampler.samples < rss or _CountingSampler.uss_samples < uss) and time.monotonic() < deadline:
            time.sleep(0.002)
        del block

    # The baseline predictor sleeps so that the loop's own sample lists stay small.
    before = measure(lambda _x: time.sleep(0.001), None, RunCase("numpy", min_time_s=0.1, warmup_calls=0,
                                                    warmup_time_s=0.0))
    baseline = before["rss_peak_mb"]
    fields = measure(allocate, None, RunCase("numpy", min_time_s=0.2, min_calls=3, warmup_calls=0,
                                             warmup_time_s=0.0))
    assert fields["rss_peak_mb"] - baseline >= 0.8 * size_mb
    # USS against the USS baseline: USS leaves out shared pages (libraries), so against the RSS baseline the
    # difference shrinks by however much a process that imported the frameworks shares (100s of MB).
    uss_baseline = before["uss_peak_mb"]
    assert fields["uss_peak_mb"] is None or uss_baseline is None or \
        fields["uss_peak_mb"] - uss_baseline >= 0.7 * size_mb


def test_a_300000_call_loop_does_not_grow_the_process() -> None:
    # The readings go to int64 storage whose pages are written before the sampler's first reading,
    # so the loop itself adds (almost) nothing; lists of Python ints grew ~100 bytes per call here.
    case = RunCase("numpy", min_time_s=0.0, min_calls=300_000, warmup_calls=10, warmup_time_s=0.0)
    fields = measure(lambda _x: None, None, case)
    assert fields["n_calls"] == 300_000
    assert fields["timing_storage_mb"] >= 300_000 * 16 / 2**20  # start and end reading, 8 bytes each
    assert fields["loop_rss_growth_mb"] < 1.0, fields["loop_rss_growth_mb"]
