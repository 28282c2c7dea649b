"""A case whose ``scenario`` is one of LoadGen's, inside the one worker (:mod:`benchlib.engine.worker`).

The worker has already read the environment and loaded the model (a zoo spec, a user's ONNX file or
a PyTorch factory's export), and it turns whatever this raises into the record. Here: the backend's
strategy (:mod:`benchlib.scenarios.strategies`) builds it through the worker's factory, so the case's
precision is applied as in the timed loop (:func:`benchlib.engine.build.new_backend`); then the
executor starts, a warm-up also estimates what LoadGen needs to plan its queries, LoadGen's harness
cost is measured with a no-op SUT, the scenario runs (one LoadGen test, Offline's reruns, or the
Server search), the outputs are checked by the one output check, and at a reduced precision its
accuracy is measured on the seeded evaluation set. A backend that cannot run the scenario raises
:class:`~benchlib.scenarios.strategies.ScenarioUnsupportedError` (a ``skipped`` record).
"""

from __future__ import annotations

import itertools
import os
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchlib.engine.build import accuracy_fields, built_fields, new_backend, precision_fields
from benchlib.engine.case import RunCase
from benchlib.engine.outcome import output_fields
from benchlib.scenarios.settings import ScenarioSettings

#: Test-only faults (honoured only when the worker's test faults are enabled): after the warm-up,
#: ``sut_raise`` feeds the framework inputs of the wrong shape (it raises inside the SUT during the
#: LoadGen run) and ``sut_abort`` aborts the process from inside the SUT.
SUT_FAULTS = ("sut_raise", "sut_abort")
#: Queries that run normally before an injected fault strikes.
FAULT_AFTER = 20
#: Offline runs at most this many times to meet its minimum duration (see :func:`offline`).
OFFLINE_RUNS = 3


def loadgen_dir(run_id: str) -> Path:
    """Where LoadGen's logs of run ``run_id`` go: ``outputs/loadgen/<run id>/``."""
    from benchlib.system.paths import outputs_dir

    return outputs_dir() / "loadgen" / run_id


def _inject_fault(executor: Any, fault: str) -> None:
    """Make the SUT fail after :data:`FAULT_AFTER` batches (tests only)."""
    from benchlib.scenarios.executors import gathered

    count = itertools.count()
    submit, call = executor.submit, executor.call

    def broken(rows: Any) -> Any:
        if next(count) < FAULT_AFTER:
            return rows
        if fault == "sut_abort":
            os.abort()
        return gathered(rows)[..., :-1]  # one feature short: the framework itself raises

    executor.submit = lambda ids, rows: submit(ids, broken(rows))
    executor.call = lambda rows: call(broken(rows))


def offline(harness: Any, calibration: Any, log_root: Path, runs: int = OFFLINE_RUNS) -> dict[str, Any]:
    """Offline until LoadGen finds its minimum duration met (or ``runs`` runs): LoadGen sizes its one
    query from the expected rate, and when the SUT outran the warm-up's estimate it asks for a larger
    query ("increase expected QPS"); the next run expects the rate LoadGen measured."""
    attempts = []
    for index in range(runs):
        summary = harness.run(calibration, log_root if index == 0 else log_root / f"rerun-{index}")
        attempts.append({k: summary.get(k) for k in ("validity", "samples_per_second", "min_duration_met",
                                                      "effective_samples_per_query", "log_dir")})
        measured = summary.get("samples_per_second")
        if summary.get("min_duration_met") is not False or not measured:
            break
        calibration = replace(calibration, samples_per_s=max(measured, calibration.samples_per_s * 2))
    summary["attempts"] = attempts
    return summary


def _metric(scenario: str, summary: dict[str, Any], search: dict[str, Any] | None) -> dict[str, Any]:
    """LoadGen's headline figure of the scenario."""
    if scenario == "SingleStream":
        return {"name": "p90 latency", "value": summary["latency_ms"].get("p90"), "unit": "ms"}
    if scenario == "MultiStream":
        return {"name": "p99 query latency", "value": (summary.get("query_latency_ms") or {}).get("p99"),
                "unit": "ms"}
    if scenario == "Offline":
        return {"name": "samples per second", "value": summary.get("samples_per_second"), "unit": "samples/s"}
    return {"name": "highest rate within the bound", "value": (search or {}).get("server_max_qps"),
            "unit": "queries/s"}


def _throughput(scenario: str, summary: dict[str, Any], settings: ScenarioSettings) -> float | None:
    if scenario == "SingleStream":
        return summary.get("qps_with_loadgen_overhead")
    if scenario == "MultiStream":  # one query at a time: samples per query over the mean query latency
        mean = (summary.get("query_latency_ms") or {}).get("mean")
        return settings.samples_per_query / (mean / 1e3) if mean else None
    if scenario == "Offline":
        return summary.get("samples_per_second")
    return summary.get("completed_samples_per_sec")


