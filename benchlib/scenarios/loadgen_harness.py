"""The LoadGen harness: an executor as LoadGen's system under test (SUT), the model's inputs as its QSL.

:class:`Harness` owns the query sample library (random inputs of the model, generated once and
kept in RAM, so loading samples costs nothing during the run; a user model's named inputs packed
into rows, :mod:`benchlib.scenarios.samples`), the SUT callbacks and the check of a few outputs
against the model's reference (:mod:`benchlib.models.output_check`). :meth:`Harness.run` runs one
LoadGen test and returns LoadGen's verdict and figures read from its own detail log
(``mlperf_log_detail.txt``), which stays with the summary log in the run's folder under
``outputs/loadgen/<run id>/``.

SingleStream queries run synchronously in LoadGen's issue thread (one query at a time: concurrency
cannot help and a hand-off would only add latency); the other scenarios cut each query into
batches (:func:`~benchlib.scenarios.executors.split_rows`) and hand them to the executor.
Whatever the SUT does, every sample is completed: a batch that failed is reported to LoadGen at
once (LoadGen would otherwise wait forever) and the first error fails the record.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchlib.models.output_check import Check
from benchlib.scenarios.executors import Executor, Rows, split_rows
from benchlib.scenarios.samples import draw, unpack
from benchlib.scenarios.settings import ScenarioSettings

#: The query sample library holds at most this many bytes of inputs (and at most 1024 samples).
QSL_BYTES = 64 * 1024 * 1024
QSL_MAX_SAMPLES = 1024
#: Finished batches whose outputs are checked against the float64 reference.
CHECKED_BATCHES = 8
#: A run that meets neither its minimum duration nor its query count by then ends (LoadGen's verdict
#: is then INVALID): at least this long, or ten times the minimum duration.
MAX_DURATION_FLOOR_S = 60.0
#: Server: more outstanding queries than this many times (rate x bound) means the newest query waits
#: several bounds; LoadGen then ends the run early (INVALID) instead of queueing for minutes.
OUTSTANDING_BOUNDS = 4.0
#: Offline: LoadGen sizes its one query from the expected rate; the estimate is raised by this factor
#: so that a SUT faster than its warm-up still runs for the minimum duration.
OFFLINE_SLACK = 1.5

#: Latency percentiles LoadGen logs, and the names benchlib gives them.
PERCENTILES = {"50.00": "p50", "90.00": "p90", "95.00": "p95", "97.00": "p97", "99.00": "p99", "99.90": "p999"}


@dataclass
class Calibration:
    """What the warm-up measured: per-call time at batch 1 and at the largest batch, concurrent rate."""

    single_s: float
    batch_s: float
    samples_per_s: float


class Responder:
    """Tells LoadGen that samples are done, reusing response objects (one set per calling thread).

    Building a ``QuerySampleResponse`` costs about three times as much as setting the id of an
    existing one (measured: ~2 µs against ~0.7 µs per sample), and an Offline run completes every
    sample; LoadGen copies the responses before ``QuerySamplesComplete`` returns, so reusing them
    afterwards is safe.
    """

    def __init__(self, lg: Any) -> None:
        self.lg = lg
        self._local = threading.local()

    def complete(self, ids: Sequence[int]) -> None:
        pool = getattr(self._local, "pool", None)
        if pool is None or len(pool) < len(ids):
            pool = self._local.pool = [self.lg.QuerySampleResponse(0, 0, 0) for _ in range(max(64, len(ids)))]
        for response, sample_id in zip(pool, ids, strict=False):
            response.id = sample_id
        self.lg.QuerySamplesComplete(pool[: len(ids)])


def qsl_size(sample_bytes: int, requested: int | None) -> int:
    """Samples held in the QSL: ``requested``, else as many as fit in :data:`QSL_BYTES` (1 to 1024)."""
    if requested is not None:
        return requested
    return int(max(1, min(QSL_MAX_SAMPLES, QSL_BYTES // max(1, sample_bytes))))


def read_detail_log(path: Path) -> tuple[dict[str, Any], list[str]]:
    """``key -> value`` of LoadGen's detail log (the last value of a key wins) and its error messages."""
    values: dict[str, Any] = {}
    errors: list[str] = []
    for line in path.read_text(errors="replace").splitlines():
        if not line.startswith(":::MLLOG "):
            continue
        try:
            entry = json.loads(line[len(":::MLLOG "):])
        except ValueError:
            continue
        values[entry.get("key")] = entry.get("value")
        if (entry.get("metadata") or {}).get("is_error"):
            errors.append(f"{entry.get('key')}: {entry.get('value')}")
    return values, errors


