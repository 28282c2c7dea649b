"""Float64 NumPy reference forward pass, the yardstick every backend is verified against."""

from __future__ import annotations

import numpy as np

from benchlib.models.spec import Dense, ModelSpec, UnsupportedLayerError


def _activate(values: np.ndarray, activation: str) -> np.ndarray:
    if activation == "relu":
        return np.maximum(values, 0.0)
    if activation == "sigmoid":
        return 1.0 / (1.0 + np.exp(-values))
    return values


def reference_forward(spec: ModelSpec, inputs: np.ndarray) -> np.ndarray:
    """Run ``spec`` on ``inputs`` in float64 and return float64 outputs."""
    values = np.asarray(inputs, dtype=np.float64)
    for layer, arrays in zip(spec.layers, spec.params, strict=True):
        if isinstance(layer, Dense):
            weight = arrays["weight"].astype(np.float64)
            bias = arrays["bias"].astype(np.float64)
            values = _activate(values @ weight + bias, layer.activation)
        else:
            raise UnsupportedLayerError(f"reference has no implementation for layer kind {layer.kind!r}")
    return values
