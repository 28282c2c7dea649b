"""The reference check never sinks a measurement: a graph ONNX's evaluator cannot run is checked by the fallback.

The graph is the one a BERT export (``torch.onnx.export(..., dynamo=False)``) makes of
``torch.gather(token_type_ids_buffer, 1, position_ids)``: ``GatherElements`` on a [1, 512] table with
[1, 128] indices. onnx 1.23.2's ``ReferenceEvaluator`` raises ``cannot reshape array of size 1 into
shape (1,128)`` on it (``np.choose`` takes at most 64 choices; its fallback keeps one index per
row), while ONNX Runtime and OpenVINO run it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from benchlib.cli import main
from benchlib.engine.worker import TEST_FAULTS_ENV
from tests.conftest import FAST_CASE, FAST_CLI

pytestmark = pytest.mark.usefixtures("tmp_outputs")

SEQ, TABLE = 128, 512
#: The methods a record's ``reference.method`` names (benchlib.models.reference_check), as docs/models.md lists them.
ORT_FLOAT64, ORT_FLOAT32 = "onnxruntime-unoptimized-float64", "onnxruntime-unoptimized-float32"


def bert_gather_model(conv: bool = False) -> onnx.ModelProto:
    """x (float [batch, 128]) + GatherElements(table [1, 512], position ids [1, 128], axis=1), as BERT's export.

    ``conv``: a Conv follows (ONNX Runtime has no float64 Conv kernel, so the fallback runs in float32).
    """
    table = numpy_helper.from_array(np.linspace(-1, 1, TABLE, dtype=np.float32).reshape(1, TABLE), "table")
    ids = numpy_helper.from_array(np.arange(SEQ, dtype=np.int64).reshape(1, SEQ), "position_ids")
    nodes = [helper.make_node("GatherElements", ["table", "position_ids"], ["gathered"], axis=1),
             helper.make_node("Add", ["x", "gathered"], ["y"])]
    initializers, width = [table, ids], SEQ
    if conv:
        initializers += [numpy_helper.from_array(np.full((1, 1, 3), 0.5, np.float32), "w"),
                         numpy_helper.from_array(np.array([0, 1, SEQ], np.int64), "channels"),
                         numpy_helper.from_array(np.array([0, SEQ - 2], np.int64), "flat")]
        nodes += [helper.make_node("Reshape", ["y", "channels"], ["y3"]), helper.make_node("Conv", ["y3", "w"], ["c"]),
                  helper.make_node("Reshape", ["c", "flat"], ["z"])]
        width = SEQ - 2
    graph = helper.make_graph(nodes, "bert_gather",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", SEQ])],
                              [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, ["batch", width])],
                              initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model


@pytest.fixture
def bert_gather(tmp_path: Path) -> Path:
    path = tmp_path / "bert.onnx"
    onnx.save(bert_gather_model(), str(path))
    return path


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_the_reference_evaluator_really_mishandles_the_graph_and_onnxruntime_runs_it(bert_gather: Path) -> None:
    import onnxruntime as ort
    from onnx.reference import ReferenceEvaluator

    x = np.random.default_rng(0).random((2, SEQ), dtype=np.float32)
    with pytest.raises(ValueError, match=r"cannot reshape array of size 1 into shape \(1,128\)"):
        ReferenceEvaluator(onnx.load(str(bert_gather))).run(None, {"x": x})
    out = ort.InferenceSession(str(bert_gather), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert np.allclose(out, x + np.linspace(-1, 1, TABLE)[:SEQ], atol=1e-6)


def test_run_is_ok_and_each_record_names_the_fallback_and_its_error(bert_gather: Path, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The user's command: both runtimes, batch sizes 1 and 8; every record ok, verified by the fallback."""
    out = tmp_path / "results" / "run.jsonl"  # what run writes in its --out folder
    status = main(["run", "--models", str(bert_gather), "--backends", "onnxruntime", "openvino",
                   "--batch-sizes", "1", "8", "--out", str(tmp_path), *FAST_CLI])
    records = _records(out)
    assert status == 0 and len(records) == 4, [(r["status"], r["error"]) for r in records]
    for record in records:
        assert record["status"] == "ok", record["error"]
        assert record["outputs_valid"] is True and 0 <= record["max_abs_err"] < 1e-5
        assert record["reference"]["method"] == ORT_FLOAT64
        assert "ReferenceEvaluator failed: ValueError: cannot reshape array" in record["reference"]["reason"]
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "not verified" not in shown and "not ranked" not in shown  # verified: ranked like any other