def _ms(value: Any) -> float | None:
    return float(value) / 1e6 if isinstance(value, int | float) and not isinstance(value, bool) else None


def summarise(values: dict[str, Any], errors: list[str], scenario: str) -> dict[str, Any]:
    """The fields of LoadGen's detail log a record keeps (latencies in ms)."""
    latency = {"min": _ms(values.get("result_min_latency_ns")), "mean": _ms(values.get("result_mean_latency_ns")),
               "max": _ms(values.get("result_max_latency_ns"))}
    query_latency: dict[str, float | None] = {}
    for logged, name in PERCENTILES.items():
        latency[name] = _ms(values.get(f"result_{logged}_percentile_latency_ns"))
        if scenario == "MultiStream":
            query_latency[name] = _ms(values.get(f"result_{logged}_percentile_per_query_latency_ns"))
    if scenario == "MultiStream":
        query_latency.update(min=_ms(values.get("result_min_query_latency_ns")),
                             mean=_ms(values.get("result_mean_query_latency_ns")),
                             max=_ms(values.get("result_max_query_latency_ns")))
    early_p90 = _ms(values.get("early_stopping_latency_ss")) if scenario == "SingleStream" else None
    early_p99 = _ms(values.get("early_stopping_latency_ms")) if scenario in ("SingleStream", "MultiStream") else None
    return {
        "validity": values.get("result_validity"),
        "perf_constraints_met": values.get("result_perf_constraints_met"),
        "min_duration_met": values.get("result_min_duration_met"),
        "min_queries_met": values.get("result_min_queries_met"),
        "early_stopping_met": values.get("early_stopping_met"),
        "early_stopping_result": (values.get("early_stopping_result") or "").strip() or None,
        "early_stopping_p90_ms": early_p90,
        "early_stopping_p99_ms": early_p99,
        "invalid_reason": (values.get("result_invalid_reason") or "").strip() or None,
        "query_count": values.get("result_query_count"),
        "overlatency_query_count": values.get("result_overlatency_query_count"),
        "scheduled_samples_per_sec": values.get("result_scheduled_samples_per_sec"),
        "completed_samples_per_sec": values.get("result_completed_samples_per_sec"),
        "samples_per_second": values.get("result_samples_per_second"),
        "qps_with_loadgen_overhead": values.get("result_qps_with_loadgen_overhead"),
        "qps_without_loadgen_overhead": values.get("result_qps_without_loadgen_overhead"),
        "latency_ms": latency,
        "query_latency_ms": query_latency or None,
        "effective_min_duration_ms": values.get("effective_min_duration_ms"),
        "effective_min_query_count": values.get("effective_min_query_count"),
        "effective_target_qps": values.get("effective_target_qps"),
        "effective_target_latency_ms": _ms(values.get("effective_target_latency_ns")),
        "effective_samples_per_query": values.get("effective_samples_per_query"),
        "effective_max_async_queries": values.get("effective_max_async_queries"),
        "loadgen_version": values.get("loadgen_version"),
        "errors": errors,
    }


