"""Interleaved rounds end to end: real worker processes kept warm, timed in blocks, then closed."""

from __future__ import annotations

import psutil

from benchlib.engine.case import RunCase
from benchlib.engine.rounds import RoundSettings, measure_in_rounds


def test_two_backends_in_rounds_over_two_processes_each() -> None:
    cases = [RunCase("numpy", batch_size=4, min_time_s=0.5, target_ci=0.01),
             RunCase("onnxruntime", batch_size=4, min_time_s=0.5, target_ci=0.01)]
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    records = measure_in_rounds(cases, RoundSettings(block_s=0.02, min_rounds=4, max_rounds=4, seed=7))
    assert [r["backend"] for r in records] == ["numpy", "onnxruntime"]
    for record in records:
        assert record["status"] == "ok", record.get("error")
        assert record["outputs_valid"] is True
        rounds = record["rounds"]
        assert rounds["n"] == 4 and rounds["processes"] == 2 and rounds["process"] == [0, 1, 0, 1]
        assert len(rounds["block_ms"]) == 4 and rounds["order_seed"] == 7
        low, high = record["latency_ci95_ms"]["p50"]
        assert low <= record["latency_ms"]["p50"] <= high
        case = record.get("case") or record
        assert case["min_time_s"] == 0.5 and case["target_ci"] == 0.01  # the case as asked ...
        assert record["case_key"] == cases[records.index(record)].case_key  # ... which resuming matches
        assert record["cold_loop"]["min_time_s"] < 0.1
        assert record["within_process"]["p50_ms"] > 0
    assert records[0]["rounds"]["group"] == records[1]["rounds"]["group"]
    left = {p.pid for p in psutil.Process().children(recursive=True)} - before
    assert not left  # every process of the rounds is gone


def test_a_case_that_cannot_run_keeps_its_own_record() -> None:
    records = measure_in_rounds([RunCase("numpy", batch_size=2, target_ci=0.01, variant="no-such-variant")],
                                RoundSettings(block_s=0.02, min_rounds=2, max_rounds=2))
    assert len(records) == 1 and records[0]["status"] in {"skipped", "failed"}
    assert "rounds" not in records[0]


def test_sigterm_during_the_rounds_kills_every_kept_process_and_says_how_to_resume(tmp_path) -> None:
    import signal
    import subprocess
    import sys

    from tests.conftest import ROOT, child_env, process_gone, wait_for

    out = tmp_path / "results" / "run.jsonl"  # what run writes in its --out folder
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchlib", "run", "--backends", "numpy", "--batch-sizes", "1", "2",
         "--target-ci", "0.0001", "--out", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(), cwd=ROOT)
    kept: list[int] = []
    try:
        # four kept processes (two cases, two processes each) mean the rounds have begun
        assert wait_for(lambda: len(psutil.Process(proc.pid).children()) >= 4 or proc.poll() is not None,
                        timeout=300)
        kept = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "interrupted after" in stderr and "run the same command again" in stderr and "Traceback" not in stderr
    assert wait_for(lambda: all(process_gone(pid) for pid in kept))
    assert not out.exists() or out.read_text() == ""  # a group's records exist only once its rounds end
