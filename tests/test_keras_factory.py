"""A Keras 3 model named by its factory: run by TensorFlow, LiteRT, JAX, Keras on PyTorch, ONNX Runtime and OpenVINO.

The factories are in tests/keras_factories.py. Planning (a child process under Keras's TensorFlow
backend) is shared by the tests of one model through one outputs folder for the module.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchlib.cli import main
from benchlib.models.keras_factory import plan_keras
from benchlib.models.reference_check import KERAS_FLOAT64
from benchlib.studies.verify import verify_named_model
from tests.conftest import FAST_CASE, FAST_CLI

pytest.importorskip("keras")
pytest.importorskip("tf2onnx")

CNN, TEXT = "keras:tests.keras_factories:cnn", "keras:tests.keras_factories:text"
#: Every framework that runs a Keras model; NumPy skips it.
FRAMEWORKS = ["tensorflow", "litert", "jax", "pytorch", "onnxruntime", "openvino"]
#: A short measurement that still gives a median over a few dozen calls.
SHORT = [*FAST_CLI, "--min-calls", "30"]


@pytest.fixture(scope="module", autouse=True)
def keras_outputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One outputs folder for the module: each factory is planned (built, saved, exported) once."""
    outputs = tmp_path_factory.mktemp("keras") / "outputs"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BENCHLIB_OUTPUTS", str(outputs))
        plan_keras.cache_clear()
        yield outputs
    plan_keras.cache_clear()


