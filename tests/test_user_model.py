"""An ONNX file as a model: identity, inputs, verification, records, and every bad input refused."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from benchlib.backends.registry import NO_CONVERTER
from benchlib.cli import main
from benchlib.engine.grid import case_grid
from benchlib.engine.worker import TEST_FAULTS_ENV
from benchlib.errors import OnnxModelError
from benchlib.models.onnx_model import load_onnx_model
from benchlib.models.user import load_model
from benchlib.studies.verify import verify_user_model
from tests.conftest import FAST_CASE
from tests.user_onnx_models import SEQ, VOCAB, save, two_input_model

pytestmark = pytest.mark.usefixtures("tmp_outputs")


@pytest.fixture
def two_inputs(tmp_path: Path) -> Path:
    return save(two_input_model(), tmp_path / "two.onnx")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_input_model_is_described_from_its_graph(two_inputs: Path) -> None:
    model = load_model(str(two_inputs))
    info = model.identity()
    assert info["kind"] == "onnx" and info["name"] == "two" and info["sha256"] == _digest(two_inputs)
    assert info["size_bytes"] == two_inputs.stat().st_size
    assert info["parameter_count"] == VOCAB * 8 + 8 * 8 + 8 + 1
    assert info["flops_per_sample"] == 2 * 8 * 8  # the Gemm; Gather moves data
    assert set(info["flops_not_counted"]) == {"ReduceMean", "Add", "Tanh"}
    feeds = model.random_input(5, seed=1)
    assert feeds["ids"].dtype == np.int64 and feeds["ids"].shape == (5, SEQ)
    assert 0 <= feeds["ids"].min() and feeds["ids"].max() < VOCAB  # ids index the embedding table
    assert feeds["x"].dtype == np.float32 and np.all((feeds["x"] >= 0) & (feeds["x"] < 1))
    assert np.array_equal(model.random_input(5, seed=1)["ids"], feeds["ids"])  # fixed seed


def test_every_output_verified_and_other_frameworks_skip_with_the_reason(two_inputs: Path) -> None:
    results = {r.backend: r for r in verify_user_model(load_model(str(two_inputs)))}
    for name in ("onnxruntime", "openvino", "jax"):
        assert results[name].status == "pass", results[name].reason
        assert results[name].max_abs_err < 1e-5
    for name in ("numpy", "pytorch", "tensorflow", "litert"):
        assert results[name].status == "skipped" and NO_CONVERTER[name] in results[name].reason
    assert "torchvision" in results["pytorch"].reason


def test_zoo_export_as_a_file_matches_the_spec(tmp_path: Path) -> None:
    from benchlib.models.onnx_export import ensure_onnx_file
    from benchlib.models.zoo import get_model

    spec = get_model("resnet8")
    path = ensure_onnx_file(spec, tmp_path)
    model = load_model(str(path))
    assert model.flops_per_sample() == spec.matmul_flops_per_sample()
    assert model.parameter_count == spec.parameter_count()
    results = {r.backend: r for r in verify_user_model(model, ["onnxruntime", "openvino"])}
    assert all(r.status == "pass" for r in results.values()), results


def test_external_data_is_read_beside_the_file_and_never_modified(tmp_path: Path) -> None:
    path = save(two_input_model(), tmp_path / "ext.onnx", external=True)
    data = tmp_path / "ext.onnx.data"
    before = (_digest(path), _digest(data))
    model = load_model(str(path))
    assert model.external_files == ("ext.onnx.data",)
    assert model.size_bytes == path.stat().st_size + data.stat().st_size
    results = {r.backend: r for r in verify_user_model(model, ["onnxruntime", "openvino"])}
    assert all(r.status == "pass" for r in results.values()), results
    assert (_digest(path), _digest(data)) == before
    data.unlink()
    with pytest.raises(OnnxModelError, match="external data 'ext.onnx.data'"):
        load_model(str(path))


def test_records_of_a_user_model_are_verified_and_carry_its_identity(two_inputs: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from benchlib.engine.launcher import run_case

    monkeypatch.setenv(TEST_FAULTS_ENV, "1")
    ok, skipped = case_grid(["onnxruntime", "numpy"], [3], models=[str(two_inputs)], **FAST_CASE)
    record = run_case(ok)
    assert record["status"] == "ok" and record["outputs_valid"] is True, record.get("error")
    assert record["model_info"]["sha256"] == _digest(two_inputs) and record["model_info"]["kind"] == "onnx"
    assert record["gflops"] is not None
    assert run_case(skipped)["error"].endswith(NO_CONVERTER["numpy"])
    perturbed = case_grid(["onnxruntime"], [3], models=[str(two_inputs)], extra=(("test_fault", "perturb"),),
                          **FAST_CASE)[0]
    bad = run_case(perturbed)
    assert bad["status"] == "ok" and bad["outputs_valid"] is False  # left out of rankings


def test_two_files_of_one_name_never_share_a_case_key(tmp_path: Path) -> None:
    path = save(two_input_model(), tmp_path / "m.onnx")
    first = case_grid(["onnxruntime"], [1], models=[str(path)])[0]
    model = two_input_model()
    model.graph.initializer[2].CopyFrom(numpy_helper.from_array(np.ones(8, np.float32), "bias"))
    save(model, path)
    second = case_grid(["onnxruntime"], [1], models=[str(path)])[0]
    assert first.case_key != second.case_key
    with pytest.raises(OnnxModelError, match="changed since the run was planned"):
        load_model(first.model, first.extra)


def test_dynamic_dimension_needs_input_shape(tmp_path: Path) -> None:
    path = save(two_input_model(seq="seq"), tmp_path / "dyn.onnx")
    with pytest.raises(OnnxModelError, match=r"input 'ids' .* dynamic dimension\(s\) seq .* --input-shape ids=N"):
        load_onnx_model(path)
    model = load_onnx_model(path, "ids=4")
    assert model.random_input(2, 0)["ids"].shape == (2, 4)
    with pytest.raises(OnnxModelError, match="not an input"):
        load_onnx_model(path, "nope=4")
    with pytest.raises(OnnxModelError, match="allowed: 1"):
        load_onnx_model(path, "ids=4,4")
    assert main(["run", "--models", str(path), "--backends", "onnxruntime"]) == 2


def _checker_failure(tmp_path: Path) -> Path:
    node = helper.make_node("Relu", ["missing"], ["y"])
    graph = helper.make_graph([node], "bad", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", 2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    path = tmp_path / "bad.onnx"
    path.write_bytes(model.SerializeToString())
    return path


@pytest.mark.parametrize("kind, message", [
    ("missing", "does not exist"),
    ("text", "is not an ONNX model"),
    ("truncated", "is not an ONNX model"),
    ("pickle", "is a Python pickle"),
    ("checker", "fails onnx.checker"),
])
def test_bad_files_are_refused_before_anything_runs(tmp_path: Path, two_inputs: Path, kind: str, message: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / f"{kind}.onnx"
    if kind == "text":
        path.write_text("input: float[1, 4]\n")
    elif kind == "truncated":
        path.write_bytes(two_inputs.read_bytes()[:200])
    elif kind == "pickle":
        path.write_bytes(pickle.dumps({"weights": [1.0, 2.0]}))
    elif kind == "checker":
        path = _checker_failure(tmp_path)
    with pytest.raises(OnnxModelError, match=message):
        load_onnx_model(path)
    for command in ("run", "verify"):
        with pytest.raises(SystemExit) as exc:
            main([command, "--models", str(path), "--backends", "onnxruntime"])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert message in err and str(path) in err and "allowed:" in err


def test_an_op_no_backend_supports_skips_every_backend_naming_it(tmp_path: Path) -> None:
    path = save(two_input_model(custom_op=True), tmp_path / "custom.onnx")
    results = verify_user_model(load_model(str(path)))
    assert all(r.status == "skipped" and "com.example:Frobnicate" in r.reason for r in results)


def test_a_factory_that_does_not_import_is_refused_with_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "--models", "torch:pkg.mod:make"]) == 2
    assert "module 'pkg.mod' does not import" in capsys.readouterr().err


def test_the_users_file_is_parsed_not_rewritten(two_inputs: Path) -> None:
    before = _digest(two_inputs)
    model = load_model(str(two_inputs))
    model.flops_per_sample()
    model.reference(model.random_input(1, 0))
    assert _digest(two_inputs) == before and onnx.load(str(two_inputs)).graph.name == "two_inputs"


def test_input_ranges_are_checked_and_drawn(two_inputs: Path) -> None:
    model = load_model(str(two_inputs), {"input_range": "ids=5:7;x=-2:-1"})
    feeds = model.random_input(50, seed=0)
    assert set(np.unique(feeds["ids"])) <= {5, 6} and feeds["x"].min() >= -2 and feeds["x"].max() < -1
    assert model.identity()["input_ranges"] == {"ids": [5.0, 7.0], "x": [-2.0, -1.0]}
    for bad, message in (("ids=0:51", r"within 0:50"), ("ids=0.5:3", "integer bounds"), ("x=1:1", "LOW < HIGH"),
                         ("nope=0:1", "not an input")):
        with pytest.raises(OnnxModelError, match=message):
            load_model(str(two_inputs), {"input_range": bad})
    plain, ranged = (case_grid(["onnxruntime"], [1], models=[str(two_inputs)], input_ranges=r)[0]
                     for r in (None, "ids=5:7"))
    assert plain.case_key != ranged.case_key and dict(ranged.extra)["input_range"] == "ids=5:7"
    assert main(["verify", "--models", str(two_inputs), "--backends", "onnxruntime",
                 "--input-range", "ids=0:99"]) == 2
