"""What LoadGen and benchlib's SUT plumbing cost per query, measured with a no-op system under test.

The no-op SUT completes every query inside LoadGen's ``IssueQuery`` callback, the way the harness
completes a SingleStream query, so the cost measured is everything but the inference: LoadGen's
scheduling and logging, the Python binding's callback and the completion call.

* SingleStream, back to back: microseconds of wall time per query (LoadGen's own
  ``qps_with_loadgen_overhead``), the latency the harness adds to every query.
* Server: process CPU time per query, the share of the cores the harness takes away from the
  framework while queries arrive. LoadGen's own threads also cost a fixed share of a core whatever
  the rate, so :func:`server_cost` runs two rates for the same time and reports the marginal cost
  per query (the slope) apart from that fixed share (the intercept).

Run in a child process (:func:`noop_cost_payload`) so that no framework shares the process.
"""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib.scenarios.loadgen_harness import Responder, read_detail_log

#: The issue's goal: at most this much per query, so that the harness does not cap ``fnn`` at batch 1.
GOAL_US = 20.0


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _NoopSut:
    """Completes each query at once, through the same responder as the harness."""

    def __init__(self, lg: Any) -> None:
        self.responder = Responder(lg)

    def issue(self, ids: list[int], indices: list[int]) -> None:
        self.responder.complete(ids)


def noop_cost(scenario: str = "SingleStream", queries: int = 20_000, rate: float = 5_000.0,
              log_dir: str | Path | None = None) -> dict[str, Any]:
    """One LoadGen run of ``queries`` queries against a SUT that completes each at once."""
    import mlperf_loadgen as lg

    issue = _NoopSut(lg).issue

    settings = lg.TestSettings()
    settings.scenario = getattr(lg.TestScenario, scenario)
    settings.mode = lg.TestMode.PerformanceOnly
    settings.min_query_count = settings.max_query_count = queries
    settings.min_duration_ms = 0
    settings.single_stream_expected_latency_ns = 1000
    settings.server_target_qps = rate
    settings.server_target_latency_ns = 10_000_000
    with tempfile.TemporaryDirectory(prefix="benchlib-noop-") as tmp:
        folder = Path(log_dir) if log_dir is not None else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        log_settings = lg.LogSettings()
        log_settings.log_output.outdir = str(folder)
        log_settings.enable_trace = False
        sut = lg.ConstructFastSUT(issue, lambda: None)
        qsl = lg.ConstructQSL(1024, 1024, lambda _: None, lambda _: None)
        cpu, tick = _cpu_s(), time.perf_counter()
        lg.StartTestWithLogSettings(sut, qsl, settings, log_settings)
        wall, cpu = time.perf_counter() - tick, _cpu_s() - cpu
        lg.DestroyQSL(qsl)
        lg.DestroyFastSUT(sut)
        values, _ = read_detail_log(folder / "mlperf_log_detail.txt")
    count = values.get("result_query_count") or queries
    result = {"scenario": scenario, "queries": count, "wall_s": wall, "cpu_us_per_query": cpu / count * 1e6,
              "wall_us_per_query": wall / count * 1e6, "loadgen_version": values.get("loadgen_version")}
    if scenario == "SingleStream":
        qps = values.get("result_qps_with_loadgen_overhead")
        result["us_per_query"] = 1e6 / qps if qps else None  # LoadGen's own figure, fixed start-up excluded
    else:
        result["us_per_query"] = result["cpu_us_per_query"]
        result["target_qps"] = rate
        result["completed_samples_per_sec"] = values.get("result_completed_samples_per_sec")
    return result


def server_cost(rate: float = 5_000.0, seconds: float = 1.0) -> dict[str, Any]:
    """Server with the no-op SUT at ``rate`` and at a tenth of it, ``seconds`` each: the marginal CPU
    time per query (µs) and the fixed CPU share of LoadGen's threads (percent of one core)."""
    low = noop_cost("Server", queries=max(100, int(rate / 10 * seconds)), rate=rate / 10)
    high = noop_cost("Server", queries=max(1000, int(rate * seconds)), rate=rate)
    cpu_low = low["cpu_us_per_query"] * low["queries"] / 1e6
    cpu_high = high["cpu_us_per_query"] * high["queries"] / 1e6
    per_query = (cpu_high - cpu_low) / max(1, high["queries"] - low["queries"])
    fixed = max(0.0, (cpu_low - per_query * low["queries"]) / low["wall_s"])
    return {**high, "us_per_query": per_query * 1e6, "fixed_cpu_percent": 100 * fixed,
            "cpu_us_per_query_at_rate": high["cpu_us_per_query"]}


def noop_cost_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """Child-process entry (:func:`benchlib.system.child.run_in_child`)."""
    payload = dict(payload)
    if payload.pop("marginal", False) and payload.get("scenario") == "Server":
        return server_cost(rate=payload["rate"], seconds=payload["queries"] / payload["rate"])
    return noop_cost(**payload)


def measure_in_child(scenario: str = "SingleStream", queries: int = 20_000, rate: float = 5_000.0,
                     timeout_s: float = 300.0, marginal: bool = False) -> dict[str, Any]:
    """:func:`noop_cost` (with ``marginal``, Server: :func:`server_cost`) in a fresh process; raises
    ``RuntimeError`` with the child's reason if it failed."""
    from benchlib.system.child import run_in_child

    payload = {"scenario": scenario, "queries": queries, "rate": rate, "marginal": marginal}
    child = run_in_child("benchlib.scenarios.harness_cost:noop_cost_payload", payload, timeout_s, what="measurement")
    if not child.ok:
        raise RuntimeError(f"no-op SUT run failed: {child.error}; {child.stderr_tail[-500:]}")
    return child.value
