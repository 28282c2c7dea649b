"""Build one ONNX file from a spec, shared by ONNX Runtime and OpenVINO.

The graph is written with ``onnx.helper`` straight from the spec's arrays (no exporter in
between), saved under ``outputs/models/`` with the spec's content hash and the exporter's source
hash in its name, so a changed spec (architecture, seed or weights) or a changed graph rule always
produces a new file and never reuses a stale one. The rules, one per layer kind, are in
:mod:`benchlib.models.onnx_layers`.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from benchlib.models.spec import ModelSpec
from benchlib.system.files import atomic_path
from benchlib.system.paths import models_dir

INPUT_NAME = "input"
OUTPUT_NAME = "output"
OPSET = 17


@lru_cache(maxsize=1)
def exporter_hash() -> str:
    """Short hash of the exporter's own source, so that a changed graph rule never reuses an old file."""
    digest = hashlib.sha256()
    for module in ("onnx_export.py", "onnx_layers.py"):
        digest.update((Path(__file__).parent / module).read_bytes())
    return digest.hexdigest()[:8]


def onnx_path(spec: ModelSpec, directory: Path | None = None) -> Path:
    """Where the ONNX file for ``spec`` lives (whether or not it exists yet)."""
    return (directory or models_dir()) / f"{spec.name}-{spec.content_hash}-x{exporter_hash()}.onnx"


def build_onnx_model(spec: ModelSpec):  # -> onnx.ModelProto
    """The spec as an in-memory ONNX model with a dynamic batch axis (one rule per layer kind)."""
    import onnx
    from onnx import TensorProto, helper

    from benchlib.models.onnx_layers import OnnxGraph, add_layers, image_layouts

    graph_ = OnnxGraph()
    image_in, image_out = image_layouts(spec.input_shape, spec.output_shape)
    current = INPUT_NAME
    if image_in:  # the spec's images are channels last; ONNX's convolutions want channels first
        current = graph_.op("Transpose", [current], "input.nchw", perm=[0, 3, 1, 2])
    current = add_layers(graph_, spec.layers, spec.params, current, spec.shapes()[:-1], "layer")
    if image_out:
        current = graph_.op("Transpose", [current], "output.nhwc", perm=[0, 2, 3, 1])
    graph_.nodes.append(helper.make_node("Identity", [current], [OUTPUT_NAME], name="output"))
    input_type = TensorProto.INT64 if spec.input_dtype == "int64" else TensorProto.FLOAT
    graph = helper.make_graph(
        graph_.nodes,
        spec.name,
        [helper.make_tensor_value_info(INPUT_NAME, input_type, ["batch", *spec.input_shape])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", *spec.output_shape])],
        initializer=graph_.initializers,
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
    with atomic_path(path, suffix=".onnx") as tmp:
        onnx.save(model, str(tmp))
    return path
