"""A model's inputs as rows of one NumPy array, whatever the model takes: the query sample library's samples.

A zoo model takes one array. A user's model (an ONNX file, or a PyTorch factory's export) takes
named arrays, one per graph input, and returns the list of its outputs. The LoadGen harness and the
executors index, slice, queue and join samples as rows of one array, so a user model's named inputs
are packed into a structured array: one field per input, each a sub-array of that input's per-sample
shape and dtype. Every row operation then works unchanged, and :func:`sample_predictor` hands the
framework its named arrays, unpacked just before the call (as a zoo model's rows are gathered there).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from benchlib.models.onnx_model import OnnxModel


def is_named(spec: Any) -> bool:
    """Whether ``spec`` takes named input arrays (a user's model) rather than one array (a zoo model)."""
    return isinstance(spec, OnnxModel)


def pack(feeds: Mapping[str, np.ndarray]) -> np.ndarray:
    """Named arrays with a common first (batch) dimension as one structured array, one row per sample."""
    if not feeds:
        raise ValueError("feeds={} is invalid; allowed: at least one named input array")
    rows = {len(array) for array in feeds.values()}
    if len(rows) != 1:
        raise ValueError(f"feeds with {sorted(rows)} rows are invalid; allowed: every input with the same rows")
    dtype = np.dtype([(name, array.dtype, array.shape[1:]) for name, array in feeds.items()])
    packed = np.empty(rows.pop(), dtype)
    for name, array in feeds.items():
        packed[name] = array
    return packed


def unpack(rows: np.ndarray) -> Any:
    """The named arrays of packed ``rows`` (each contiguous, as a framework takes them); other rows unchanged."""
    if rows.dtype.names is None:
        return rows
    return {name: np.ascontiguousarray(rows[name]) for name in rows.dtype.names}


def draw(spec: Any, count: int, seed: int) -> np.ndarray:
    """``count`` samples of ``spec``'s random inputs (drawn from ``seed``) as rows of one array."""
    inputs = spec.random_input(count, seed)
    return pack(inputs) if isinstance(inputs, dict) else inputs


def sample_predictor(backend: Any) -> Callable[[np.ndarray], Any]:
    """The backend's timed call on rows of :func:`draw`: a user model's are unpacked to named arrays first."""
    predict = backend.raw_predictor()
    if not is_named(backend.spec):
        return predict
    return lambda rows: predict(unpack(rows))
