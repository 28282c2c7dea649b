"""Process isolation: crashing and hanging runs become failed records; the others still succeed."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchlib.engine import RunCase, run_case, run_cases
from benchlib.engine.worker import TEST_FAULTS_ENV
from benchlib.results import REQUIRED_KEYS, read_records
from tests.conftest import fault_case

pytestmark = pytest.mark.usefixtures("faults")


def test_faults_become_failed_records_and_other_runs_succeed(tmp_path: Path) -> None:
    results = tmp_path / "r.jsonl"
    cases = [
        fault_case(1),
        fault_case(2, "raise"),
        fault_case(3, "abort"),
        fault_case(4, "hang", timeout_s=2.0),
        fault_case(5, "exit"),
        fault_case(6),
    ]
    seen: list[str] = []
    records = run_cases(cases, results_path=results, progress=False, on_record=lambda r: seen.append(r["status"]))
    by_batch = {r["batch_size"]: r for r in records}
    assert [by_batch[b]["status"] for b in range(1, 7)] == ["ok", "failed", "failed", "failed", "failed", "ok"]
    assert seen == [r["status"] for r in records]
    assert by_batch[2]["error"] == "RuntimeError: injected test fault"
    assert "injected test fault" in by_batch[2]["traceback"]
    assert "SIGABRT" in by_batch[3]["error"]
    assert by_batch[4]["error"] == "timed out after 2 s"
    assert "no record written" in by_batch[5]["error"] and "exit status 3" in by_batch[5]["error"]
    assert by_batch[1]["outputs_valid"] is True and by_batch[1]["latency_ms"]["p50"] > 0

    stored, problems = read_records(results)
    assert problems == []
    assert len(stored) == 6
    for record in stored:
        assert set(REQUIRED_KEYS) <= set(record), set(REQUIRED_KEYS) - set(record)


def test_fault_hook_is_inert_without_the_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TEST_FAULTS_ENV)
    assert run_case(fault_case(1, "abort"))["status"] == "ok"


def test_missing_framework_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCHLIB_BLOCK_IMPORTS", "torch")
    record = run_case(RunCase("pytorch", min_time_s=0.05))
    assert record["status"] == "skipped"
    assert "pip install torch" in record["error"]
    assert record["latency_ms"]["p50"] is None


def test_resume_skips_cases_done_in_the_same_environment(tmp_path: Path) -> None:
    results = tmp_path / "r.jsonl"
    first = run_cases([fault_case(1), fault_case(2, "raise")], results_path=results, progress=False)
    assert [r["status"] for r in first] == ["ok", "failed"]
    again = run_cases([fault_case(1), fault_case(2, "raise")], results_path=results, progress=False, skip_done=True)
    assert [r["batch_size"] for r in again] == [2]  # the ok case is skipped, the failed one retried
