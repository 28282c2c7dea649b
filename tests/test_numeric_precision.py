"""The numeric precision dimension: case, grid, record, CLI, skipped and failed precisions, accuracy fields.

Real runs on ``fnn`` at small batches with a tiny calibration set (ONNX Runtime, OpenVINO/NNCF, NumPy).
"""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from benchlib.engine.case import RunCase
from benchlib.engine.grid import case_grid
from benchlib.engine.params import check_precision
from benchlib.errors import UnsupportedPrecisionError
from benchlib.precision import PRECISIONS, tolerance_for
from benchlib.precision.accuracy import decisions, predict_in_batches
from benchlib.precision.hardware import hardware_support, precision_flags
from benchlib.results.schema import REQUIRED_KEYS, make_record, upgrade_record

FAST = {"min_time_s": 0.0, "min_calls": 5, "warmup_time_s": 0.0, "warmup_calls": 1}
TINY_CALIBRATION = (("calibration_size", 16),)


def test_case_default_and_unknown_precision_lists_the_valid_ones() -> None:
    assert RunCase(backend="numpy").precision == "fp32"
    with pytest.raises(ValueError, match="precision='fp64' is unknown; allowed: fp32, bf16, int8-dynamic, int8-static"):
        RunCase(backend="numpy", precision="fp64")
    with pytest.raises(ValueError, match=r"precision=\['bf16'\] \(list\) is invalid"):
        RunCase(backend="numpy", precision=["bf16"])  # type: ignore[arg-type]


def test_fp32_keeps_the_old_case_key_and_other_precisions_differ() -> None:
    import hashlib
    import json

    case = RunCase(backend="numpy")
    old = {k: v for k, v in case.to_dict().items() if k not in ("timeout_s", "target_ci", "max_time_s",
                                                                   "warmup_max_s", "scenario", "precision")}
    assert case.case_key == hashlib.sha256(json.dumps(old, sort_keys=True, default=str).encode()).hexdigest()[:16]
    assert RunCase(backend="numpy", precision="bf16").case_key != case.case_key
    assert RunCase(backend="numpy", precision="bf16").label().endswith(" bf16")


def test_grid_has_a_precision_dimension() -> None:
    cases = case_grid(["numpy", "onnxruntime"], [1, 2], precisions=["fp32", "int8-static", "fp32"])
    assert len(cases) == 2 * 2 * 2
    assert [c.precision for c in cases[:4]] == ["fp32", "fp32", "int8-static", "int8-static"]
    assert {c.precision for c in case_grid(["numpy"], [1])} == {"fp32"}
    with pytest.raises(ValueError, match="precisions='int4' is unknown; allowed: fp32"):
        case_grid(["numpy"], [1], precisions=["int4"])


def test_record_has_precision_and_old_records_upgrade() -> None:
    assert "precision" in REQUIRED_KEYS and "stopping" in REQUIRED_KEYS and "accuracy" in REQUIRED_KEYS
    assert make_record(RunCase(backend="numpy", precision="bf16"))["precision"] == "bf16"
    assert make_record({"backend": "numpy"})["precision"] == "fp32"
    old = upgrade_record({"status": "ok", "precision": {"target_ci": 0.01, "met": True}})
    assert old["precision"] == "fp32" and old["stopping"]["met"] is True


def test_cli_precisions_reach_the_cases_and_unknown_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    from benchlib.cli.run import build_cases, register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    cases = build_cases(parser.parse_args(["run", "--precisions", "fp32", "int8-dynamic", "--batch-sizes", "1"]),
                        ["onnxruntime"])
    assert [c.precision for c in cases] == ["fp32", "int8-dynamic"]
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--precisions", "int4"])
    assert "--precisions='int4' is unknown; allowed: fp32, bf16, int8-dynamic, int8-static" in capsys.readouterr().err


def test_tolerances_and_check() -> None:
    assert tolerance_for("fp32", 1e-5) == 1e-5
    assert all(tolerance_for(p, 1e-5) > 1e-5 for p in PRECISIONS[1:])
    assert check_precision("bf16") == "bf16"


def test_decisions_and_batched_prediction() -> None:
    assert decisions(np.array([[0.2], [0.7]])).tolist() == [0, 1]
    assert decisions(np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]])).tolist() == [1, 0]
    seen: list[int] = []

    def predict(x: np.ndarray) -> np.ndarray:
        seen.append(len(x))
        return x[:, :1] * 2

    out = predict_in_batches(predict, np.arange(10, dtype=np.float32).reshape(5, 2), 2)
    assert seen == [2, 2, 2] and out.ravel().tolist() == [0, 4, 8, 12, 16]


