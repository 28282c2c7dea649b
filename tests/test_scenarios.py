"""Deployment scenarios: settings refused before anything runs, real LoadGen runs through the one launcher,
a SUT that raises or crashes becoming a failed record, the Server search's decisions, resume, the tables."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from benchlib.engine.case import RunCase
from benchlib.engine.grid import case_grid
from benchlib.scenarios.settings import ScenarioSettings

pytest.importorskip("mlperf_loadgen")

#: Tiny runs: LoadGen's verdict may be INVALID (too few queries for its early stopping), which is fine here.
TINY = {"min_duration_s": 0.05, "min_queries": 200, "max_tries": 3}


def scenario_case(backend: str, scenario: str, batch: int = 1, threads: int | None = 1, variant: str | None = None,
                  **settings: object) -> RunCase:
    chosen = ScenarioSettings(scenario=scenario, **{**TINY, **settings})
    return RunCase(backend, batch_size=batch, threads=threads, variant=variant, scenario=scenario, protocol="loadgen",
                   extra=tuple(sorted(chosen.to_extra().items())), timeout_s=600)


# -- refused before anything runs -------------------------------------------------------------------

@pytest.mark.parametrize(("name", "value"), [
    ("latency_bound_ms", 0), ("latency_bound_ms", -5.0), ("latency_bound_ms", math.nan), ("latency_bound_ms", 1e9),
    ("min_duration_s", 0), ("min_duration_s", math.inf), ("target_qps", -1.0), ("target_qps", 1e12),
    ("samples_per_query", 0), ("streams", 0), ("min_queries", 0), ("sample_count", 10**9), ("max_tries", True),
])
def test_bad_settings_are_refused_naming_the_parameter(name: str, value: object) -> None:
    with pytest.raises(ValueError) as info:
        ScenarioSettings(scenario="Server", **{name: value})
    assert str(info.value).startswith(f"{name}={value!r} is invalid; allowed: ")


def test_unknown_scenarios_are_refused_in_the_case_and_the_settings() -> None:
    with pytest.raises(ValueError, match=r"scenario='Batch' is unknown; allowed: single, SingleStream"):
        RunCase("numpy", scenario="Batch")
    with pytest.raises(ValueError, match=r"scenario='single' is unknown; allowed: SingleStream, MultiStream"):
        ScenarioSettings(scenario="single")


@pytest.mark.parametrize(("argv", "option"), [
    (["--latency-bound-ms", "0"], "--latency-bound-ms=0.0"), (["--min-duration-s", "-1"], "--min-duration-s=-1.0"),
    (["--target-qps", "1e12"], "--target-qps="), (["--min-queries", "0"], "--min-queries=0"),
    (["--scenarios", "Batch"], "--scenarios='Batch'"), (["--models", "nope"], "--models='nope'"),
])
def test_cli_refuses_bad_values_with_exit_2_before_running(argv: list[str], option: str, capsys, tmp_path) -> None:
    from benchlib.cli import main

    out = tmp_path / "results"  # where the scenarios' records would go in --out
    assert main(["scenarios", "--backends", "numpy", "--out", str(tmp_path), *argv]) == 2
    error = capsys.readouterr().err
    assert f"error: {option}" in error and "allowed:" in error
    assert not out.exists()


def test_single_cases_keep_their_key_and_the_grid_crosses_scenarios() -> None:
    case = RunCase("numpy", batch_size=8)
    data = case.to_dict()
    assert data.pop("scenario") == "single"
    # the key of a timed-loop case is what it was before cases had a scenario (resume keeps working)
    assert case.case_key == RunCase.from_dict(data).case_key
    assert case.case_key != RunCase("numpy", batch_size=8, scenario="SingleStream").case_key
    cases = case_grid(["numpy"], [1, 8], scenarios=["SingleStream", "Server"])
    assert [(c.batch_size, c.scenario) for c in cases] == [(1, "SingleStream"), (1, "Server"), (8, "SingleStream"),
                                                           (8, "Server")]


def test_split_rows_covers_every_sample_and_feeds_every_stream() -> None:
    from benchlib.scenarios.executors import split_rows

    for count, batch, streams in ((1, 1, 4), (8, 8, 2), (8, 64, 4), (1000, 64, 2), (65, 64, 1)):
        parts = split_rows(count, batch, streams)
        assert parts[0].start == 0 and parts[-1].stop == count
        assert all(a.stop == b.start for a, b in zip(parts, parts[1:], strict=False))
        assert all(0 < p.stop - p.start <= batch for p in parts)
        assert len(parts) >= min(streams, count)


def test_work_queue_coalesces_only_up_to_the_batch() -> None:
    import numpy as np

    from benchlib.scenarios.executors import WorkQueue

    queue = WorkQueue()
    for index in range(5):
        queue.put([index], np.full((1, 2), index, np.float32))
    ids, rows = queue.take(max_rows=3, coalesce=True)
    assert ids == [0, 1, 2] and rows[:, 0].tolist() == [0, 1, 2]
    assert queue.take(max_rows=3, coalesce=False)[0] == [3]
    queue.close()
    assert queue.take(max_rows=3, coalesce=True) is None


def test_queued_rows_are_gathered_only_when_taken() -> None:
    import numpy as np

    from benchlib.scenarios.executors import Rows, WorkQueue

    data = np.arange(20, dtype=np.float32).reshape(10, 2)
    queue = WorkQueue()
    queue.put([7, 8], Rows(data, np.array([4, 1])))
    queue.put([9], Rows(data, np.array([6])))
    data[4] = -1.0  # changed after queueing: the batch reads the library when it is taken
    ids, rows = queue.take(max_rows=8, coalesce=True)
    assert ids == [7, 8, 9] and rows.tolist() == [[-1.0, -1.0], [2.0, 3.0], [12.0, 13.0]]


# -- the Server search, decided by the verdicts it is given ------------------------------------------

class FakeHarness:
    """Stands in for LoadGen: a rate passes when it is at most ``capacity``."""

    def __init__(self, capacity: float, **settings: object) -> None:
        self.capacity = capacity
        self.settings = ScenarioSettings(scenario="Server", **settings)
        self.rates: list[float] = []

    def run(self, calibration: object, log_dir: Path, target_qps: float) -> dict:
        self.rates.append(target_qps)
        passed = target_qps <= self.capacity
        return {"validity": "VALID" if passed else "INVALID", "latency_ms": {"p50": 1.0, "p99": 5.0 if passed else 50},
                "log_dir": str(log_dir)}


class Calibration:
    samples_per_s = 1000.0


def test_server_search_brackets_the_capacity_and_keeps_every_rate(tmp_path) -> None:
    from benchlib.scenarios.server_search import PRECISION, search

    harness = FakeHarness(capacity=3300.0, max_tries=12)
    found = search(harness, Calibration(), tmp_path)
    assert found["server_max_qps"] <= 3300.0 < found["server_lowest_failing_qps"]
    assert found["server_lowest_failing_qps"] / found["server_max_qps"] <= PRECISION
    assert [row["target_qps"] for row in found["server_search"]] == sorted(harness.rates)
    assert found["best"]["validity"] == "VALID" and "met the p99 bound of 10 ms" in found["server_result"]


def test_server_search_that_never_meets_the_bound_names_the_lowest_rate(tmp_path) -> None:
    from benchlib.scenarios.server_search import lowest_rate, search

    harness = FakeHarness(capacity=0.0, max_tries=8)
    found = search(harness, Calibration(), tmp_path)
    assert found["server_max_qps"] is None
    assert found["server_result"].startswith(f"no rate met the bound of 10 ms (lowest rate tried: "
                                             f"{min(harness.rates):.1f} queries/s); lower rates were not tried")
    assert not any(row["passed"] for row in found["server_search"])
    # the search halves down to the lowest rate whose minimum queries fit in the longest run, tries it, stops
    assert min(harness.rates) == pytest.approx(lowest_rate(harness.settings)) and len(harness.rates) < 8


def test_fixed_target_rate_runs_once(tmp_path) -> None:
    from benchlib.scenarios.server_search import search

    harness = FakeHarness(capacity=100.0, target_qps=250.0)
    assert search(harness, Calibration(), tmp_path)["server_search"][0]["target_qps"] == 250.0
    assert harness.rates == [250.0]


# -- real LoadGen runs, each in its own process through the launcher ----------------------------------

@pytest.mark.parametrize(("scenario", "batch"), [("SingleStream", 1), ("MultiStream", 8), ("Offline", 64),
                                                 ("Server", 8)])
def test_numpy_runs_each_scenario_under_loadgen(scenario: str, batch: int, isolated_outputs: Path) -> None:
    from benchlib.engine.launcher import run_case
    from benchlib.results.schema import invalid_reason, missing_keys

    record = run_case(scenario_case("numpy", scenario, batch=batch, streams=2, threads=2))
    assert record["status"] == "ok", record.get("traceback") or record.get("error")
    assert missing_keys(record) == [] and invalid_reason(record) is None
    assert record["scenario"] == scenario and record["mlperf_valid_submission"] is False
    loadgen = record["loadgen"]
    assert loadgen["validity"] in ("VALID", "INVALID") and loadgen["query_count"] >= 1
    assert loadgen["effective_min_duration_ms"] == 50
    assert record["outputs_valid"] is True
    assert record["concurrency"]["strategy"] == "thread pool" and record["concurrency"]["streams"] == 2
    per_stream = record["concurrency"]["per_stream"]  # read back inside each worker thread
    assert [s["stream"] for s in per_stream] == [0, 1] and {n for s in per_stream for n in s["blas_threads"]} == {1}
    logs = Path(record["loadgen_log_dir"])
    assert logs.parent == isolated_outputs / "loadgen" and logs.name == record["run_id"]
    summaries = sorted(logs.rglob("mlperf_log_summary.txt"))
    assert summaries and all((s.parent / "mlperf_log_detail.txt").exists() for s in summaries)
    if scenario == "Server":
        assert len(summaries) == len(record["server_search"]) >= 1
        assert all(isinstance(row["passed"], bool) and row["target_qps"] > 0 for row in record["server_search"])
        assert record["metric"]["value"] == record["server_max_qps"]
    else:
        assert record["metric"]["value"] > 0 and record["throughput_sps"] > 0


def test_onnxruntime_sessions_divide_the_threads(isolated_outputs: Path) -> None:
    pytest.importorskip("onnxruntime")
    from benchlib.engine.launcher import run_case

    record = run_case(scenario_case("onnxruntime", "Offline", batch=64, streams=2, threads=2))
    assert record["status"] == "ok", record.get("traceback") or record.get("error")
    sessions = record["concurrency"]["sessions"]
    assert [s["intra_op"] for s in sessions] == [1, 1]
    assert record["outputs_valid"] is True


def test_jax_dispatcher_returns_before_the_value_and_agrees_with_the_predictor(isolated_outputs: Path) -> None:
    pytest.importorskip("jax")
    from benchlib.backends.registry import create_backend
    from benchlib.engine.launcher import run_case
    from benchlib.models.zoo import get_model

    backend = create_backend("jax", get_model("fnn"))
    with pytest.raises(RuntimeError, match="build"):
        backend.dispatcher()
    backend.build()
    rows = backend.spec.random_input(8, 0)
    pending = backend.dispatcher()(rows)
    assert not isinstance(pending, np.ndarray)  # a jax.Array still being computed, not a host copy
    np.testing.assert_array_equal(np.asarray(pending.block_until_ready()), backend.raw_predictor()(rows))
    record = run_case(scenario_case("jax", "Offline", batch=64, streams=2, threads=2))
    assert record["status"] == "ok", record.get("traceback") or record.get("error")
    assert record["outputs_valid"] is True


def test_a_backend_that_cannot_run_the_scenario_is_skipped_with_the_reason() -> None:
    from benchlib.engine.launcher import run_case

    record = run_case(scenario_case("openvino", "Offline", batch=64, variant="async"))
    assert record["status"] == "skipped"
    assert "unsupported" in record["error"] or "not installed" in record["error"]


def test_litert_scenarios_are_planned_and_skipped_with_the_reason() -> None:
    from benchlib.engine.worker import run_case_payload
    from benchlib.scenarios.strategies import LITERT_REASON
    from benchlib.studies.scenarios import build_cases, scenario_config

    cases = build_cases(scenario_config(backends=["litert"], quick=True))
    assert cases and {c.backend for c in cases} == {"litert"}
    record = run_case_payload(cases[0].to_dict())  # refused before any framework is imported
    assert record["status"] == "skipped" and LITERT_REASON in record["error"]


@pytest.mark.parametrize(("fault", "scenario", "words"), [
    ("sut_raise", "Offline", "ValueError"), ("sut_raise", "SingleStream", "ValueError"),
    ("sut_abort", "MultiStream", "crashed with SIGABRT"),
])
def test_a_failing_sut_becomes_a_failed_record(fault: str, scenario: str, words: str, monkeypatch) -> None:
    from benchlib.engine.launcher import run_case

    monkeypatch.setenv("BENCHLIB_TEST_FAULTS", "1")
    batch = {"Offline": 8, "SingleStream": 1, "MultiStream": 2}[scenario]
    case = scenario_case("numpy", scenario, batch=batch, streams=2)
    case = RunCase.from_dict({**case.to_dict(), "extra": {**dict(case.extra), "test_fault": fault}})
    record = run_case(case)
    assert record["status"] == "failed"
    assert words in record["error"]


def test_scenario_sweep_resumes(tmp_path) -> None:
    from benchlib.studies.scenarios import run_scenarios, scenario_config

    config = scenario_config(backends=["numpy"], scenarios=["SingleStream"], min_duration_s=0.05, min_queries=100)
    out = tmp_path / "scenarios.jsonl"
    first = run_scenarios(config, out, progress=False)
    assert first.planned == 2 and first.counts() == {"ok": 2}  # two concurrency configurations
    again = run_scenarios(config, out, progress=False)
    assert (again.planned, again.resumed, again.records) == (2, 2, [])
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["concurrency"]["streams"] for r in lines} == {1, 2}


def test_noop_harness_cost_is_measured_by_loadgen() -> None:
    from benchlib.scenarios.harness_cost import noop_cost

    cost = noop_cost("SingleStream", queries=2000)
    assert cost["queries"] == 2000
    assert 0 < cost["us_per_query"] < cost["wall_us_per_query"] * 10


# -- tables and sentences from records ------------------------------------------------------------------

def _record(backend: str, scenario: str, value: float | None, streams: int = 1, **fields: object) -> dict:
    return {"status": "ok", "backend": backend, "model": "fnn", "scenario": scenario, "case_key": f"{backend}{scenario}"
            f"{streams}", "metric": {"value": value}, "latency_bound_ms": 10.0,
            "concurrency": {"strategy": "thread pool", "streams": streams, "threads_per_stream": 1}, **fields}


def test_insights_compare_rates_within_the_bound_with_single_stream_latency() -> None:
    from benchlib.report import scenarios as report

    records = [_record("openvino", "Server", 2300.0, server_max_qps=2300.0),
               _record("pytorch", "Server", 1000.0, server_max_qps=1000.0),
               _record("openvino", "SingleStream", 0.11), _record("pytorch", "SingleStream", 0.1),
               _record("pytorch", "Server", None, streams=2, server_max_qps=None,
                       server_result="no rate met the bound of 10 ms (lowest rate tried: 5.0 queries/s)")]
    sentences = report.insights(records)
    assert ("fnn: OpenVINO's highest measured rate within 10 ms, 2,300 queries/s (no rate tried failed: a lower "
            "bound), is 2.3× PyTorch's, 1,000 queries/s (no rate tried failed: a lower bound), and its single-stream "
            f"p90 is 1.10× PyTorch's (0.110 ms against 0.100 ms); {report.ONE_RUN}.") in sentences
    assert any("no rate met the bound" in s and "lowest rate tried: 5.0" in s for s in sentences)
    table = report.max_rate_table(records)
    assert list(table["backend"][:2]) == ["openvino", "pytorch"]


def test_load_curve_figure_draws_a_line_per_configuration() -> None:
    from benchlib.report import scenarios as report

    tries = [{"target_qps": q, "p99_ms": p, "passed": p <= 10, "completed_samples_per_sec": q}
             for q, p in ((100, 1.0), (200, 3.0), (400, 30.0))]
    records = [_record("numpy", "Server", 200.0, server_search=tries),
               _record("numpy", "Server", 100.0, streams=2, server_search=tries[:2])]
    fig = report.load_curve_figure(records, "fnn")
    lines = [line for line in fig.axes[0].get_lines() if line.get_label().startswith("NumPy")]
    assert len(lines) == 2 and list(lines[0].get_xdata()) == [100, 200, 400]


def test_records_from_before_the_scenarios_read_as_single() -> None:
    from benchlib.results.schema import make_record, upgrade_record

    old = make_record(RunCase("numpy"))
    del old["scenario"]
    assert upgrade_record(old)["scenario"] == "single"
    assert upgrade_record(make_record(scenario_case("numpy", "Offline", batch=64)))["scenario"] == "Offline"


def test_progress_line_reports_what_each_scenario_measures() -> None:
    """Offline finishes one query of every sample (a rate, not a time per call); Server is judged by its rate."""
    from benchlib.notebook.console import progress_line

    def record(scenario: str) -> dict:
        return {"backend": "numpy", "variant": "default", "batch_size": 8, "threads": 2, "status": "ok",
                "scenario": scenario, "throughput_sps": 12345.6,
                "latency_ms": {"p50": 0.25, "p99": 1.5, "mean": 700.0}}

    assert progress_line(record("Offline")).endswith("Offline: ok, 12,346 samples/s")
    assert "ms" not in progress_line(record("Offline"))
    assert progress_line(record("Server")).endswith("Server: ok, 12,346 samples/s, p99 1.5 ms per query")
    assert progress_line(record("SingleStream")).endswith("ok, 0.25 ms per query (p50), p99 1.5 ms per query")
    assert progress_line(record("single")).endswith("b=8 t=2: ok, 0.25 ms per call")