def test_float64_impossible_falls_back_to_float32_and_says_why(tmp_path: Path) -> None:
    import onnxruntime as ort

    from benchlib.models.onnx_model import load_onnx_model

    path = tmp_path / "conv.onnx"
    onnx.save(bert_gather_model(conv=True), str(path))
    model = load_onnx_model(path)
    feeds = model.random_input(3, seed=0)
    outputs = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)
    err, method, reason = model.output_check(feeds, [outputs])
    assert method == ORT_FLOAT32 and err is not None and err < 1e-5
    assert "cannot reshape array" in reason and "float64 not possible" in reason and "Conv" in reason
    err, method, _ = model.output_check(feeds, [[o + np.float32(0.5) for o in outputs]])
    assert method == ORT_FLOAT32 and err > 0.1  # the fallback still catches a wrong output


def test_verify_passes_naming_the_fallback(bert_gather: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "--models", str(bert_gather), "--backends", "onnxruntime", "openvino"]) == 0
    shown = capsys.readouterr().out
    assert shown.count(" ok") >= 1 and "FAIL" not in shown
    assert f"checked against ONNX Runtime with graph optimisations disabled, in float64 ({ORT_FLOAT64})" in shown
    assert "because onnx.reference.ReferenceEvaluator failed: ValueError: cannot reshape array" in shown
    assert main(["verify", "--models", str(bert_gather), "--backends", "onnxruntime", "--json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert result["status"] == "pass" and result["reference"] == ORT_FLOAT64
    assert "cannot reshape array" in result["reference_reason"]


def test_verify_says_a_model_no_check_can_run_is_not_verified(bert_gather: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from benchlib.models import reference_check

    def cannot_run(self, feeds):  # noqa: ANN001, ANN202 - as when ONNX Runtime cannot run the graph either
        raise RuntimeError("no kernel for this graph")

    monkeypatch.setattr(reference_check.FallbackReference, "run", cannot_run)
    assert main(["verify", "--models", str(bert_gather), "--backends", "onnxruntime"]) == 1
    captured = capsys.readouterr()
    assert "UNVERIFIED" in captured.out and "PASS" not in captured.out.upper().replace("PASSED", "")
    assert "not verified: no check could run" in captured.out and "no kernel for this graph" in captured.out
    assert "0 passed, 0 failed, 0 skipped, 1 not verified" in captured.out
    assert "nothing was verified for" in captured.err and "no reference check could run" in captured.err


def test_a_run_no_check_can_verify_is_ok_unverified_and_not_ranked(bert_gather: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from benchlib.engine.grid import case_grid
    from benchlib.engine.launcher import run_cases
    from benchlib.report.insights import insights
    from benchlib.report.tables import comparison_table
    from benchlib.results import load

    monkeypatch.setenv(TEST_FAULTS_ENV, "1")
    broken = case_grid(["onnxruntime"], [1], models=[str(bert_gather)], extra=(("test_fault", "no_fallback"),),
                       **FAST_CASE)
    checked = case_grid(["openvino"], [1], models=[str(bert_gather)], **FAST_CASE)
    zoo = case_grid(["numpy"], [1], models=["fnn"], **FAST_CASE)
    out = tmp_path / "r.jsonl"
    unverified, verified, spec = run_cases([*broken, *checked, *zoo], results_path=out, progress=False)
    assert spec["outputs_valid"] is True and spec["reference"] == {"method": "numpy-float64", "reason": None}
    assert unverified["status"] == "ok", unverified["error"]
    assert unverified["outputs_valid"] is None and unverified["max_abs_err"] is None
    assert unverified["reference"]["method"] is None
    reason = unverified["reference"]["reason"]
    assert reason.startswith("no check could run") and "cannot reshape array" in reason
    assert "injected test fault" in reason
    assert any(w.startswith("outputs not verified: no check could run") for w in unverified["warnings"])
    assert unverified["latency_ms"]["p50"] > 0  # the measurement is kept
    assert verified["outputs_valid"] is True and verified["reference"]["method"] == ORT_FLOAT64

    table = comparison_table(load(out)).set_index("backend")
    assert table.loc["onnxruntime", "rank"] == "" and table.loc["openvino", "rank"] == "1"
    assert table.loc["onnxruntime", "note"].startswith("outputs not verified; not ranked (no check could run")
    assert table.loc["onnxruntime", "p50_ms"] > 0  # an ok record keeps its figures
    sentences = insights(load(out))
    assert any("onnxruntime" in s and "no reference check could verify" in s for s in sentences)
    assert not any(s.startswith("At batch size 1") and "fastest is onnxruntime" in s for s in sentences)
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    assert "outputs not verified; not ranked" in capsys.readouterr().out
