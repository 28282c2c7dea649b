"""Method ablation: each step changes exactly what it names; a tiny run gives a record per step and framework."""

from __future__ import annotations

import pytest

from benchlib.studies import ablation
from benchlib.studies.ablation import build_steps, changed_settings, run_ablation, step_fields


def test_each_step_changes_exactly_what_it_names():
    steps = build_steps(num_runs=7, threads=2)
    assert [s.index for s in steps] == list(range(9))
    assert steps[0].article.per_sample == ("onnxruntime", "openvino")  # step 0 is the article's protocol
    for before, after in zip(steps, steps[1:], strict=False):
        assert after.changes, f"step {after.index} names no change"
        assert changed_settings(before, after) == set(after.changes), after.name
        assert set(after.changes) <= set(step_fields())


def test_named_settings_of_key_steps():
    steps = {s.name: s for s in build_steps(num_runs=7, threads=3)}
    assert steps["equal work"].article.per_sample == ()
    assert steps["reused infer request"].article.openvino_new_request is False
    assert steps["warm-up and graph mode"].article.jit and steps["warm-up and graph mode"].article.tf_function
    assert steps["one process per framework"].article.one_process is False
    assert steps["identical weights, verified outputs"].runner == "engine"
    assert steps["controlled threads"].threads == 3


@pytest.mark.parametrize("frameworks", [("onnxruntime", "openvino")])
def test_tiny_ablation_records_every_step_and_framework(frameworks, tmp_path):
    result = run_ablation(num_runs=2, min_time_s=0.0, frameworks=frameworks, results_path=tmp_path / "a.jsonl",
                          progress=False, log=None)
    seen = {(r["step"], r["backend"]) for r in result.records}
    assert seen == {(s, f) for s in range(9) for f in frameworks}
    for record in result.records:
        assert record["status"] == "ok", record["error"]
        assert record["latency_reported_ms"] > 0
        assert record["memory_mb"] > 0
    # every record is a full record (make_record): case key per (step, framework), one environment
    from benchlib.results.schema import missing_keys
    from benchlib.system.env import collect_env

    assert all(missing_keys(r) == [] and r["model"] == "article-fnn" for r in result.records)
    assert len({r["case_key"] for r in result.records}) == len(result.records)
    assert {r["env_key"] for r in result.records} == {collect_env()["key"]}


def test_engine_steps_build_their_cases_with_the_case_grid():
    steps = build_steps(num_runs=7, threads=2)
    for step in steps[7:]:
        cases = ablation.engine_cases(step, min_time_s=0.5)
        assert [c.backend for c in cases] == list(step.article.frameworks)
        assert [c.variant for c in cases] == [ablation.ENGINE_VARIANTS[c.backend] for c in cases]
        assert all(c.threads == step.threads and c.min_calls == 7 and c.min_time_s == 0.5 for c in cases)
        assert all(c.protocol == "ablation" and dict(c.extra) == {"step": step.index} for c in cases)
        assert all(c.batch_size == 1000 and c.warmup_calls == ablation.WARMUP_RUNS for c in cases)


def test_a_child_that_times_out_or_dies_gives_failed_rows(monkeypatch):
    protocol = build_steps(num_runs=1, frameworks=("onnxruntime", "openvino"), threads=1)[0].article
    rows = ablation._rows_from_child(ablation.per_call_rows, protocol, None, timeout_s=0.01)
    assert [(r["backend"], r["status"]) for r in rows] == [("onnxruntime", "failed"), ("openvino", "failed")]
    assert all(r["error"] == "child process failed: timed out after 0.01 s" for r in rows)
    monkeypatch.setattr(ablation, "CHILD_TARGET", "sys:exit")  # exits with status 1, no rows written
    rows = ablation._rows_from_child(ablation.per_call_rows, protocol, None)
    assert all(r["status"] == "failed" and "no rows written; exit status 1" in r["error"] for r in rows)


def test_only_the_measuring_functions_run_in_a_child():
    with pytest.raises(ValueError, match="function='run_ablation' may not be run in a child"):
        ablation.rows_in_child({"function": "run_ablation", "protocol": {}, "onnx_dir": None})
