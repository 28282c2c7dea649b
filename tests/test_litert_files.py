"""LiteRT flatbuffers: a measuring process loads LiteRT alone, conversions happen once, in their own process.

Real conversions and real child processes on ``fnn`` at small batches; the converter's failures are
injected in the converting function or in the child's answer.
"""

from __future__ import annotations

import json

import pytest

from benchlib.engine.case import RunCase
from benchlib.models import MODELS, get_model
from benchlib.models.spec import ModelSpec, layer_from_dict, spec_from_architecture
from benchlib.system.child import ChildResult
from tests.conftest import FIVE_CALLS_CASE, measure_in_child

pytest.importorskip("ai_edge_litert")


def test_every_spec_survives_json_and_a_changed_one_is_refused() -> None:
    from tests.layer_cases import LAYER_CASES, layer_spec

    specs = [get_model(name) for name in MODELS] + [layer_spec(case) for case in LAYER_CASES]
    for spec in specs:
        rebuilt = spec_from_architecture(json.loads(json.dumps(spec.architecture())), spec.content_hash)
        assert isinstance(rebuilt, ModelSpec) and rebuilt.layers == spec.layers and rebuilt.seed == spec.seed
    fnn = get_model("fnn")
    with pytest.raises(ValueError, match="content_hash='0000' of model 'fnn' does not match"):
        spec_from_architecture(fnn.architecture(), "0000")
    with pytest.raises(ValueError, match="kind='dense3d' is not a layer kind; allowed: .*dense"):
        layer_from_dict({"kind": "dense3d", "units": 3})


def test_a_measuring_process_never_imports_tensorflow_and_converts_once() -> None:
    case = RunCase(backend="litert", batch_size=3, threads=1, **FIVE_CALLS_CASE)
    first, second = measure_in_child(case), measure_in_child(case)
    for result in (first, second):
        record = result["record"]
        assert record["status"] == "ok", record["error"]
        assert record["outputs_valid"] is True
        assert result["modules"] == []  # the runtime a deployment loads, not the converter
    made = first["record"]["thread_settings"]["flatbuffers"]["3"]
    read = second["record"]["thread_settings"]["flatbuffers"]["3"]
    assert made["source"] == "converted in a child process" and read["source"] == "file"
    assert made["path"] == read["path"] and made["bytes"] == read["bytes"] > 0
    # the conversion (TensorFlow's import included) is build time, paid once
    assert first["record"]["load_s"] >= made["seconds"] > read["seconds"]


def test_outside_a_measurement_the_conversion_runs_here_and_fills_the_same_file() -> None:
    from benchlib.backends import create_backend

    spec = get_model("fnn")
    backend = create_backend("litert", spec, threads=1)
    predict = backend.predictor()
    predict(spec.random_input(2, 0))
    assert backend.flatbuffers[2]["source"] == "converted here"
    again = create_backend("litert", spec, threads=1)
    again.prepare_for_measurement((2,))
    again.build()
    assert again.flatbuffers[2]["source"] == "file"


@pytest.mark.parametrize(("answer", "status", "words"), [
    (ChildResult(True, value={"unsupported": "LiteRT's builtin ops cannot express tf.FancyOp"}), "skipped",
     "unsupported: LiteRT's builtin ops cannot express tf.FancyOp"),
    (ChildResult(True, value={"failed": "RuntimeError: quantizer: op FancyOp has no INT8 kernel"}), "failed",
     "failed: RuntimeError: quantizer: op FancyOp has no INT8 kernel"),
    (ChildResult(False, error="killed by signal 11 (SIGSEGV)", returncode=-11), "failed",
     "failed in its own process: killed by signal 11 (SIGSEGV)"),
])
def test_a_converting_process_that_fails_gives_a_skipped_or_failed_record(
        answer: ChildResult, status: str, words: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from benchlib.engine.worker import run_worker

    monkeypatch.setattr("benchlib.system.child.run_in_child", lambda *args, **kwargs: answer)
    record = run_worker(RunCase(backend="litert", precision="int8-dynamic", batch_size=2, **FIVE_CALLS_CASE))
    assert record["status"] == status and words in record["error"], record["error"]


@pytest.mark.parametrize(("message", "key"), [
    ("failed to legalize operation 'tf.FancyOp' that was explicitly marked illegal", "unsupported"),
    ("quantizer: op FancyOp has no INT8 kernel", "failed"),
])
def test_the_converting_process_names_flex_ops_and_other_errors(message: str, key: str, tmp_path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    tf = pytest.importorskip("tensorflow")
    from benchlib.backends.litert_files import convert_payload

    def broken(self: object) -> bytes:
        raise RuntimeError(message)

    monkeypatch.setattr(tf.lite.TFLiteConverter, "convert", broken)
    spec = get_model("fnn")
    answer = convert_payload({"architecture": spec.architecture(), "content_hash": spec.content_hash, "batch": 2,
                              "precision": "int8-dynamic", "calibration": 16, "path": str(tmp_path / "x.tflite")})
    assert list(answer) == [key] and "FancyOp" in answer[key]
    if key == "unsupported":
        assert "SELECT_TF_OPS" in answer[key]
    assert not (tmp_path / "x.tflite").exists()

