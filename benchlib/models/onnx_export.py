"""Build one ONNX file from a spec, shared by ONNX Runtime and OpenVINO.

The graph is written with ``onnx.helper`` straight from the spec's arrays (no exporter in
between), saved under ``outputs/models/`` with the spec's content hash in its name, so a changed
spec (architecture, seed or weights) always produces a new file and never reuses a stale one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from benchlib.models.spec import Dense, ModelSpec, UnsupportedLayerError
from benchlib.paths import models_dir

INPUT_NAME = "input"
OUTPUT_NAME = "output"
OPSET = 17


def onnx_path(spec: ModelSpec, directory: Path | None = None) -> Path:
    """Where the ONNX file for ``spec`` lives (whether or not it exists yet)."""
    return (directory or models_dir()) / f"{spec.name}-{spec.content_hash}.onnx"


def build_onnx_model(spec: ModelSpec):  # -> onnx.ModelProto
    """The spec as an in-memory ONNX model with a dynamic batch axis."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, initializers = [], []
    current = INPUT_NAME
    for index, (layer, arrays) in enumerate(zip(spec.layers, spec.params, strict=True)):
        if not isinstance(layer, Dense):
            raise UnsupportedLayerError(f"ONNX export has no rule for layer kind {layer.kind!r}")
        weight, bias = f"layer{index}.weight", f"layer{index}.bias"
        initializers += [numpy_helper.from_array(arrays["weight"], weight),
                         numpy_helper.from_array(arrays["bias"], bias)]
        gemm_out = f"layer{index}.linear"
        nodes.append(helper.make_node("Gemm", [current, weight, bias], [gemm_out], name=f"layer{index}.gemm"))
        current = gemm_out
        if layer.activation != "none":
            op = {"relu": "Relu", "sigmoid": "Sigmoid"}[layer.activation]
            act_out = f"layer{index}.{layer.activation}"
            nodes.append(helper.make_node(op, [current], [act_out], name=f"layer{index}.{layer.activation}"))
            current = act_out
    nodes.append(helper.make_node("Identity", [current], [OUTPUT_NAME], name="output"))
    graph = helper.make_graph(
        nodes,
        spec.name,
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", *spec.input_shape])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", *spec.output_shape])],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="benchlib")
    model.ir_version = min(model.ir_version, 9)  # readable by every runtime pinned here
    model.doc_string = f"benchlib spec {spec.name} hash {spec.content_hash}"
    onnx.checker.check_model(model)
    return model


def ensure_onnx_file(spec: ModelSpec, directory: Path | None = None) -> Path:
    """Return the ONNX file for ``spec``, writing it first if it does not exist.

    The file is written to a temporary name and renamed, so concurrent runs never read a
    half-written model.
    """
    path = onnx_path(spec, directory)
    if path.exists():
        return path
    import onnx

    path.parent.mkdir(parents=True, exist_ok=True)
    model = build_onnx_model(spec)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".onnx.tmp")
    os.close(fd)
    try:
        onnx.save(model, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
