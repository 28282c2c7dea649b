"""A user's model wherever a zoo model goes: the sweep (CLI and Python API), the scenarios study (CLI), the INT8
precisions (what the record says of the calibration set and of the accuracy), and the refusals, each naming the
value and what is allowed. The models are built here (tests/user_onnx_models.py, tests/user_factories.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import onnx
import pytest

from benchlib.cli import main
from benchlib.roofline.peaks import PeakMeasurement
from tests.conftest import FAST_CLI, TWO_HEADS
from tests.user_onnx_models import save, two_input_model

pytestmark = pytest.mark.usefixtures("tmp_outputs")

#: ``benchlib sweep`` options for the shortest sweep: one thread, each backend's default variant, fixed time.
FAST_SWEEP = ["--min-time-s", "0.01", "--target-ci", "0", "--threads", "1", "--variants", "default", "--no-progress"]


def _fake_peak(threads: int) -> PeakMeasurement:
    return PeakMeasurement(threads, 64, 1, {"numpy": 10.0 * threads}, {})


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _fixed_batch(model: onnx.ModelProto, batch: int) -> onnx.ModelProto:
    """``model`` with its batch dimension fixed to ``batch`` in every input and output."""
    for value in (*model.graph.input, *model.graph.output):
        value.type.tensor_type.shape.dim[0].dim_value = batch
    return model


# -- sweep ----------------------------------------------------------------------------------------------------

def test_sweep_cli_measures_a_user_onnx_file_and_a_torch_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr("benchlib.roofline.peaks.measure_peak", _fake_peak)  # the roofline is not under test
    path = save(two_input_model(), tmp_path / "two.onnx")
    status = main(["sweep", "--models", str(path), TWO_HEADS, "--backends", "onnxruntime", "--batch-sizes", "1", "4",
                   "--out", str(tmp_path / "out"), *FAST_SWEEP])
    printed = capsys.readouterr().out
    assert status == 0, printed
    records = _records(tmp_path / "out" / "results" / "sweep.jsonl")
    assert sorted((r["model"], r["batch_size"]) for r in records) == sorted(
        (model, batch) for model in (str(path), TWO_HEADS) for batch in (1, 4))
    for record in records:
        assert record["status"] == "ok" and record["outputs_valid"] is True, record.get("error")
    kinds = {r["model"]: r["model_info"]["kind"] for r in records}
    assert kinds == {str(path): "onnx", TWO_HEADS: "factory"}
    assert "sweep: 4 case(s)" in printed and "## sweep_throughput" in printed


def test_sweep_api_plans_a_user_model_once_and_a_fixed_batch_skips_other_sizes_with_the_reason(
        tmp_path: Path) -> None:
    from benchlib.models.user import USER_BATCH_SIZES
    from benchlib.studies.sweep import build_cases, run_sweep, sweep_config

    dynamic = save(two_input_model(), tmp_path / "two.onnx")
    fixed = save(_fixed_batch(two_input_model(), 3), tmp_path / "fixed.onnx")
    # without batch sizes: run's for a dynamic batch, its own for a fixed one; fnn keeps its quick sizes
    config = sweep_config(backends=["onnxruntime"], threads=[1], models=["fnn", str(dynamic), str(fixed)],
                          quick=True)
    assert [plan.name for plan in config.planned] == [str(dynamic), str(fixed)]
    assert config.batch_sizes_for(str(dynamic)) == USER_BATCH_SIZES and config.batch_sizes_for(str(fixed)) == (3,)
    assert config.batch_sizes_for("fnn") == (1, 64, 1000)
    user_cases = [c for c in build_cases(config) if c.model != "fnn"]
    assert all(dict(c.extra)["model_sha256"] for c in user_cases)  # the hash taken once, in every case

    config = sweep_config(backends=["onnxruntime"], batch_sizes=[1, 3], threads=[1], models=[str(fixed)],
                          variants=["default"], min_time_s=0.0, target_ci=0.0)
    result = run_sweep(config, tmp_path / "fixed.jsonl", progress=False, roofline=False)
    by_batch = {r["batch_size"]: r for r in result.records}
    assert by_batch[3]["status"] == "ok", by_batch[3].get("error")
    assert by_batch[1]["status"] == "skipped"
    assert "fix the batch dimension at 3" in by_batch[1]["error"] and "allowed: 3" in by_batch[1]["error"]


def test_sweep_takes_a_keras_factory_and_litert_int8_says_what_it_calibrated_on(tmp_path: Path) -> None:
    pytest.importorskip("keras")
    pytest.importorskip("tensorflow")
    from benchlib.models.reference_check import KERAS_FLOAT64
    from benchlib.studies.sweep import run_sweep, sweep_config

    model = "keras:tests.keras_factories:cnn"
    config = sweep_config(backends=["litert"], batch_sizes=[2], threads=[1], models=[model], variants=["default"],
                          min_time_s=0.0, target_ci=0.0, precisions=["fp32", "int8-static"])
    assert [plan.name for plan in config.planned] == [model]
    result = run_sweep(config, tmp_path / "keras.jsonl", progress=False, roofline=False)
    records = {r["precision"]: r for r in result.records}
    assert all(r["status"] == "ok" for r in records.values()), [r["error"] for r in records.values()]
    int8 = records["int8-static"]
    assert int8["model_info"]["kind"] == "keras" and int8["accuracy"]["reference"] == KERAS_FLOAT64
    assert int8["calibration"]["inputs"].startswith("seeded random inputs within the model's input ranges: ")
    assert records["fp32"]["calibration"] is None and records["fp32"].get("accuracy") is None


# -- scenarios ------------------------------------------------------------------------------------------------

def test_scenarios_cli_serves_a_user_onnx_file_offline(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("mlperf_loadgen")
    path = save(two_input_model(), tmp_path / "two.onnx")
    status = main(["scenarios", "--models", str(path), "--backends", "onnxruntime", "--scenarios", "Offline",
                   "--min-duration-s", "0.05", "--min-queries", "100", "--quick", "--out", str(tmp_path / "out"),
                   "--no-progress"])
    printed = capsys.readouterr().out
    assert status == 0, printed
    (record,) = _records(tmp_path / "out" / "results" / "scenarios-quick.jsonl")
    assert record["status"] == "ok", record.get("traceback") or record.get("error")
    assert (record["model"], record["scenario"], record["protocol"]) == (str(path), "Offline", "loadgen")
    assert record["model_info"]["kind"] == "onnx" and record["outputs_valid"] is True


# -- precision ------------------------------------------------------------------------------------------------

def test_int8_of_a_user_onnx_file_and_a_factory_export_says_what_it_calibrated_on_and_measured(
        tmp_path: Path) -> None:
    from benchlib.models.reference_check import EVALUATOR
    from benchlib.precision import CALIBRATION_SEED
    from benchlib.precision.accuracy import USER_MEASURE
    from benchlib.precision.onnx_quant import METHODS

    path = save(two_input_model(), tmp_path / "two.onnx")
    status = main(["run", "--models", str(path), TWO_HEADS, "--backends", "onnxruntime", "openvino",
                   "--precisions", "int8-dynamic", "int8-static", "--batch-sizes", "4", "--out", str(tmp_path / "out"),
                   *FAST_CLI])
    ran = _records(tmp_path / "out" / "results" / "run.jsonl")
    records = {(r["model"], r["backend"], r["precision"]): r for r in ran}
    assert status == 0, [r.get("error") for r in records.values() if r["status"] != "ok"]
    for model in (str(path), TWO_HEADS):
        for backend, precision in (("onnxruntime", "int8-dynamic"), ("onnxruntime", "int8-static"),
                                   ("openvino", "int8-static")):
            record = records[model, backend, precision]
            assert record["status"] == "ok", record["error"]
            # the file the framework read: ONNX Runtime's quantised file, never beside the user's; OpenVINO reads
            # the fp32 file (the user's, or the factory's export) and quantises it in memory with NNCF
            read = Path(record["model_file"])
            if backend == "onnxruntime":
                assert read.parent == tmp_path / "outputs" / "models" and precision in read.name
            else:
                assert read == (path if model == str(path) else Path(record["model_info"]["path"]))
            accuracy = record["accuracy"]
            assert accuracy["measure"] == USER_MEASURE and accuracy["reference"] == EVALUATOR
            assert accuracy["evaluation_size"] >= 100 and 0.9 <= accuracy["decision_agreement"] <= 1.0
            assert all(math.isfinite(accuracy[key]) for key in ("max_abs_err", "mean_abs_err", "max_rel_err"))
        assert records[model, "onnxruntime", "int8-dynamic"]["precision_path"] == METHODS["int8-dynamic"]
        assert records[model, "onnxruntime", "int8-static"]["precision_path"] == METHODS["int8-static"]
        assert "NNCF" in records[model, "openvino", "int8-static"]["precision_path"]
        skipped = records[model, "openvino", "int8-dynamic"]  # OpenVINO's INT8 path is the static one
        assert skipped["status"] == "skipped" and "int8-static (NNCF)" in skipped["error"]
    calibration = records[str(path), "onnxruntime", "int8-static"]["calibration"]
    assert (calibration["size"], calibration["seed"]) == (256, CALIBRATION_SEED)
    assert calibration["input_ranges"] == {"ids": [0, 50], "x": [0, 1.0]}  # below the table's rows; floats
    assert calibration["inputs"] == "seeded random inputs within the model's input ranges: ids [0, 50), x [0, 1)"
    assert records[TWO_HEADS, "openvino", "int8-static"]["calibration"]["input_ranges"] == {"input": [0, 1.0]}
    assert records[str(path), "onnxruntime", "int8-dynamic"]["calibration"] is None  # nothing calibrated


def test_a_user_models_calibration_set_is_drawn_within_its_input_ranges(tmp_path: Path) -> None:
    import numpy as np

    from benchlib.models.user import RANGES_KEY, case_extra, load_model
    from benchlib.precision import calibration_set, drawn_from

    path = str(save(two_input_model(), tmp_path / "two.onnx"))
    model = load_model(path, dict(case_extra(path, input_ranges="x=-2:2;ids=5:7")))
    assert dict(case_extra(path, input_ranges="x=-2:2;ids=5:7"))[RANGES_KEY] == "x=-2:2;ids=5:7"
    said = drawn_from(model)
    assert said["input_ranges"] == {"ids": [5.0, 7.0], "x": [-2.0, 2.0]}
    assert said["inputs"] == "seeded random inputs within the model's input ranges: ids [5, 7), x [-2, 2)"
    rows = calibration_set(model, 64)
    assert rows["ids"].min() >= 5 and rows["ids"].max() < 7 and rows["ids"].dtype == np.int64
    assert rows["x"].min() >= -2 and rows["x"].max() < 2 and rows["x"].min() < 0  # the range, not [0, 1)
    assert drawn_from(load_model("fnn")) == {}  # a zoo model's calibration set is its own generator's


# -- refusals -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("command", "argv", "words"), [
    ("sweep", ["--models", "missing.onnx"], ["missing.onnx' does not exist", "allowed: the path of"]),
    ("sweep", ["--models", "torch:no_such_package.models:make"],
     ["--models='torch:no_such_package.models:make'", "does not import", "allowed: a module importable"]),
    ("sweep", ["--models", "fnn", "--input-shape", "ids=3"],
     ["--input-shape='ids=3' given with zoo models only", "allowed: without them"]),
    ("scenarios", ["--models", "missing.onnx"], ["missing.onnx' does not exist", "allowed: the path of"]),
    ("scenarios", ["--models", "torch:no_such_package.models:make"],
     ["--models='torch:no_such_package.models:make'", "does not import", "allowed: a module importable"]),
    ("scenarios", ["--models", "nope.txt"], ["--models='nope.txt' is unknown", "a path to an .onnx file",
                                             "keras:package.module:function"]),
])
def test_bad_user_models_are_refused_naming_the_value_and_what_is_allowed(
        command: str, argv: list[str], words: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    try:
        status = main([command, "--backends", "onnxruntime", "--out", str(out), *argv])
    except SystemExit as exc:  # refused by the option's type, as argparse does
        status = exc.code
    error = capsys.readouterr().err
    assert status == 2
    assert all(word in error for word in words), error
    assert not out.exists()


def test_the_python_api_names_the_parameter_and_a_fleet_or_the_models_matrix_take_zoo_models_only(
        tmp_path: Path) -> None:
    from benchlib.engine.grid import plan_models
    from benchlib.engine.params import check_models, check_parameters
    from benchlib.errors import FactoryError, OnnxModelError
    from benchlib.studies.scenarios import scenario_config
    from benchlib.studies.sweep import sweep_config

    missing = str(tmp_path / "missing.onnx")
    with pytest.raises(OnnxModelError, match=r"^models='.*missing.onnx' does not exist; allowed: "):
        sweep_config(backends=["onnxruntime"], threads=[1], models=[missing])
    with pytest.raises(FactoryError, match=r"^models='torch:no_such_package.m:f': module .* allowed: "):
        scenario_config(backends=["onnxruntime"], models=["torch:no_such_package.m:f"])
    with pytest.raises(ValueError, match=r"^input_ranges='x=0:1' given with zoo models only.*allowed: without"):
        plan_models(["fnn"], input_ranges="x=0:1")
    path = str(save(two_input_model(), tmp_path / "two.onnx"))
    with pytest.raises(OnnxModelError, match=r"--input-range names 'y', which is not an input of two; allowed: "):
        sweep_config(backends=["onnxruntime"], threads=[1], models=[path], input_ranges="y=0:1")
    # a notebook's models take a user's model; a study of zoo models only refuses it, naming it
    models = check_parameters(models=["fnn", path])["models"]
    assert models == ["fnn", path]
    with pytest.raises(ValueError, match=r"models=.*two.onnx' is not a zoo model.*allowed: names from fnn"):
        check_models(models, "models", zoo_only=True)
    config = sweep_config(backends=["onnxruntime"], threads=[1], models=[path])
    from benchlib.studies.fleet.plan import fleet_sweep

    with pytest.raises(ValueError, match=r"is not a zoo model.*measured by run, verify, sweep, scenarios"):
        fleet_sweep(config, local=1)


def test_file_labels_of_user_models_are_file_names() -> None:
    from benchlib.models.user import file_label

    assert file_label("fnn") == "fnn"
    assert file_label("/a b/two.onnx").startswith("two-") and file_label("/a/two.onnx") != file_label("/b/two.onnx")
    assert file_label(TWO_HEADS).startswith("torch-two_heads-") and ":" not in file_label(TWO_HEADS)


@pytest.mark.parametrize("command", ["sweep", "scenarios"])
def test_help_offers_a_users_model_and_its_input_options(command: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert all(word in text for word in (".onnx", "torch:package.module:function", "keras:package.module:function",
                                         "--input-shape", "--input-range"))
