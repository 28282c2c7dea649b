"""Method ablation: each step changes exactly what it names; a tiny run gives a record per step and framework."""

from __future__ import annotations

import pytest

from benchlib.protocols.ablation import build_steps, changed_settings, run_ablation, step_fields


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
