"""A user model's FLOPs from every op (onnx-tool) beside benchlib's MatMul/Gemm/Conv count: both kept, neither
preferred, a disagreement shown with its reason."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from benchlib.cli import main
from benchlib.engine.grid import case_grid
from benchlib.engine.launcher import run_case
from benchlib.models.onnx_tool_flops import disagreement
from benchlib.models.user import load_model
from tests.conftest import FAST_CASE
from tests.user_onnx_models import save, two_input_model


def _matmul_model() -> onnx.ModelProto:
    """x (float [batch, 16]) @ W (16 x 8): one MatMul, nothing else."""
    weight = numpy_helper.from_array(np.random.default_rng(0).standard_normal((16, 8)).astype(np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "matmul",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", 8])], initializer=[weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    return model


def test_both_counts_agree_on_a_matmul(tmp_path: Path, isolated_outputs: Path) -> None:
    info = load_model(str(save(_matmul_model(), tmp_path / "mm.onnx"))).identity()
    assert info["flops_per_sample"] == 2 * 16 * 8
    tool = info["flops_onnx_tool"]
    assert tool["tool"] == "onnx-tool 1.0.1" and tool["error"] is None
    assert tool["flops_per_sample"] == 2 * 16 * 8 and tool["macs_per_sample"] == 16 * 8
    assert tool["by_op"] == {"MatMul": 2 * 16 * 8} and info["flops_disagreement"] is None
    cached = list((isolated_outputs / "models").glob("flops-onnx-tool-*.json"))  # counted once per file
    assert len(cached) == 1 and json.loads(cached[0].read_text()) == tool


def test_ops_benchlib_leaves_out_make_a_disagreement_with_its_reason(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = save(two_input_model(), tmp_path / "two.onnx")
    info = load_model(str(path)).identity()
    tool = info["flops_onnx_tool"]
    assert info["flops_per_sample"] == 2 * 8 * 8  # the Gemm alone
    assert set(tool["by_op"]) == {"Gemm", "ReduceMean", "Add", "Tanh"}
    assert tool["by_op"]["Gemm"] == 2 * (8 * 8 + 8)  # onnx-tool adds the bias
    assert tool["flops_per_sample"] > 2 * info["flops_per_sample"]
    note = info["flops_disagreement"]
    assert note.startswith(f"FLOPs per sample disagree: onnx-tool {tool['flops_per_sample']:,}, benchlib's")
    assert "in ops benchlib's leaves out (Tanh" in note and "onnx-tool counts 144 against benchlib's 128" in note
    assert main(["verify", "--models", str(path), "--backends", "onnxruntime"]) == 0
    assert f"FLOPs:\n  {path}: {note}" in capsys.readouterr().out
    record = run_case(case_grid(["onnxruntime"], [2], models=[str(path)], **FAST_CASE)[0])
    assert record["status"] == "ok", record.get("error")
    assert record["model_info"]["flops_onnx_tool"] == tool and record["model_info"]["flops_disagreement"] == note
    assert record["flops_per_sample"] == info["flops_per_sample"]  # benchlib's count stays the record's figure


def test_a_graph_onnx_tool_cannot_count_says_so(tmp_path: Path) -> None:
    info = load_model(str(save(two_input_model(custom_op=True), tmp_path / "custom.onnx"))).identity()
    tool = info["flops_onnx_tool"]
    assert tool["flops_per_sample"] is None
    assert tool["error"] == "not counted: onnx-tool 1.0.1 has no profiler for op(s) Frobnicate"
    assert info["flops_disagreement"] == f"only benchlib's MatMul/Gemm/Conv count (128) exists; onnx-tool's: " \
                                         f"{tool['error']}"


@pytest.mark.parametrize("ours, theirs, expected", [
    (100, 199, None),
    (100, 201, "onnx-tool's is 2.0x benchlib's"),
    (300, 100, "benchlib's is 3.0x onnx-tool's"),
    (0, 10, "benchlib's counts nothing"),
    (0, 0, None),
])
def test_the_disagreement_threshold(ours: int, theirs: int, expected: str | None) -> None:
    note = disagreement(ours, (), {"flops_per_sample": theirs, "by_op": {"MatMul": theirs}})
    assert (note is None) if expected is None else (expected in note)
