"""A user's ONNX graph inputs and outputs as benchlib feeds them: per-sample shapes behind a batch axis.

Every shape benchlib cannot batch honestly is refused here, with the input, the shape and what is
allowed: a scalar, an input whose only dimension is fixed (it has no batch axis: its features would
be counted as samples), a dimension of size 0 (every call would be empty, and "verified" against an
empty reference), inputs with different fixed batch sizes, and an ``--input-shape`` that changes a
dimension the model fixes. Each is described as a :class:`TensorInfo`, the type every module of
a user model shares.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchlib.errors import OnnxModelError


@dataclass(frozen=True)
class TensorInfo:
    """One graph input or output: name, NumPy dtype, per-sample shape (no batch axis)."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    #: the highest value + 1 of an integer input (from the embedding table it indexes, else the default)
    high: int | None = None


def _dims_text(dims: Sequence[Any]) -> str:
    return "[" + ", ".join(str(d.dim_value) if d.HasField("dim_value") else repr(d.dim_param or "?")
                           for d in dims) + "]"


def _check_not_empty(kind: str, name: str, dims: Sequence[Any], path: Path) -> None:
    if any(d.HasField("dim_value") and d.dim_value == 0 for d in dims):
        raise OnnxModelError(f"{kind} {name!r} of {path.name} has shape {_dims_text(dims)}, with a dimension of "
                             "size 0: every call would be empty (nothing computed, nothing to verify); allowed: "
                             "dimensions of size 1 or more")


def _per_sample(name: str, dims: Sequence[Any], given: tuple[int, ...] | None, path: Path) -> tuple[int, ...]:
    """The per-sample shape of one input: its own static sizes, with ``--input-shape`` for the dynamic ones."""
    if given is None:
        missing = [d.dim_param or "?" for d in dims[1:] if not d.HasField("dim_value")]
        if missing:
            raise OnnxModelError(
                f"input {name!r} of {path.name} has dynamic dimension(s) {', '.join(missing)} besides the "
                f"batch; allowed: give them with --input-shape {name}="
                + ",".join(str(d.dim_value) if d.HasField("dim_value") else "N" for d in dims[1:]))
        return tuple(d.dim_value for d in dims[1:])
    if len(given) != len(dims) - 1:
        raise OnnxModelError(f"--input-shape={name}={','.join(map(str, given))} has {len(given)} dimension(s); "
                             f"allowed: {len(dims) - 1} (the input's rank without the batch)")
    for position, (dim, size) in enumerate(zip(dims[1:], given, strict=True), start=2):
        if dim.HasField("dim_value") and dim.dim_value != size:
            allowed = ",".join(str(d.dim_value) if d.HasField("dim_value") else "N" for d in dims[1:])
            raise OnnxModelError(
                f"--input-shape={name}={','.join(map(str, given))} gives dimension {position} of input {name!r} "
                f"as {size}, but {path.name} fixes it at {dim.dim_value}; allowed: {name}={allowed} (only the "
                "dynamic dimensions, N, can be given)")
    return given


def describe_inputs(graph_inputs: Sequence[Any], shapes: Mapping[str, tuple[int, ...]], highs: Mapping[str, int],
                    path: Path) -> tuple[tuple[TensorInfo, ...], int | None]:
    """(each input as fed, the fixed batch size or None) of ``graph_inputs``; refuses what cannot be batched."""
    from onnx.helper import tensor_dtype_to_np_dtype

    inputs, batches = [], {}
    for value in graph_inputs:
        tensor = value.type.tensor_type
        dims = list(tensor.shape.dim)
        if not dims:
            raise OnnxModelError(f"input {value.name!r} of {path.name} is a scalar; allowed: inputs with a batch axis")
        _check_not_empty("input", value.name, dims, path)
        if len(dims) == 1 and dims[0].HasField("dim_value"):
            size = dims[0].dim_value
            raise OnnxModelError(
                f"input {value.name!r} of {path.name} has shape [{size}]: its only dimension is fixed, so it has no "
                f"batch axis (its {size} values would be counted as {size} samples); allowed: a batch axis first, "
                f"dynamic (e.g. ['N', {size}]) or fixed (e.g. [1, {size}])")
        if dims[0].HasField("dim_value"):
            batches[value.name] = dims[0].dim_value
        per_sample = _per_sample(value.name, dims, shapes.get(value.name), path)
        dtype = np.dtype(tensor_dtype_to_np_dtype(tensor.elem_type)).name
        inputs.append(TensorInfo(value.name, dtype, tuple(per_sample), highs.get(value.name)))
    if len(set(batches.values())) > 1:
        listed = ", ".join(f"{name}: {size}" for name, size in batches.items())
        raise OnnxModelError(f"the inputs of {path.name} have different fixed batch sizes ({listed}); allowed: one "
                             "batch size shared by every input that fixes it, or a dynamic batch axis")
    return tuple(inputs), (next(iter(batches.values())) if batches else None)


def describe_outputs(graph_outputs: Sequence[Any], path: Path) -> tuple[TensorInfo, ...]:
    """Each output's name, dtype and per-sample shape (-1 where dynamic); an empty declared output is refused."""
    from onnx.helper import tensor_dtype_to_np_dtype

    outputs = []
    for value in graph_outputs:
        dims = list(value.type.tensor_type.shape.dim)
        _check_not_empty("output", value.name, dims, path)
        outputs.append(TensorInfo(value.name, np.dtype(tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)).name,
                                  tuple(d.dim_value if d.HasField("dim_value") else -1 for d in dims[1:])))
    return tuple(outputs)