def call_sizes(case: RunCase) -> tuple[int, ...]:
    """The batch sizes a scenario's calls can take: one sample (warm-up, SingleStream, a lone Server
    query) up to the case's batch (Offline and MultiStream calls, Server's joined queries)."""
    return tuple(dict.fromkeys((1, case.batch_size)))


def batch_refusal(spec: Any, case: RunCase) -> str | None:
    """Why a model whose inputs fix the batch dimension cannot serve ``case``'s calls, or None."""
    fixed = getattr(spec, "fixed_batch", None)
    if fixed is None or call_sizes(case) == (fixed,):
        return None
    return (f"{spec.name}'s inputs fix the batch dimension at {fixed}, and {case.scenario} calls batches of 1 to "
            f"{case.batch_size} sample(s) (running another would measure a reshaped model); allowed: a model whose "
            f"batch dimension is dynamic (or fixed at 1, for SingleStream at batch 1)")


def run_loadgen(case: RunCase, spec: Any, env: dict[str, Any], fields: dict[str, Any],
                fault: str | None = None) -> None:
    """Build, warm up and run ``case``'s scenario on ``spec``; fills record ``fields`` (raises on failure).

    ``fault`` is the case's test fault when test faults are enabled (:data:`SUT_FAULTS`, or
    ``no_fallback`` at the output check), else None.
    """
    from benchlib.precision import tolerance_for
    from benchlib.scenarios.harness_cost import noop_cost
    from benchlib.scenarios.loadgen_harness import Harness
    from benchlib.scenarios.server_search import search
    from benchlib.scenarios.strategies import ScenarioUnsupportedError, strategy_for

    settings = ScenarioSettings.from_case(case)
    strategy = strategy_for(case.backend)
    reason = strategy.unsupported(case) or batch_refusal(spec, case)
    if reason:
        raise ScenarioUnsupportedError(reason)
    fields.update(run_id=uuid.uuid4().hex, scenario_settings={"scenario": case.scenario, **settings.to_extra()},
                  mlperf_valid_submission=False, mlperf_note=settings.mlperf_note())

    made: list[Any] = []

    def create(threads: int | None, variant: str | None) -> Any:
        backend = new_backend(case, spec, threads, variant, call_sizes(case), fields)
        if not made:  # the record's precision fields: every stream's backend is made alike
            fields.update(precision_fields(backend, case, env))
        made.append(backend)
        return backend

    built = strategy.build(case, spec, settings.streams, case.batch_size, create)
    fields.update(built.facts)
    built_fields(built.backend, fields)
    harness = Harness(built.executor, spec, settings, case.batch_size, case.seed)
    try:
        tick = time.perf_counter()
        calibration = harness.calibrate()
        fields["warmup_s"] = time.perf_counter() - tick
        # what the warm-up measured to plan LoadGen's queries (``calibration`` is INT8's calibration set)
        fields["loadgen_calibration"] = {"single_call_ms": calibration.single_s * 1e3,
                                         "batch_call_ms": calibration.batch_s * 1e3,
                                         "burst_samples_per_s": calibration.samples_per_s}
        fields["concurrency"] = built.executor.settings()
        fields["thread_settings"] = fields["concurrency"].get("backend_thread_settings")
        fields["harness_overhead_us"] = noop_cost("SingleStream", queries=2000)["us_per_query"]
        if fault in SUT_FAULTS:
            _inject_fault(built.executor, fault)
        log_root = loadgen_dir(fields["run_id"])
        search_fields = None
        if case.scenario == "Server":
            search_fields = search(harness, calibration, log_root)
            summary = search_fields.pop("best")
            fields.update(search_fields, latency_bound_ms=settings.latency_bound_ms)
        elif case.scenario == "Offline":
            summary = offline(harness, calibration, log_root)
        else:
            summary = harness.run(calibration, log_root)
        check = harness.check_outputs(fallback_fault=fault == "no_fallback")
    finally:
        harness.close()
    fields["loadgen"] = summary
    fields["loadgen_log_dir"] = str(log_root)
    fields["metric"] = _metric(case.scenario, summary, search_fields)
    latency = summary["latency_ms"]
    fields["latency_ms"] = {k: latency.get(k) for k in ("mean", "min", "p50", "p90", "p95", "p99", "max")}
    fields["throughput_sps"] = _throughput(case.scenario, summary, settings)
    fields["n_calls"] = summary.get("query_count")
    # the model's own tolerance at fp32, a reduced precision's own above it (as in the timed loop)
    fields.update(output_fields(check, tolerance_for(case.precision, spec.tolerance), case.precision,
                                fields["warnings"]))
    accuracy_fields(built.backend.raw_predictor(), spec, case, fields)  # after LoadGen, never during it
    if summary.get("validity") != "VALID" and case.scenario != "Server":
        fields["warnings"].append(f"LoadGen: INVALID ({summary.get('invalid_reason') or 'see its logs'})")
