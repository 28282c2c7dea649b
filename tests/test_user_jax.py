"""JAX on a user's model: an ONNX file and a PyTorch factory's export, converted by jaxonnxruntime and jitted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from benchlib.backends.registry import create_model_backend
from benchlib.backends.user_jax import TORCHAX_REASON, UserJaxBackend
from benchlib.engine.grid import case_grid
from benchlib.engine.launcher import run_case
from benchlib.models.torch_factory import plan_factory
from benchlib.models.user import load_model
from benchlib.studies.verify import verify_named_model, verify_user_model
from tests.conftest import FIVE_CALLS_CASE, TWO_HEADS
from tests.user_onnx_models import save, two_input_model

FILE_PATH = "the ONNX file, converted by jaxonnxruntime"


@pytest.fixture(autouse=True)
def _fresh_plans() -> None:
    plan_factory.cache_clear()  # each test's outputs folder holds its own exports


@pytest.fixture
def two_inputs(tmp_path: Path) -> Path:
    return save(two_input_model(), tmp_path / "two.onnx")


def _layer_norm_model() -> onnx.ModelProto:
    """x (float [batch, 8]) → LayerNormalization → MatMul: an op jaxonnxruntime 0.3.0 has no implementation of."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)
             for name, shape in (("scale", (8,)), ("bias", (8,)), ("weight", (8, 4)))]
    nodes = [helper.make_node("LayerNormalization", ["x", "scale", "bias"], ["normed"], axis=-1),
             helper.make_node("MatMul", ["normed", "weight"], ["y"])]
    graph = helper.make_graph(nodes, "layer_norm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", 4])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    return model


def test_an_onnx_file_runs_in_jax_jitted_and_verified(two_inputs: Path) -> None:
    model = load_model(str(two_inputs))
    results = {r.backend: r for r in verify_user_model(model, ["jax", "onnxruntime"])}
    assert results["jax"].status == "pass" and results["jax"].max_abs_err < 1e-5, results["jax"].reason
    backend = create_model_backend("jax", model)
    assert type(backend) is UserJaxBackend and backend.variant == "jit"
    predict = backend.raw_predictor()
    outputs = predict(model.random_input(2, seed=1))
    assert [o.shape for o in outputs] == [(2, 8), (2, 8)] and all(o.dtype == np.float32 for o in outputs)
    assert hasattr(backend._static.get(2).forward, "lower")  # the whole graph is one jax.jit function
    settings = backend.thread_settings()
    assert settings["path"] == FILE_PATH and settings["converter"] == "jaxonnxruntime 0.3.0"
    eager = create_model_backend("jax", model, variant="eager").raw_predictor()
    feeds = model.random_input(3, seed=2)
    assert all(np.allclose(a, b, rtol=1e-5, atol=1e-6) for a, b in zip(eager(feeds), predict(feeds), strict=True))


def test_a_factory_runs_in_jax_as_its_onnx_export_not_through_torchax() -> None:
    results = {r.backend: r for r in verify_named_model(TWO_HEADS, ["jax", "pytorch"])}
    assert results["jax"].status == "pass" and results["jax"].max_abs_err < 1e-5, results["jax"].reason
    model = load_model(TWO_HEADS, dict(plan_factory(TWO_HEADS)))
    backend = create_model_backend("jax", model)
    backend.build()
    assert backend.model_path == model.path  # the factory's export, as ONNX Runtime and OpenVINO read it
    assert backend.thread_settings()["path"] == ("the factory's ONNX export, converted by jaxonnxruntime; not the "
                                                  f"module through torchax: {TORCHAX_REASON}")
    assert "does not import" in TORCHAX_REASON and "torch 2.13.0" in TORCHAX_REASON


def test_an_op_jaxonnxruntime_lacks_is_skipped_naming_it(tmp_path: Path) -> None:
    model = load_model(str(save(_layer_norm_model(), tmp_path / "ln.onnx")))
    results = {r.backend: r for r in verify_user_model(model, ["jax", "onnxruntime"])}
    assert results["onnxruntime"].status == "pass", results["onnxruntime"].reason
    assert results["jax"].status == "skipped"
    assert "jaxonnxruntime 0.3.0 has no implementation of op(s) LayerNormalization (opset 18)" in results["jax"].reason


def test_records_of_jax_on_a_file_and_a_factory(two_inputs: Path) -> None:
    for name in (str(two_inputs), TWO_HEADS):
        record = run_case(case_grid(["jax"], [1], models=[name], **FIVE_CALLS_CASE)[0])
        assert record["status"] == "ok" and record["outputs_valid"] is True, record.get("error")
        assert record["thread_settings"]["converter"] == "jaxonnxruntime 0.3.0"
        assert record["model_file"] == record["model_info"]["path"]
        assert record["latency_ms"]["p50"] > 0
        print(f"{name}: jax p50 {record['latency_ms']['p50']:.4f} ms at batch 1, error {record['max_abs_err']:.2g}")
