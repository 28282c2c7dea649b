"""Memory a user model's calls need, estimated from its declared shapes before anything is allocated.

A zoo model states its own estimate (:meth:`benchlib.models.spec.ModelSpec.batch_memory_problem`).
An ONNX file (or a factory's export) is estimated here from what the file declares, without reading
its weights: the initializers' sizes (from their dims), and per sample the inputs as drawn (a
float64/int64 draw, then the cast), every tensor ``onnx.shape_inference`` can size (the reference
evaluator keeps each intermediate until the call ends) and the outputs once more (the framework's
copy). It is a rough upper bound, like the zoo's: it exists to refuse a batch that cannot fit
*before* a process tries to allocate it and is killed by the kernel's out-of-memory killer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchlib.models.onnx_inputs import TensorInfo

#: Bytes per element of an input while it is drawn (float64 or int64), before the cast to its dtype.
DRAW_BYTES = 8


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a call needs: ``fixed`` whatever the batch (weights), plus ``per_sample`` for each sample."""

    fixed: int
    per_sample: int

    def at(self, batch_size: int) -> int:
        """The estimate at ``batch_size``."""
        return self.fixed + batch_size * self.per_sample

    def largest_batch(self, available_bytes: int) -> int:
        """The largest batch size that fits in ``available_bytes`` (0: not even one sample)."""
        room = available_bytes - self.fixed
        return max(0, room // self.per_sample) if self.per_sample else (1 << 62 if room >= 0 else 0)


def available_memory_bytes() -> int:
    """Memory the kernel says new work can use now (free plus reclaimable caches)."""
    import psutil

    return int(psutil.virtual_memory().available)


def format_bytes(count: int) -> str:
    """``count`` bytes in the largest binary unit that keeps a digit before the point (KiB to TiB)."""
    for unit, shift in (("TiB", 40), ("GiB", 30), ("MiB", 20)):
        if count >= 1 << shift:
            return f"{count / (1 << shift):.1f} {unit}"
    return f"{count / 1024:.1f} KiB"


def _itemsize(elem_type: int) -> int:
    from onnx.helper import tensor_dtype_to_np_dtype

    try:
        return int(np.dtype(tensor_dtype_to_np_dtype(elem_type)).itemsize)
    except (KeyError, TypeError, ValueError):  # an undefined or exotic element type: a float32's size
        return 4


def _value_bytes(value: Any) -> int | None:
    """Bytes of a graph value whose every dimension is known, else None."""
    tensor = value.type.tensor_type
    dims = tensor.shape.dim
    if not tensor.HasField("shape") or not all(d.HasField("dim_value") and d.dim_value >= 0 for d in dims):
        return None
    return math.prod(d.dim_value for d in dims) * _itemsize(tensor.elem_type)


def onnx_estimate(path: Path, inputs: Sequence[TensorInfo], outputs: Sequence[TensorInfo],
                  fixed_batch: int | None = None) -> MemoryEstimate:
    """The estimate of the graph at ``path`` fed ``inputs`` (at their per-sample shapes) and returning ``outputs``
    (weights from the initializers' dims; tensors from shape inference); ``fixed_batch``: a batch the graph fixes."""
    import onnx
    from onnx import shape_inference

    proto = onnx.load(str(path), load_external_data=False)  # dims only: the weights are not read
    weights = sum(math.prod(t.dims) * _itemsize(t.data_type) for t in proto.graph.initializer)
    batch = fixed_batch or 1
    input_bytes = sum(math.prod(info.shape) * (DRAW_BYTES + np.dtype(info.dtype).itemsize) for info in inputs)
    declared = sum(math.prod(max(d, 0) for d in info.shape) * np.dtype(info.dtype).itemsize
                   for info in outputs if all(d >= 0 for d in info.shape))
    by_name = {info.name: info for info in inputs}
    for value in proto.graph.input:  # the shapes this run feeds: batch, then the per-sample shape
        info = by_name.get(value.name)
        if info is not None:
            for dim, size in zip(value.type.tensor_type.shape.dim, (batch, *info.shape), strict=False):
                dim.Clear()
                dim.dim_value = size
    try:
        graph = shape_inference.infer_shapes(proto, data_prop=True).graph
        sizes = [_value_bytes(v) for v in (*graph.value_info, *graph.output)]
        tensors = sum(s for s in sizes if s) // batch
        output_bytes = sum(s or 0 for s in (_value_bytes(v) for v in graph.output)) // batch
    except Exception:  # noqa: BLE001 - inference gives up on some graphs: the declared outputs only
        tensors = output_bytes = 0
    # Weights twice: the reference evaluator's copy and the framework's.
    per_sample = input_bytes + max(tensors, declared) + max(output_bytes, declared)
    return MemoryEstimate(fixed=2 * weights, per_sample=per_sample)


def user_memory_problem(name: str, estimate: MemoryEstimate, batch_size: int,
                        available_bytes: int | None = None) -> str | None:
    """Why ``batch_size`` of model ``name`` (its ``estimate``) will not fit in memory (the estimate and the
    largest batch), or None."""
    available = available_memory_bytes() if available_bytes is None else available_bytes
    needed = estimate.at(batch_size)
    if needed <= available:
        return None
    largest = estimate.largest_batch(available)
    allowed = (f"batch sizes up to about {largest}" if largest else
               "smaller input shapes (--input-shape) or a model that fits: not even batch size 1 does")
    return (f"batch size {batch_size} of model {name!r} needs about {format_bytes(needed)} (weights "
            f"{format_bytes(estimate.fixed)}, plus {format_bytes(estimate.per_sample)} per sample for its inputs, "
            f"outputs and intermediate tensors, from the shapes it declares), more than the "
            f"{format_bytes(available)} available; allowed: {allowed}")


def input_memory_problem(name: str, shape: tuple[int, ...], batch_size: int,
                         available_bytes: int | None = None) -> str | None:
    """Why a float32 input of per-sample ``shape`` cannot even be drawn at ``batch_size`` (a factory's export
    example, before the factory is built), or None."""
    per_sample = math.prod(shape) * (DRAW_BYTES + 4)
    available = available_memory_bytes() if available_bytes is None else available_bytes
    if batch_size * per_sample <= available:
        return None
    return (f"the input of {name} ({'x'.join(map(str, shape))} float32 per sample) needs about "
            f"{format_bytes(batch_size * per_sample)} for the batch of {batch_size} its export is traced with, "
            f"more than the {format_bytes(available)} available; allowed: a smaller input shape (--input-shape "
            f"input=...) whose batch of {batch_size} fits")

