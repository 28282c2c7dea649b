"""What one scenario case does inside its own process (the launcher's child target for LoadGen scenarios).

Phases: environment, the framework built by its strategy (import and build timed), the executor
started, a warm-up that also estimates what LoadGen needs to plan its queries, LoadGen's harness
cost with a no-op SUT, then the scenario (one LoadGen test, or the Server search), the output check
against the float64 reference, and the record. Whatever happens, a record comes back: ``skipped``
with the reason when the backend cannot run the scenario, ``failed`` with the error when the SUT
failed (a crash of the whole process is turned into a ``failed`` record by the launcher).
"""

from __future__ import annotations

import itertools
import os
import time
import traceback
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchlib.engine.case import RunCase
from benchlib.scenarios.settings import ScenarioSettings

#: Test-only faults (honoured only when ``BENCHLIB_TEST_FAULTS=1``, like the engine's): after the
#: warm-up, ``sut_raise`` feeds the framework inputs of the wrong shape (it raises inside the SUT
#: during the LoadGen run) and ``sut_abort`` aborts the process from inside the SUT.
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


def output_tolerance(spec: Any) -> float:
    """The largest error from the float64 reference accepted for ``spec``: the model's own, where it states one."""
    tolerance = getattr(spec, "tolerance", None)
    if tolerance is None:
        from benchlib.studies.verify import TOLERANCE as tolerance  # models without their own: the common float32 bound
    return float(tolerance)


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


def run_scenario(case: RunCase, fields: dict[str, Any]) -> dict[str, Any]:
    """Build, warm up and run ``case``'s scenario; fills and returns record ``fields`` (may raise)."""
    from benchlib.models.zoo import get_model
    from benchlib.scenarios.harness_cost import noop_cost
    from benchlib.scenarios.loadgen_harness import Harness
    from benchlib.scenarios.server_search import search
    from benchlib.scenarios.strategies import ScenarioUnsupportedError, strategy_for

    settings = ScenarioSettings.from_case(case)
    strategy = strategy_for(case.backend)
    reason = strategy.unsupported(case)
    if reason:
        raise ScenarioUnsupportedError(reason)
    spec = get_model(case.model)
    fields.update(flops_per_sample=spec.flops_per_sample(), scenario_settings={"scenario": case.scenario,
                  **settings.to_extra()}, mlperf_valid_submission=False, mlperf_note=settings.mlperf_note())
    built = strategy.build(case, spec, settings.streams, case.batch_size)
    fields.update(built.facts)
    harness = Harness(built.executor, spec, settings, case.batch_size, case.seed)
    try:
        tick = time.perf_counter()
        calibration = harness.calibrate()
        fields["warmup_s"] = time.perf_counter() - tick
        fields["calibration"] = {"single_call_ms": calibration.single_s * 1e3,
                                 "batch_call_ms": calibration.batch_s * 1e3,
                                 "burst_samples_per_s": calibration.samples_per_s}
        fields["concurrency"] = built.executor.settings()
        fields["thread_settings"] = fields["concurrency"].get("backend_thread_settings")
        fields["harness_overhead_us"] = noop_cost("SingleStream", queries=2000)["us_per_query"]
        fault = dict(case.extra).get("test_fault")
        if fault in SUT_FAULTS and os.environ.get("BENCHLIB_TEST_FAULTS") == "1":
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
        err = harness.check_outputs()
    finally:
        harness.close()
    fields["loadgen"] = summary
    fields["loadgen_log_dir"] = str(log_root)
    fields["metric"] = _metric(case.scenario, summary, search_fields)
    latency = summary["latency_ms"]
    fields["latency_ms"] = {k: latency.get(k) for k in ("mean", "min", "p50", "p90", "p95", "p99", "max")}
    fields["throughput_sps"] = _throughput(case.scenario, summary, settings)
    fields["n_calls"] = summary.get("query_count")
    tolerance = output_tolerance(spec)
    fields["max_abs_err"] = err
    fields["tolerance"] = tolerance
    fields["outputs_valid"] = None if err is None else bool(err <= tolerance)
    if err is not None:  # checked against the spec's float64 NumPy forward pass
        from benchlib.models.reference_check import NUMPY_FLOAT64

        fields["reference"] = {"method": NUMPY_FLOAT64, "reason": None}
    if fields["outputs_valid"] is False:
        fields["warnings"].append(f"outputs invalid: max abs error {err:.3g} > tolerance {tolerance:g}")
    if summary.get("validity") != "VALID" and case.scenario != "Server":
        fields["warnings"].append(f"LoadGen: INVALID ({summary.get('invalid_reason') or 'see its logs'})")
    return fields


def run_worker(case: RunCase) -> dict[str, Any]:
    """Run ``case``'s scenario in this process and return its record (never raises but for Ctrl-C)."""
    from benchlib.errors import BackendUnavailableError, UnsupportedVariantError
    from benchlib.system.env import collect_env, fingerprint_key
    from benchlib.results.schema import failed_record, make_record
    from benchlib.scenarios.strategies import ScenarioUnsupportedError

    fields: dict[str, Any] = {"pid": os.getpid(), "run_id": uuid.uuid4().hex, "warnings": []}
    try:
        env = collect_env()
        fields.update(env=env, env_key=fingerprint_key(env), warnings=list(env["warnings"]))
        return make_record(case, status="ok", **run_scenario(case, fields))
    except BackendUnavailableError as exc:
        return failed_record(case, "skipped", f"not installed: pip install {exc.requirement}", **fields)
    except (UnsupportedVariantError, ScenarioUnsupportedError) as exc:
        return failed_record(case, "skipped", f"unsupported: {exc}", **fields)
    except BaseException as exc:  # noqa: BLE001 - the record must say why, whatever happened
        if isinstance(exc, KeyboardInterrupt):
            raise
        last_line = traceback.format_exception_only(exc)[-1].strip()
        return failed_record(case, "failed", last_line, traceback=traceback.format_exc(), **fields)


def run_case_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """Child-process entry (:func:`benchlib.system.child.run_in_child`): a case dict in, its record out."""
    return run_worker(RunCase.from_dict(payload))
