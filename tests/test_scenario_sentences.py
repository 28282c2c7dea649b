"""LoadGen's scenario sentences state a measured order, never a winner: each is one run per case, no rounds."""

from __future__ import annotations

import re

from benchlib.report import scenarios as report
from benchlib.studies.compare import CANNOT_TELL, compare_records

#: Words that would claim a verdict the one rule for "faster" cannot give to records without rounds.
VERDICT_WORDS = re.compile(r"\b(fastest|faster|slower|wins?|best|beats?)\b", re.IGNORECASE)


def record(backend: str, scenario: str, value: float, streams: int = 1, **fields: object) -> dict:
    """An ok scenario record as :func:`benchlib.engine.loadgen_run.run_loadgen` writes it (no rounds)."""
    return {"status": "ok", "backend": backend, "model": "fnn", "scenario": scenario, "variant": "default",
            "case_key": f"{backend}{scenario}{streams}", "metric": {"value": value}, "latency_bound_ms": 10.0,
            "latency_ms": {"p50": value, "p90": value}, "loadgen": {"validity": "VALID"},
            "concurrency": {"strategy": "thread pool", "streams": streams, "threads_per_stream": 1}, **fields}


def records() -> list[dict]:
    return [record("openvino", "Server", 2300.0, server_max_qps=2300.0, server_lowest_failing_qps=2530.0),
            record("pytorch", "Server", 1000.0, server_max_qps=1000.0, server_lowest_failing_qps=1100.0),
            record("openvino", "SingleStream", 0.11, loadgen={"early_stopping_p90_ms": 0.12}),
            record("pytorch", "SingleStream", 0.10, loadgen={"early_stopping_p90_ms": 0.105}),
            record("openvino", "Offline", 5000.0), record("pytorch", "Offline", 4000.0),
            record("pytorch", "Offline", 2000.0, streams=2)]


def test_the_one_rule_gives_loadgen_records_no_verdict() -> None:
    server = [r for r in records() if r["scenario"] == "Server"]
    comparison = compare_records(server[0], server[1])
    assert comparison.verdict == CANNOT_TELL and "LoadGen scenario" in comparison.reason


def test_frameworks_are_ordered_as_measured_with_loadgen_intervals() -> None:
    sentences = report.insights(records())
    server = next(s for s in sentences if "highest measured rate" in s)
    assert server == ("fnn: OpenVINO's highest measured rate within 10 ms, 2,300 queries/s (2,530 failed), is 2.3× "
                      "PyTorch's, 1,000 queries/s (1,100 failed), and its single-stream p90 is 1.10× PyTorch's "
                      "(0.110 ms against 0.100 ms; LoadGen's early-stopping estimates 0.120 ms and 0.105 ms); "
                      "each scenario is one LoadGen run per case, so the order is measured, not a tested verdict.")
    split = next(s for s in sentences if "come from different frameworks" in s)
    assert "lowest measured single-stream p90 (PyTorch, 0.100 ms; LoadGen's early-stopping estimate 0.105 ms)" in split
    assert "highest measured offline throughput (OpenVINO, 5,000 samples/s)" in split


def test_configurations_are_ordered_as_measured_not_declared_winners() -> None:
    sentences = report.insights(records())
    offline = next(s for s in sentences if s.startswith("fnn Offline:"))
    assert offline == ("fnn Offline: PyTorch's configurations in measured order, highest first: 1 stream(s) × 1 "
                       "thread(s) 4,000 samples/s, 2 stream(s) × 1 thread(s) 2,000 samples/s (2.00× apart); "
                       f"{report.ONE_RUN}.")


def test_no_scenario_sentence_claims_a_winner() -> None:
    sentences = report.insights(records())
    ordering = [s for s in sentences if "measured" in s]
    assert len(ordering) == len(sentences) == 3  # the Server pair, the split, PyTorch's Offline configurations
    for sentence in sentences:
        assert not VERDICT_WORDS.search(sentence), sentence
        assert sentence.endswith(f"{report.ONE_RUN}.")