def test_hardware_marks_emulated_precisions() -> None:
    assert hardware_support("bf16", ["avx2"])["native"] is False
    assert "emulated" in hardware_support("bf16", ["avx2"])["note"]
    assert hardware_support("bf16", ["avx512_bf16"])["native"] is True
    assert hardware_support("int8-static", ["avx_vnni"])["instructions"] == ["avx_vnni"]
    assert precision_flags(["amx_tile"])["amx_tile"] is True


def test_a_precision_the_backend_lacks_is_skipped_with_the_reason() -> None:
    from benchlib.engine.worker import run_worker

    record = run_worker(RunCase(backend="numpy", precision="bf16", **FAST))
    assert record["status"] == "skipped" and record["precision"] == "bf16"
    assert "precision='bf16' is not available for backend 'numpy'" in record["error"]
    assert "float32 baseline" in record["error"]


def test_onnxruntime_int8_records_accuracy_with_its_own_tolerance() -> None:
    from benchlib.engine.launcher import run_cases

    cases = case_grid(["onnxruntime"], [3], precisions=["int8-dynamic", "int8-static", "bf16"],
                      extra=TINY_CALIBRATION, **FAST)
    dynamic, static, bf16 = run_cases(cases)
    for record in (dynamic, static):
        assert record["status"] == "ok", record["error"]
        accuracy = record["accuracy"]
        assert 0 < accuracy["mean_abs_err"] <= accuracy["max_abs_err"] < 0.2
        assert accuracy["evaluation_size"] == 1000 and 0.8 <= accuracy["decision_agreement"] <= 1.0
        assert record["tolerance"] == 0.1 and record["outputs_valid"] is True
        assert record["precision_hardware"]["native"] in (True, False)
    assert static["calibration"]["size"] == 16 and dynamic["calibration"] is None
    assert bf16["status"] == "skipped" and "bfloat16" in bf16["error"]


def test_a_failing_quantisation_is_a_failed_record_and_the_next_case_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    import benchlib.backends.onnxruntime as ort_backend
    from benchlib.engine.worker import run_worker

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("quantize_static: op FancyOp is not supported")

    monkeypatch.setattr(ort_backend, "ensure_quantized", broken)
    failed = run_worker(RunCase(backend="onnxruntime", precision="int8-static", extra=TINY_CALIBRATION, **FAST))
    assert failed["status"] == "failed" and "op FancyOp is not supported" in failed["error"]
    after = run_worker(RunCase(backend="onnxruntime", **FAST))
    assert after["status"] == "ok" and after["precision"] == "fp32" and after["accuracy"] is None


def test_openvino_int8_through_nncf_and_bf16_read_back() -> None:
    pytest.importorskip("nncf")
    from benchlib.engine.launcher import run_cases

    int8, bf16 = run_cases(case_grid(["openvino"], [2], precisions=["int8-static", "bf16"], extra=TINY_CALIBRATION,
                                     **FAST))
    assert int8["status"] == "ok", int8["error"]
    assert int8["accuracy"]["decision_agreement"] > 0.8 and "NNCF" in int8["precision_path"]
    assert "TRANSFORMER" not in int8["precision_path"]  # fnn has no attention
    assert "FP32" in int8["precision_hardware"]["framework"]["optimization_capabilities"]
    if bf16["status"] == "skipped":  # a CPU without bf16: the plugin's read-back says what it compiled
        assert "INFERENCE_PRECISION_HINT=bf16" in bf16["error"]
    else:
        assert bf16["status"] == "ok" and bf16["accuracy"]["max_abs_err"] < 0.05


def test_openvino_int8_quantises_the_transformer_as_one() -> None:
    """NNCF's default setup fails on bert_tiny (KeyError); attention is detected and quantised as a transformer."""
    pytest.importorskip("nncf")
    import openvino as ov

    from benchlib.engine.launcher import run_cases
    from benchlib.models.onnx_export import ensure_onnx_file
    from benchlib.models.zoo import get_model
    from benchlib.precision.openvino_quant import has_attention

    core = ov.Core()
    found = {name: has_attention(core.read_model(str(ensure_onnx_file(get_model(name)))))
             for name in ("fnn", "resnet8", "bert_tiny", "lstm_spam")}
    assert found == {"fnn": False, "resnet8": False, "bert_tiny": True, "lstm_spam": False}
    (record,) = run_cases(case_grid(["openvino"], [1], models=["bert_tiny"], precisions=["int8-static"],
                                    extra=TINY_CALIBRATION + (("evaluation_size", 64),), **FAST))
    assert record["status"] == "ok", record["error"]
    assert "model_type=TRANSFORMER" in record["precision_path"] and record["accuracy"]["decision_agreement"] > 0.8


def test_unsupported_precision_error_is_a_skip_kind() -> None:
    from benchlib.errors import UnsupportedVariantError

    assert issubclass(UnsupportedPrecisionError, UnsupportedVariantError)