class Harness:
    """One executor and one model's inputs, ready for LoadGen runs of one scenario."""

    def __init__(self, executor: Executor, spec: Any, settings: ScenarioSettings, batch: int, seed: int = 0) -> None:
        self.executor, self.spec, self.settings, self.batch = executor, spec, settings, batch
        one = draw(spec, 1, seed)  # a user model's named inputs are packed into one array's rows
        self.data = draw(spec, qsl_size(one.nbytes, settings.sample_count), seed)
        self.kept: list[tuple[np.ndarray, Any]] = []
        self.failed_batches = 0
        self._lock = threading.Lock()
        self._pending = 0  # samples of the warm-up burst still running
        self._burst_done = threading.Event()
        self._loadgen: Responder | None = None  # set while a LoadGen test runs; None during the warm-up
        executor.coalesce = settings.scenario == "Server"
        executor.start(self._done)

    # -- SUT callbacks -------------------------------------------------------------------------------
    def _done(self, ids: Sequence[int], rows: np.ndarray, outputs: np.ndarray | None) -> None:
        """A batch finished (any thread): keep a few outputs for the check, then tell LoadGen."""
        with self._lock:
            if outputs is None:
                self.failed_batches += 1
            elif len(self.kept) < CHECKED_BATCHES:
                self.kept.append((rows, outputs))
            if self._loadgen is None:
                self._pending -= len(ids)
                if self._pending <= 0:
                    self._burst_done.set()
                return
        self._loadgen.complete(ids)

    def _issue(self, ids: Sequence[int], indices: Sequence[int]) -> None:
        """LoadGen's issue thread: run a SingleStream query here, hand other queries to the executor."""
        ids, handed = list(ids), 0  # samples handed to the executor (it completes those)
        try:
            indices = np.asarray(indices)
            if self.executor.error is not None:
                raise self.executor.error
            if self.settings.scenario == "SingleStream":
                rows = self.data[indices]
                self._done(ids, rows, self.executor.call(rows))
                handed = len(ids)
            else:
                for part in split_rows(len(ids), self.batch, self.executor.streams):
                    self.executor.submit(ids[part], Rows(self.data, indices[part]))
                    handed = part.stop
        except Exception as exc:  # noqa: BLE001 - an exception must not reach LoadGen's C++ thread
            self.executor.fail(exc)
            self._done(ids[handed:], self.data[:0], None)  # LoadGen must hear of every sample once

    # -- warm-up -------------------------------------------------------------------------------------
    def calibrate(self, burst_s: float = 0.2) -> Calibration:
        """Warm the executor up and estimate what LoadGen needs to plan its queries."""
        single = self._timed_calls(self.data[:1])
        rows = self.data[np.arange(self.batch) % len(self.data)]
        per_batch = self._timed_calls(rows) if self.batch > 1 else single
        per_sample = min(single, per_batch / self.batch)
        if self.settings.scenario == "SingleStream":  # one synchronous call at a time: no executor
            return Calibration(single_s=single, batch_s=per_batch, samples_per_s=1.0 / single)
        if self.executor.coalesce:  # Server joins queued samples into calls of any size up to the batch:
            self.executor.coalesce = False  # so each size's first call happens here, alone
            try:
                self._burst([rows[:size] for size in range(1, self.batch + 1)])
            finally:
                self.executor.coalesce = True
        # a concurrent burst through the executor sized to take about burst_s: warms every stream
        count = int(min(20_000, max(self.batch * self.executor.streams * 4, burst_s / max(per_sample, 1e-7))))
        indices = np.arange(count) % len(self.data)
        size = 1 if self.settings.scenario == "Server" else self.batch
        seconds = self._burst([self.data[indices[part]] for part in split_rows(count, size, self.executor.streams)],
                              timeout_s=max(30.0, 50 * burst_s))
        return Calibration(single_s=single, batch_s=per_batch, samples_per_s=count / seconds)

    def _burst(self, batches: list[np.ndarray], timeout_s: float = 30.0) -> float:
        """Run ``batches`` through the executor at once and wait for all; the seconds it took."""
        with self._lock:
            self._pending = sum(len(rows) for rows in batches)
            self._burst_done.clear()
        tick = time.perf_counter()
        start = 0
        for rows in batches:
            self.executor.submit(list(range(start, start + len(rows))), rows)
            start += len(rows)
        if not self._burst_done.wait(timeout=timeout_s):
            raise TimeoutError(f"the warm-up burst did not finish within {timeout_s:g} s")
        seconds = time.perf_counter() - tick
        self._raise_failure()
        return seconds

    def _timed_calls(self, rows: np.ndarray, calls: int = 20) -> float:
        times = []
        for _ in range(calls):
            tick = time.perf_counter()
            self.executor.call(rows)
            times.append(time.perf_counter() - tick)
        return float(np.median(times))

    def _raise_failure(self) -> None:
        if self.executor.error is not None:
            raise self.executor.error

    # -- one LoadGen test ----------------------------------------------------------------------------
    def test_settings(self, lg: Any, calibration: Calibration, target_qps: float | None) -> Any:
        """LoadGen's settings for this scenario (performance mode, this run's short durations)."""
        s, settings = lg.TestSettings(), self.settings
        s.scenario = getattr(lg.TestScenario, settings.scenario)
        s.mode = lg.TestMode.PerformanceOnly
        s.min_duration_ms = int(round(settings.min_duration_s * 1000))
        s.max_duration_ms = int(1000 * max(MAX_DURATION_FLOOR_S, 10 * settings.min_duration_s))
        s.min_query_count = settings.queries
        # expected latencies are underestimated on purpose: LoadGen then generates enough queries
        s.single_stream_expected_latency_ns = max(1000, int(calibration.single_s * 1e9 / 2))
        s.multi_stream_samples_per_query = settings.samples_per_query
        s.multi_stream_expected_latency_ns = max(1000, int(settings.samples_per_query / calibration.samples_per_s
                                                           * 1e9 / 2))
        s.offline_expected_qps = max(1.0, calibration.samples_per_s * OFFLINE_SLACK)
        if settings.scenario == "Server":
            rate = float(target_qps or settings.target_qps or 1.0)
            s.server_target_qps = rate
            s.server_target_latency_ns = int(settings.latency_bound_ms * 1e6)
            s.server_max_async_queries = int(max(64, OUTSTANDING_BOUNDS * rate * settings.latency_bound_ms / 1e3))
        return s

    def run(self, calibration: Calibration, log_dir: Path, target_qps: float | None = None) -> dict[str, Any]:
        """One LoadGen test; LoadGen's summary of it (from its own detail log) with ``log_dir``."""
        import mlperf_loadgen as lg

        log_dir.mkdir(parents=True, exist_ok=True)
        log_settings = lg.LogSettings()
        log_settings.log_output.outdir = str(log_dir)
        log_settings.log_output.copy_summary_to_stdout = False
        log_settings.enable_trace = False
        sut = lg.ConstructFastSUT(self._issue, lambda: None)
        qsl = lg.ConstructQSL(len(self.data), len(self.data), lambda _: None, lambda _: None)
        with self._lock:
            self.kept.clear()  # the outputs checked are this run's
        self._loadgen = Responder(lg)
        tick = time.perf_counter()
        try:
            lg.StartTestWithLogSettings(sut, qsl, self.test_settings(lg, calibration, target_qps), log_settings)
        finally:
            wall = time.perf_counter() - tick
            self._loadgen = None
            lg.DestroyQSL(qsl)
            lg.DestroyFastSUT(sut)
        for name in ("mlperf_log_trace.json", "mlperf_log_accuracy.json"):  # empty in performance mode
            (log_dir / name).unlink(missing_ok=True)
        self._raise_failure()
        values, errors = read_detail_log(log_dir / "mlperf_log_detail.txt")
        summary = summarise(values, errors, self.settings.scenario)
        summary.update(wall_s=wall, log_dir=str(log_dir), target_qps=target_qps)
        return summary

    def check_outputs(self, fallback_fault: bool = False) -> Check:
        """The kept outputs against the model's reference (:func:`benchlib.models.output_check.check_outputs`):
        the worst error, or unverified with the reason. ``fallback_fault``: tests only."""
        from benchlib.models.output_check import check_outputs, worst_check

        with self._lock:
            kept = list(self.kept)
        return worst_check(check_outputs(self.spec, unpack(rows), [outputs if isinstance(outputs, list)
                                                                   else np.asarray(outputs)], fallback_fault)
                           for rows, outputs in kept)

    def close(self) -> None:
        self.executor.stop()