def status_of(name: str, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``benchlib`` ARGV's exit status and stderr."""
    try:
        status = main(argv)
    except SystemExit as exc:
        status = exc.code
    return status, capsys.readouterr().err


@pytest.mark.parametrize("name", [CNN, TEXT])
def test_every_framework_verifies_against_the_float64_keras_model(name: str) -> None:
    results = {r.backend: r for r in verify_named_model(name, [*FRAMEWORKS, "numpy"])}
    for backend in FRAMEWORKS:
        assert results[backend].status == "pass", (backend, results[backend].reason)
        assert results[backend].reference == KERAS_FLOAT64 and results[backend].max_abs_err < 1e-5
    assert results["pytorch"].variant == "keras-on-pytorch"  # labelled: not native PyTorch
    assert results["numpy"].status == "skipped" and "NumPy baseline" in results["numpy"].reason


@pytest.mark.parametrize("name", [CNN, TEXT])
def test_every_framework_measures_it_in_its_own_process(name: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    status, err = status_of(name, ["run", "--models", name, "--backends", *FRAMEWORKS, "numpy", "--batch-sizes", "1",
                                   "--out", str(tmp_path), *SHORT], capsys)
    lines = [line for path in sorted(tmp_path.rglob("*.jsonl")) for line in path.read_text().splitlines()]
    records = {r["backend"]: r for r in map(json.loads, lines)}
    assert status == 0, err
    for backend in FRAMEWORKS:
        record = records[backend]
        assert record["status"] == "ok" and record["outputs_valid"] is True, (backend, record.get("error"))
        assert record["reference"]["method"] == KERAS_FLOAT64, record["reference"]
        assert record["model_info"]["kind"] == "keras" and record["latency_ms"]["p50"] > 0
        print(f"{name} {backend}/{record['variant']}: p50 {record['latency_ms']['p50']:.4g} ms, "
              f"error {record['max_abs_err']:.2g}")  # each path's time and error, shown by pytest -s
    info = records["onnxruntime"]["model_info"]
    assert info["exporter"].startswith("keras.Model.export(format='onnx')") and "tf2onnx 1.17.0" in info["exporter"]
    assert records["pytorch"]["variant"] == "keras-on-pytorch"
    assert records["pytorch"]["thread_settings"]["runs"] == "Keras on PyTorch"
    assert records["numpy"]["status"] == "skipped"


def test_named_inputs_run_by_name_in_each_framework() -> None:
    name = "keras:tests.keras_factories:attention"
    results = {r.backend: r for r in verify_named_model(name, ["tensorflow", "litert", "onnxruntime"])}
    assert all(r.status == "pass" for r in results.values()), results
    plan = json.loads(Path(plan_keras(name)["plan_file"]).read_text())
    assert plan["structure"] == {"kind": "dict", "keys": ["ids", "weights"]}
    assert [i["name"] for i in plan["inputs"]] == ["ids", "weights"]


def test_litert_quantises_the_keras_model_and_keras_backends_say_why_not() -> None:
    from benchlib.backends.keras_user import KERAS_PRECISION_SKIP
    from benchlib.backends.litert_quant import CALIBRATION_CRASHES
    from benchlib.engine.grid import case_grid
    from benchlib.engine.launcher import run_case

    cases = case_grid(["litert", "tensorflow"], [2], models=[CNN], precisions=["int8-dynamic", "int8-static"],
                      extra=(("calibration_size", 8), ("evaluation_size", 8)), **FAST_CASE)
    records = {(r["backend"], r["precision"]): r for r in map(run_case, cases)}
    for precision in ("int8-dynamic", "int8-static"):
        record = records[("litert", precision)]
        assert record["status"] == "ok" and record["outputs_valid"] is True, record.get("error")
        assert records[("tensorflow", precision)]["status"] == "skipped"
        assert KERAS_PRECISION_SKIP in records[("tensorflow", precision)]["error"]
    lstm = run_case(case_grid(["litert"], [2], models=[TEXT], precisions=["int8-static"], **FAST_CASE)[0])
    assert lstm["status"] == "failed" and CALIBRATION_CRASHES["lstm"] in lstm["error"]


@pytest.mark.parametrize("name, options, message", [
    ("keras:tests.keras_factories:not_a_model", [], "Dense; allowed: a keras.Model"),
    ("keras:tests.keras_factories:no_shape", [], "without declared inputs"),
    ("keras:tests.keras_factories:dynamic_length", [], "None dimensions with --input-shape frames=N,4"),
    ("keras:tests.keras_factories:dynamic_length", ["--input-shape", "frames=5,3"], "does not fit input 'frames'"),
    ("keras:tests.keras_factories:missing", [], "has no function 'missing'"),
    ("keras:not a path", [], "allowed: keras:package.module:function"),
])
def test_bad_keras_factories_are_refused_before_anything_runs(name: str, options: list[str], message: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    status, err = status_of(name, ["run", "--models", name, "--backends", "tensorflow", *options, *FAST_CLI], capsys)
    assert status == 2 and message in err, err


def test_an_open_dimension_given_with_input_shape_runs() -> None:
    from benchlib.models.user import planned_model

    model = planned_model("keras:tests.keras_factories:dynamic_length", "frames=5,4")
    assert [(i.name, i.shape) for i in model.inputs] == [("frames", (5, 4))]


def test_a_custom_layer_keras_cannot_rebuild_is_skipped_naming_it() -> None:
    results = {r.backend: r for r in verify_named_model("keras:tests.keras_factories:tensorflow_layer",
                                                        ["tensorflow", "jax"])}
    assert results["tensorflow"].status == "pass"
    assert results["jax"].status == "skipped" and "custom layer 'tf_only'" in results["jax"].reason
    assert "TensorFlowOnly" in results["jax"].reason
    # its float64 build mixes dtypes (tf.constant is float32): checked against the export instead, saying why
    assert results["tensorflow"].reference != KERAS_FLOAT64 and "no float64 Keras reference" in \
        results["tensorflow"].reference_reason


def test_weights_that_differ_between_backends_fail_saying_so() -> None:
    results = {r.backend: r for r in verify_named_model("keras:tests.keras_factories:backend_dependent",
                                                        ["tensorflow", "jax"])}
    assert results["tensorflow"].status == "pass"
    assert results["jax"].status == "fail" and "the weights differ between backends" in results["jax"].reason
