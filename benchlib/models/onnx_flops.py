"""FLOPs per sample of an ONNX graph, from MatMul, Gemm and Conv (a multiply-add counts two).

Shapes come from ``onnx.shape_inference`` on a copy of the graph whose inputs are fixed to batch 1
and the given per-sample shapes; the user's file is not touched. Other ops with arithmetic are
named as not counted, so the figure is a stated lower bound, not a guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchlib.models.onnx_inputs import TensorInfo

#: Ops whose FLOPs are counted (multiply-adds count two).
COUNTED_OPS = ("MatMul", "Gemm", "Conv")
#: Ops that move or relabel data and cost no arithmetic (not listed as "not counted").
FREE_OPS = frozenset({"Identity", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Shape", "Constant",
                      "Gather", "Slice", "Concat", "Split", "Cast", "Expand"})


def _shapes(graph: Any) -> dict[str, list[int]]:
    known: dict[str, list[int]] = {}
    for value in (*graph.input, *graph.value_info, *graph.output):
        dims = value.type.tensor_type.shape.dim
        if all(d.HasField("dim_value") for d in dims):
            known[value.name] = [d.dim_value for d in dims]
    for tensor in graph.initializer:
        known[tensor.name] = list(tensor.dims)
    return known


def _attr(node: Any, name: str, default: Any) -> Any:
    from onnx import helper

    for attribute in node.attribute:
        if attribute.name == name:
            return helper.get_attribute_value(attribute)
    return default


def node_flops(node: Any, shapes: dict[str, list[int]]) -> int | None:
    """FLOPs of one MatMul, Gemm or Conv node at batch 1, ``None`` if a shape is unknown."""
    inputs = [shapes.get(name) for name in node.input]
    out = shapes.get(node.output[0])
    if out is None or any(shape is None for shape in inputs[:2]):
        return None
    if node.op_type == "MatMul":
        k = inputs[0][-1]
        return 2 * int(np.prod(out, dtype=np.int64)) * k
    if node.op_type == "Gemm":
        a = inputs[0]
        k = a[0] if _attr(node, "transA", 0) else a[-1]
        return 2 * int(np.prod(out, dtype=np.int64)) * k
    if node.op_type == "Conv":
        weight = inputs[1]  # [out_channels, in_channels / group, *kernel]
        return 2 * int(np.prod(out, dtype=np.int64)) * int(np.prod(weight[1:], dtype=np.int64))
    return None


def count_flops(path: Path, inputs: Sequence[TensorInfo]) -> tuple[int | None, tuple[str, ...]]:
    """(FLOPs per sample or ``None``, op types with arithmetic that were not counted) of the graph at ``path``,
    its ``inputs`` at their per-sample shapes."""
    import onnx
    from onnx import shape_inference

    proto = onnx.load(str(path), load_external_data=False)  # shapes only: no weights needed
    by_name = {info.name: info for info in inputs}
    for value in proto.graph.input:
        info = by_name.get(value.name)
        if info is None:
            continue
        dims = value.type.tensor_type.shape.dim
        for dim, size in zip(dims, (1, *info.shape), strict=False):
            dim.Clear()
            dim.dim_value = size
    try:
        inferred = shape_inference.infer_shapes(proto, data_prop=True)
    except Exception:  # noqa: BLE001 - inference gives up on some graphs; the count is then unknown
        return None, ()
    shapes = _shapes(inferred.graph)
    total, unknown = 0, False
    not_counted: dict[str, None] = {}
    for node in inferred.graph.node:
        if node.op_type in COUNTED_OPS:
            flops = node_flops(node, shapes)
            if flops is None:
                unknown = True
            else:
                total += flops
        elif node.op_type not in FREE_OPS:
            not_counted[node.op_type] = None
    return (None if unknown else total), tuple(not_counted)
