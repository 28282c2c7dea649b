"""Reduced precisions on a user's model, through the real CLI: every path runs or is skipped with the reason,
and a derived (quantised) file never lands beside the user's file nor outlives a change of it."""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from benchlib.cli import main
from tests.conftest import FAST_CLI, TWO_HEADS
from tests.user_onnx_models import save, two_input_model

pytestmark = pytest.mark.usefixtures("tmp_outputs")


def _run(models: str, backends: list[str], precisions: list[str], out: Path, *more: str) -> dict[tuple, dict]:
    """``benchlib run --out OUT`` through its entry point; the records it kept in OUT/results/run.jsonl by (backend,
    variant, precision)."""
    status = main(["run", "--models", models, "--backends", *backends, "--precisions", *precisions,
                   "--batch-sizes", "3", "--out", str(out), *FAST_CLI, *more])
    records = [json.loads(line) for line in (out / "results" / "run.jsonl").read_text().splitlines() if line.strip()]
    assert status == (1 if any(r["status"] == "failed" for r in records) else 0)
    return {(r["backend"], r["variant"], r["precision"]): r for r in records}


def _folder_state(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _derived(outputs: Path) -> set[str]:
    models = outputs / "models"
    return {p.name for p in models.iterdir() if "int8" in p.name} if models.is_dir() else set()


def _assert_ran(record: dict, tolerance: float) -> None:
    """An ok record whose outputs and evaluation set were checked against the reference, finite and small."""
    assert record["status"] == "ok", record["error"]
    assert math.isfinite(record["max_abs_err"]) and record["max_abs_err"] <= tolerance, record["max_abs_err"]
    accuracy = record["accuracy"]
    assert accuracy is not None and accuracy["evaluation_size"] >= 100
    assert all(math.isfinite(accuracy[key]) for key in ("max_abs_err", "mean_abs_err", "max_rel_err"))
    assert accuracy["max_rel_err"] <= tolerance and 0.9 <= accuracy["decision_agreement"] <= 1.0


def _skipped(record: dict, *reason: str) -> None:
    assert record["status"] == "skipped", (record["status"], record["error"])
    assert all(part in record["error"] for part in reason), record["error"]


def _fixed_batch(model: onnx.ModelProto, batch: int) -> onnx.ModelProto:
    """``model`` with its batch dimension fixed to ``batch`` in every input and output (as an export without
    dynamic axes has)."""
    for value in (*model.graph.input, *model.graph.output):
        value.type.tensor_type.shape.dim[0].dim_value = batch
    return model


# Item 2: a derived file never goes beside the user's file and never outlives a change of the file.
def test_int8_of_a_user_file_writes_nothing_beside_it_and_a_changed_file_is_quantised_again(
        tmp_path: Path, tmp_outputs: Path) -> None:
    folder = tmp_path / "user"
    folder.mkdir()
    path = save(two_input_model(), folder / "two.onnx", external=True)  # weights in two.onnx.data
    before = _folder_state(folder)
    os.utime(folder, ns=(10**18, 10**18))  # any file made in the folder, even one deleted again, moves this
    records = _run(str(path), ["onnxruntime"], ["int8-dynamic", "int8-static"], tmp_path / "first")
    assert _folder_state(folder) == before and folder.stat().st_mtime_ns == 10**18
    for precision in ("int8-dynamic", "int8-static"):
        _assert_ran(records["onnxruntime", "default", precision], 0.1)
    first = _derived(tmp_outputs)
    assert len(first) == 2, first  # in benchlib's models folder, keyed by the file's content

    # New weights: only the external data file changes, the .onnx file keeps its bytes.
    model = two_input_model()
    weight = next(t for t in model.graph.initializer if t.name == "weight")
    weight.CopyFrom(numpy_helper.from_array(
        np.random.default_rng(7).standard_normal((8, 8)).astype(np.float32) * 3, "weight"))
    save(model, path, external=True)
    assert _folder_state(folder)["two.onnx.data"] != before["two.onnx.data"]
    changed = _folder_state(folder)
    again = _run(str(path), ["onnxruntime"], ["int8-dynamic"], tmp_path / "second")
    record = again["onnxruntime", "default", "int8-dynamic"]
    assert record["model_info"]["sha256"] != records["onnxruntime", "default", "int8-dynamic"]["model_info"]["sha256"]
    _assert_ran(record, 0.1)  # the stale file's outputs would be those of the old weights
    assert len(_derived(tmp_outputs) - first) == 1  # a new derivative, for the new content
    assert _folder_state(folder) == changed


# Item 17: every precision path on an ONNX file runs, or is skipped with the reason.
def test_every_precision_of_onnxruntime_and_openvino_on_a_user_onnx_file_runs_or_names_why(tmp_path: Path) -> None:
    path = save(two_input_model(), tmp_path / "two.onnx")
    records = _run(str(path), ["onnxruntime", "openvino"], ["bf16", "int8-dynamic", "int8-static"],
                   tmp_path / "out")
    _assert_ran(records["onnxruntime", "default", "int8-dynamic"], 0.1)
    _assert_ran(records["onnxruntime", "default", "int8-static"], 0.1)
    _skipped(records["onnxruntime", "default", "bf16"], "no bfloat16 MatMul/Gemm kernels")
    _skipped(records["openvino", "latency", "int8-dynamic"], "weight-compressed models", "int8-static (NNCF)")
    static = records["openvino", "latency", "int8-static"]
    # NNCF's default preset clips activations at ranges averaged over the calibration inputs: an error above
    # the 0.1 tolerance is reported (outputs_valid false), but it must be measured, finite and bounded.
    assert static["status"] == "ok", static["error"]
    assert "NNCF" in static["precision_path"] and math.isfinite(static["max_abs_err"])
    assert static["max_abs_err"] < 1 and math.isfinite(static["accuracy"]["max_rel_err"])
    assert static["accuracy"]["decision_agreement"] >= 0.9
    bf16 = records["openvino", "latency", "bf16"]
    if bf16["status"] == "skipped":  # a CPU without bf16 arithmetic: the plugin compiled f32 and says so
        _skipped(bf16, "no native bf16", "OPTIMIZATION_CAPABILITIES")
    else:
        _assert_ran(bf16, 0.05)


def test_int8_on_a_fixed_batch_user_onnx_file_feeds_whole_batches(tmp_path: Path) -> None:
    path = save(_fixed_batch(two_input_model(), 3), tmp_path / "fixed.onnx")
    records = _run(str(path), ["onnxruntime", "openvino"], ["int8-static"], tmp_path / "out")
    _assert_ran(records["onnxruntime", "default", "int8-static"], 0.1)
    static = records["openvino", "latency", "int8-static"]
    assert static["status"] == "ok" and math.isfinite(static["max_abs_err"]), static["error"]
    assert static["accuracy"]["evaluation_size"] == 102  # 100 rounded up to whole batches of 3


# Item 17: a PyTorch factory's module at bf16 (and PT2E INT8 where it applies).
def test_bf16_and_int8_of_a_pytorch_factory_run_or_name_why(tmp_path: Path) -> None:
    records = _run(TWO_HEADS, ["pytorch"], ["bf16", "int8-static"], tmp_path / "out",
                   "--variants", "eager", "compile")
    for variant in ("eager", "compile"):
        bf16 = records["pytorch", variant, "bf16"]
        _assert_ran(bf16, 0.05)
        assert bf16["max_abs_err"] > 1e-6  # computed in bf16 (8 bits of mantissa), not silently in float32
    _skipped(records["pytorch", "eager", "int8-static"], "variant='eager'", "use --variants compile")
    int8 = records["pytorch", "compile", "int8-static"]
    _assert_ran(int8, 0.1)
    assert "PT2E" in int8["precision_path"] and int8["calibration"]["size"] == 256
