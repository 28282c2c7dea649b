"""ONNX models built in code for the user-model tests (two inputs, one int64; external data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

VOCAB, WIDTH, SEQ = 50, 8, 6


def two_input_model(seq: int | str = SEQ, custom_op: bool = False) -> onnx.ModelProto:
    """ids (int64 [batch, seq]) → embedding → mean; x (float [batch, 8]) → Gemm; outputs: sum and tanh(x W)."""
    rng = np.random.default_rng(0)
    table = numpy_helper.from_array(rng.standard_normal((VOCAB, WIDTH)).astype(np.float32), "table")
    weight = numpy_helper.from_array(rng.standard_normal((WIDTH, WIDTH)).astype(np.float32), "weight")
    bias = numpy_helper.from_array(rng.standard_normal(WIDTH).astype(np.float32), "bias")
    axes = numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")
    nodes = [
        helper.make_node("Gather", ["table", "ids"], ["emb"]),
        helper.make_node("ReduceMean", ["emb", "axes"], ["pooled"], keepdims=0),
        helper.make_node("Gemm", ["x", "weight", "bias"], ["proj"]),
        helper.make_node("Add", ["pooled", "proj"], ["summed"]),
        helper.make_node("Tanh", ["proj"], ["activated"]),
    ]
    if custom_op:
        nodes.append(helper.make_node("Frobnicate", ["activated"], ["odd"], domain="com.example"))
    graph = helper.make_graph(
        nodes, "two_inputs",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", seq]),
         helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", WIDTH])],
        [helper.make_tensor_value_info("summed", TensorProto.FLOAT, ["batch", WIDTH]),
         helper.make_tensor_value_info("odd" if custom_op else "activated", TensorProto.FLOAT, ["batch", WIDTH])],
        initializer=[table, weight, bias, axes],
    )
    opsets = [helper.make_opsetid("", 18)] + ([helper.make_opsetid("com.example", 1)] if custom_op else [])
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 9
    return model


def save(model: onnx.ModelProto, path: Path, external: bool = False) -> Path:
    """Write ``model`` to ``path`` (weights in ``path.data`` beside it with ``external``)."""
    if external:
        onnx.save(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                  location=path.name + ".data", size_threshold=64)  # small shape tensors inline, as ORT needs
    else:
        onnx.save(model, str(path))
    return path
