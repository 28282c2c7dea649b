"""Sweep: resumption, roofline arithmetic, skipped variants with reasons, CLI refusals."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from benchlib.engine.case import RunCase
from benchlib.models.zoo import get_model
from benchlib.report.sweep_tables import sweep_frame, targets_table
from benchlib.results.schema import failed_record
from benchlib.results.store import append_record, read_records
from benchlib.roofline.peaks import PeakMeasurement, percent_of_peak
from benchlib.studies.sweep import build_cases, peaks_by_threads, read_roofline, run_sweep, sweep_config

from .conftest import child_env


def _tiny_config():
    return sweep_config(backends=["numpy"], batch_sizes=[1, 8], threads=[1], min_time_s=0.0)


def _fake_peak(threads: int) -> PeakMeasurement:
    return PeakMeasurement(threads, 64, 1, {"numpy": 10.0 * threads}, {})


def test_resumed_sweep_runs_nothing_new(tmp_path, monkeypatch):
    monkeypatch.setattr("benchlib.roofline.peaks.measure_peak", _fake_peak)
    path = tmp_path / "sweep.jsonl"
    config = _tiny_config()
    first = run_sweep(config, path, progress=False)
    assert [r["status"] for r in first.records] == ["ok", "ok"]
    second = run_sweep(config, path, progress=False)
    assert second.records == []
    assert second.resumed == first.planned == 2
    records, problems = read_records(path)
    assert len(records) == 2 and not problems


def test_skipped_case_is_not_rerun_but_failed_is(tmp_path, monkeypatch):
    from benchlib.studies.plan import plan_study
    from benchlib.system.env import collect_env, fingerprint_key

    key = fingerprint_key(collect_env())
    path = tmp_path / "s.jsonl"
    a, b = build_cases(_tiny_config())
    append_record(path, failed_record(a, "skipped", "unsupported: x", env_key=key))
    append_record(path, failed_record(b, "failed", "boom", env_key=key))
    assert list(plan_study("sweep", [a, b], path).todo) == [b]


def test_roofline_numbers_positive_and_percent_from_spec_flops(tmp_path):
    peak = _fake_peak(2)
    assert peak.peak_gflops > 0
    spec = get_model("fnn")
    flops = spec.flops_per_sample()
    # hand computation: 1000 samples in 2 ms at a 20 GFLOP/s peak; the rate as the worker stores it
    gflops = flops * 1000 / 0.002 / 1e9
    expected = 100.0 * gflops / 20.0
    assert percent_of_peak(gflops, 20.0) == pytest.approx(expected)
    for bad in (0.0, -1.0, None, float("nan"), True):
        with pytest.raises(ValueError, match=r"peak_gflops=.* is invalid; allowed: a measured peak above 0"):
            percent_of_peak(gflops, bad)
    case = RunCase(backend="numpy", batch_size=1000, threads=2)
    from benchlib.results.schema import make_record

    record = make_record(case, status="ok", latency_ms={"p50": 2.0}, flops_per_sample=flops, gflops=gflops,
                         outputs_valid=True)
    path = tmp_path / "r.jsonl"
    append_record(path, record)
    frame = sweep_frame(path, {2: 20.0})
    assert frame.loc[0, "pct_of_peak"] == pytest.approx(expected)
    assert frame.loc[0, "gflops"] == pytest.approx(flops * 1000 / 0.002 / 1e9)
    targets = targets_table(frame)
    assert list(targets.columns) == ["target", "measured", "met", "explanation"]


def test_measured_roofline_is_stored_and_positive(tmp_path, monkeypatch):
    from benchlib.studies.sweep import measure_roofline

    path = tmp_path / "roofline-x.json"
    measure_roofline([1], path, measure=lambda t: __import__("benchlib.roofline.peaks").roofline.peaks.measure_peak(
        t, size=128, repeats=1))
    peaks = peaks_by_threads(read_roofline(path))
    assert set(peaks) == {1} and peaks[1] > 0
    assert json.loads(path.read_text())["env_key"]


def test_unsupported_variant_is_skipped_with_reason():
    from benchlib.engine.worker import run_worker

    record = run_worker(RunCase(backend="numpy", variant="no-such-variant", min_time_s=0.0, min_calls=1))
    assert record["status"] == "skipped"
    assert "no-such-variant" in record["error"]


@pytest.mark.parametrize("argv, option", [
    (["--batch-sizes", "0"], "--batch-sizes"),
    (["--threads", "-1"], "--threads"),
    (["--min-time-s", "nan"], "--min-time-s"),
    (["--backends", "caffe"], "--backends"),
    (["--variants", "warp-drive", "--backends", "numpy"], "--variants"),
])
def test_cli_refuses_bad_values_with_exit_2(argv, option, tmp_path):
    done = subprocess.run([sys.executable, "-m", "benchlib", "sweep", "--out", str(tmp_path / "s"), *argv],
                          capture_output=True, text=True, env=child_env(), timeout=300)
    assert done.returncode == 2
    assert option in done.stderr
    assert not (tmp_path / "s").exists()
