"""A LoadGen scenario is a field of the case, run by the one worker: the case's precision is what runs,
a user's ONNX file and a PyTorch factory are served under load, and a case a backend cannot serve is
skipped with the reason."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from benchlib.engine.case import RunCase
from benchlib.engine.grid import case_grid
from benchlib.scenarios.settings import ScenarioSettings
from tests.user_onnx_models import save, two_input_model

#: Tiny LoadGen runs (LoadGen's verdict may be INVALID: too few queries for its early stopping).
TINY = {"min_duration_s": 0.05, "min_queries": 200, "max_tries": 2}
#: A small calibration and evaluation set: these tests check what ran, not how accurately.
SMALL_SETS = {"calibration_size": 16, "evaluation_size": 64}


def scenario_cases(backends: list[str], model: str, scenario: str, batch: int, precision: str = "fp32",
                   **settings: object) -> list[RunCase]:
    """The cases of ``model`` under ``scenario`` through the one case grid, as a study would build them."""
    chosen = ScenarioSettings(scenario=scenario, streams=2, **{**TINY, **settings})
    extra = tuple(sorted({**chosen.to_extra(), **SMALL_SETS}.items()))
    return case_grid(backends, [batch], models=[model], threads=[2], scenarios=[scenario], precisions=[precision],
                     extra=extra, protocol="loadgen", timeout_s=600)


def _ops(path: str) -> set[str]:
    import onnx

    return {node.op_type for node in onnx.load(path, load_external_data=False).graph.node}


# -- a user model's named inputs as rows of one array -------------------------------------------------

def test_named_inputs_pack_into_rows_that_queue_join_and_unpack() -> None:
    from benchlib.scenarios.executors import Rows, WorkQueue
    from benchlib.scenarios.samples import pack, unpack

    feeds = {"ids": np.arange(12, dtype=np.int64).reshape(4, 3), "x": np.linspace(0, 1, 8, dtype=np.float32)
             .reshape(4, 2)}
    rows = pack(feeds)
    assert len(rows) == 4 and rows[1:3].nbytes == 2 * (3 * 8 + 2 * 4)
    queue = WorkQueue()
    queue.put([0], Rows(rows, np.array([3])))
    queue.put([1, 2], rows[:2])
    ids, joined = queue.take(max_rows=8, coalesce=True)
    back = unpack(joined)
    assert ids == [0, 1, 2] and set(back) == {"ids", "x"}
    np.testing.assert_array_equal(back["ids"], feeds["ids"][[3, 0, 1]])
    np.testing.assert_array_equal(back["x"], feeds["x"][[3, 0, 1]])
    assert back["ids"].flags.c_contiguous and back["ids"].dtype == np.int64
    plain = np.ones((2, 3), np.float32)
    assert unpack(plain) is plain  # a zoo model's rows go to the framework as they are
    with pytest.raises(ValueError, match=r"feeds with \[1, 2\] rows are invalid"):
        pack({"a": np.zeros((1, 2)), "b": np.zeros((2, 2))})


# -- real runs through the one launcher and the one worker ----------------------------------------------

def test_int8_static_server_serves_the_quantised_model(isolated_outputs: Path) -> None:
    pytest.importorskip("mlperf_loadgen")
    pytest.importorskip("onnxruntime")
    from benchlib.engine.launcher import run_case
    from benchlib.models.zoo import get_model
    from benchlib.precision import CALIBRATION_SEED, tolerance_for
    from benchlib.precision.onnx_quant import METHODS as QUANTISERS

    (case,) = scenario_cases(["onnxruntime"], "fnn", "Server", batch=8, precision="int8-static")
    record = run_case(case)
    assert record["status"] == "ok", record.get("traceback") or record.get("error")
    assert (record["scenario"], record["precision"]) == ("Server", "int8-static")
    # what ran, not only the label: ONNX Runtime's static quantiser, calibrated, on a QDQ file in every session
    assert record["precision_path"] == QUANTISERS["int8-static"]
    assert record["calibration"] == {"size": 16, "seed": CALIBRATION_SEED}
    served = Path(record["model_file"])
    assert served.parent == isolated_outputs / "models" and "int8-static" in served.name and served.exists()
    assert {"QuantizeLinear", "DequantizeLinear"} <= _ops(str(served))
    assert len(record["concurrency"]["sessions"]) == 2
    assert record["model_info"]["content_hash"] == get_model("fnn").content_hash
    # checked against the float64 reference within the precision's tolerance, accuracy measured afterwards
    assert record["tolerance"] == tolerance_for("int8-static", get_model("fnn").tolerance)
    assert record["outputs_valid"] is True and record["reference"]["method"] == "numpy-float64"
    assert record["accuracy"]["evaluation_size"] == 64
    assert record["server_search"] and record["metric"]["value"] == record["server_max_qps"]
    assert record["loadgen_calibration"]["burst_samples_per_s"] > 0


@pytest.mark.parametrize("precision", ["fp32", "int8-dynamic"])
def test_a_user_onnx_file_runs_offline(precision: str, tmp_path: Path, isolated_outputs: Path) -> None:
    pytest.importorskip("mlperf_loadgen")
    pytest.importorskip("onnxruntime")
    from benchlib.engine.launcher import run_case
    from benchlib.models.reference_check import EVALUATOR
    from benchlib.models.user import SHA_KEY
    from benchlib.precision.onnx_quant import METHODS as QUANTISERS

    path = save(two_input_model(), tmp_path / "two.onnx")  # two named inputs (one int64), two outputs
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (case,) = scenario_cases(["onnxruntime"], str(path), "Offline", batch=8, precision=precision)
    record = run_case(case)
    assert record["status"] == "ok", record.get("traceback") or record.get("error")
    assert record["scenario"] == "Offline" and record["loadgen"]["query_count"] >= 1
    # the file that was planned is the file that ran
    assert record["model_info"]["kind"] == "onnx" and record["model_info"]["sha256"] == digest
    assert dict(case.extra)[SHA_KEY] == digest
    assert record["outputs_valid"] is True and record["reference"]["method"] == EVALUATOR
    if precision == "fp32":
        assert record["model_file"] == str(path) and record["accuracy"] is None
    else:  # quantised from the user's file into benchlib's models folder, never beside it
        served = Path(record["model_file"])
        assert served.parent == isolated_outputs / "models" and "int8-dynamic" in served.name
        assert record["precision_path"] == QUANTISERS["int8-dynamic"]
        assert _ops(str(served)) != _ops(str(path))
        assert record["accuracy"]["evaluation_size"] == 64 and np.isfinite(record["accuracy"]["max_rel_err"])
        assert sorted(p.name for p in tmp_path.iterdir()) == ["two.onnx"]


def test_cases_a_backend_cannot_serve_are_skipped_with_the_reason(tmp_path: Path) -> None:
    """Refused before any LoadGen run (in this process: nothing is built)."""
    from benchlib.engine.worker import run_worker
    from benchlib.scenarios.jax_dispatch import NAMED_INPUTS_REASON as JAX_NAMED_INPUTS
    from benchlib.scenarios.openvino_async import NAMED_INPUTS_REASON

    path = str(save(two_input_model(), tmp_path / "two.onnx"))
    records = {(c.backend, c.precision): run_worker(c)
               for c in scenario_cases(["jax", "openvino"], path, "Offline", batch=8)
               + scenario_cases(["onnxruntime"], "fnn", "Server", batch=8, precision="bf16")}
    for record in records.values():
        assert record["status"] == "skipped" and record["error"].startswith(("unsupported: ", "not installed: "))
    assert records["jax", "fp32"]["error"].endswith(JAX_NAMED_INPUTS)
    if records["openvino", "fp32"]["error"].startswith("unsupported"):
        assert NAMED_INPUTS_REASON in records["openvino", "fp32"]["error"]
    assert "no bfloat16 MatMul/Gemm kernels" in records["onnxruntime", "bf16"]["error"]
    bf16 = records["onnxruntime", "bf16"]
    assert (bf16["scenario"], bf16["variant"]) == ("Server", "default")  # named although its precision was refused


def test_a_fixed_batch_user_model_is_skipped_where_loadgen_calls_other_sizes(tmp_path: Path) -> None:
    from benchlib.engine.worker import run_worker

    model = two_input_model()
    for value in (*model.graph.input, *model.graph.output):
        value.type.tensor_type.shape.dim[0].dim_value = 8
    path = str(save(model, tmp_path / "fixed.onnx"))
    (case,) = scenario_cases(["onnxruntime"], path, "Server", batch=8)
    record = run_worker(case)
    assert record["status"] == "skipped"
    assert "fix the batch dimension at 8, and Server calls batches of 1 to 8 sample(s)" in record["error"]


def test_a_torch_factory_is_served_by_pytorch_itself(isolated_outputs: Path) -> None:
    pytest.importorskip("mlperf_loadgen")
    pytest.importorskip("torch")
    from benchlib.engine.launcher import run_case
    from benchlib.models.torch_factory import WEIGHTS_KEY, plan_factory

    plan_factory.cache_clear()  # planned (exported) into this test's outputs folder
    (case,) = scenario_cases(["pytorch"], "torch:tests.user_factories:two_heads", "Server", batch=4)
    record = run_case(case)
    assert record["status"] == "ok", record.get("traceback") or record.get("error")
    info = record["model_info"]
    assert info["kind"] == "factory" and info["weights_sha256"] == dict(case.extra)[WEIGHTS_KEY]
    assert record["model_file"] is None  # the module itself runs, not its export
    assert record["outputs_valid"] is True and record["reference"]["method"] == "onnx-reference-evaluator"
    assert record["server_search"] and record["concurrency"]["strategy"] == "thread pool"