@pytest.mark.parametrize("backend", ["pytorch", "jax"])
def test_bf16_runs_with_accuracy_and_is_marked_by_the_hardware(backend: str) -> None:
    from benchlib.engine.worker import run_worker

    # one thread and a short evaluation set keep it fast on a shared machine (records use 1,000 inputs)
    record = run_worker(RunCase(backend=backend, precision="bf16", batch_size=8, threads=1,
                                extra=(("evaluation_size", 200),), **FAST))
    assert record["status"] == "ok", record["error"]
    assert record["outputs_valid"] is True and record["accuracy"]["max_abs_err"] < 0.05
    assert record["accuracy"]["decision_agreement"] >= 0.9
    assert record["precision_hardware"]["native"] == any(
        f in (record["env"]["isa_flags"] or []) for f in ("avx512_bf16", "amx_bf16"))


def test_pytorch_int8_needs_the_compile_variant() -> None:
    from benchlib.engine.worker import run_worker

    record = run_worker(RunCase(backend="pytorch", precision="int8-static", **FAST))
    assert record["status"] == "skipped" and "--variants compile" in record["error"]


def test_sweep_precisions_reach_its_cases_and_unknown_is_refused() -> None:
    from benchlib.studies.sweep import build_cases, sweep_config

    config = sweep_config(backends=["numpy"], batch_sizes=[1], threads=[1], precisions=["fp32", "int8-static"])
    assert [c.precision for c in build_cases(config)] == ["fp32", "int8-static"]
    assert sweep_config(backends=["numpy"], batch_sizes=[1], threads=[1]).precisions == ("fp32",)
    with pytest.raises(ValueError, match="precisions='int4' is unknown; allowed: fp32"):
        sweep_config(backends=["numpy"], batch_sizes=[1], threads=[1], precisions=["int4"])


def test_litert_int8_records_accuracy_and_bf16_is_skipped_with_the_reason() -> None:
    from benchlib.backends.litert_quant import METHODS, SKIPS
    from benchlib.engine.launcher import run_cases
    from benchlib.models import get_model, reference_forward
    from benchlib.precision import EVALUATION_SIZE, evaluation_set

    spec = get_model("fnn")
    reference = decisions(reference_forward(spec, evaluation_set(spec)))
    majority = max(np.mean(reference == value) for value in np.unique(reference))  # a constant guess's agreement
    cases = case_grid(["litert"], [3], precisions=["int8-dynamic", "int8-static", "bf16"],
                      extra=TINY_CALIBRATION, **FAST)
    dynamic, static, bf16 = run_cases(cases)
    for record in (dynamic, static):
        assert record["status"] == "ok", record["error"]
        assert record["precision_path"] == METHODS[record["precision"]]
        accuracy = record["accuracy"]
        # quantised, so not float32's error, yet within the precision's tolerance and better than a constant guess
        assert spec.tolerance < accuracy["mean_abs_err"] <= accuracy["max_abs_err"] <= record["tolerance"]
        assert record["outputs_valid"] is True and accuracy["evaluation_size"] == EVALUATION_SIZE
        assert majority < accuracy["decision_agreement"] <= 1.0
    assert static["calibration"]["size"] == dict(TINY_CALIBRATION)["calibration_size"]
    assert dynamic["calibration"] is None
    assert bf16["status"] == "skipped" and SKIPS["bf16"] in bf16["error"]


def test_litert_refuses_the_calibration_that_crashes_as_a_failed_record() -> None:
    from benchlib.backends.litert_quant import CALIBRATION_CRASHES
    from benchlib.engine.worker import run_worker

    record = run_worker(RunCase(backend="litert", model="lstm_spam", precision="int8-static", extra=TINY_CALIBRATION,
                                **FAST))
    assert record["status"] == "failed" and CALIBRATION_CRASHES["lstm"] in record["error"]


def test_litert_static_ranges_do_not_depend_on_the_batch_size() -> None:
    tf = pytest.importorskip("tensorflow")
    from ai_edge_litert.interpreter import Interpreter

    from benchlib.backends.keras_layers import build_model
    from benchlib.backends.litert_quant import convert
    from benchlib.models import get_model

    spec = get_model("fnn")
    model = build_model(spec)
    rows = dict(TINY_CALIBRATION)["calibration_size"]

    def scales(batch: int) -> dict[str, list[float]]:
        details = Interpreter(model_content=convert(tf, model, spec, batch, "int8-static", rows)).get_tensor_details()
        return {d["name"]: d["quantization_parameters"]["scales"].tolist() for d in details if d["dtype"] == np.int8}

    # a batch that divides the rows, one that does not, one larger than the set (rows wrapped round)
    small, odd, large = scales(rows // 2), scales(rows // 2 + 1), scales(rows + 3)
    assert small and small == odd == large
