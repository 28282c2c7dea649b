"""Float64 NumPy reference forward pass, the yardstick every backend is verified against.

One short function per layer kind (:data:`REFERENCE`), written for clarity rather than speed:
the parameters are promoted to float64 and every formula is the textbook one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from benchlib.errors import UnsupportedLayerError
from benchlib.models.layer_base import Layer
from benchlib.models.layers import Activation, BatchNorm, Conv2D, Dense, GlobalAvgPool, Residual
from benchlib.models.sequence_layers import (
    LSTM,
    Embedding,
    FirstToken,
    LayerNorm,
    PositionEmbedding,
    SelfAttention,
)
from benchlib.models.spec import ModelSpec

Params = dict[str, np.ndarray]


def _f64(params: Params) -> dict[str, np.ndarray]:
    return {key: value.astype(np.float64) for key, value in params.items()}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # equal to 1 / (1 + exp(-x)), without overflow


def activate(x: np.ndarray, function: str) -> np.ndarray:
    """Apply one of the spec's activations in float64."""
    if function == "relu":
        return np.maximum(x, 0.0)
    if function == "sigmoid":
        return _sigmoid(x)
    if function == "tanh":
        return np.tanh(x)
    if function == "gelu":
        from scipy.special import erf  # only the text models need it; keeps `import benchlib` light

        return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))
    if function == "softmax":
        exp = np.exp(x - x.max(axis=-1, keepdims=True))
        return exp / exp.sum(axis=-1, keepdims=True)
    return x


def _dense(layer: Dense, p: Params, x: np.ndarray) -> np.ndarray:
    return activate(x @ p["weight"] + p["bias"], layer.activation)


def _activation(layer: Activation, p: Params, x: np.ndarray) -> np.ndarray:
    return activate(x, layer.function)


def _conv2d(layer: Conv2D, p: Params, x: np.ndarray) -> np.ndarray:
    pad, k, s = layer.padding, layer.kernel_size, layer.stride
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    # windows: (batch, out_h, out_w, channels, k, k)
    windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))[:, ::s, ::s]
    return np.einsum("bhwcij,ijco->bhwo", windows, p["weight"], optimize=True) + p["bias"]


def _batch_norm(layer: BatchNorm, p: Params, x: np.ndarray) -> np.ndarray:
    return (x - p["mean"]) / np.sqrt(p["var"] + layer.eps) * p["gamma"] + p["beta"]


def _global_avg_pool(layer: GlobalAvgPool, p: Params, x: np.ndarray) -> np.ndarray:
    return x.mean(axis=(1, 2))


def _residual(layer: Residual, p: Params, x: np.ndarray) -> np.ndarray:
    body = run_layers(layer.body, layer.branch_params(p, "body"), x)
    shortcut = run_layers(layer.shortcut, layer.branch_params(p, "shortcut"), x)
    return body + shortcut


def _embedding(layer: Embedding, p: Params, x: np.ndarray) -> np.ndarray:
    return p["table"][x]


def _position_embedding(layer: PositionEmbedding, p: Params, x: np.ndarray) -> np.ndarray:
    return x + p["position"][: x.shape[1]] + p["token_type"][0]


def _layer_norm(layer: LayerNorm, p: Params, x: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + layer.eps) * p["gamma"] + p["beta"]


def _self_attention(layer: SelfAttention, p: Params, x: np.ndarray) -> np.ndarray:
    batch, length, _ = x.shape

    def heads(name: str) -> np.ndarray:  # (batch, heads, length, head_dim)
        projected = x @ p[f"{name}.weight"] + p[f"{name}.bias"]
        return projected.reshape(batch, length, layer.heads, layer.head_dim).transpose(0, 2, 1, 3)

    q, k, v = heads("query"), heads("key"), heads("value")
    weights = activate(q @ k.transpose(0, 1, 3, 2) / np.sqrt(layer.head_dim), "softmax")
    context = (weights @ v).transpose(0, 2, 1, 3).reshape(batch, length, layer.hidden)
    return context @ p["output.weight"] + p["output.bias"]


def _lstm(layer: LSTM, p: Params, x: np.ndarray) -> np.ndarray:
    units = layer.units
    h = np.zeros((x.shape[0], units))
    c = np.zeros_like(h)
    for t in range(x.shape[1]):
        z = x[:, t] @ p["kernel"] + h @ p["recurrent_kernel"] + p["bias"]
        i, f, g, o = (z[:, n * units:(n + 1) * units] for n in range(4))  # LSTM_GATES order
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
    return h


def _first_token(layer: FirstToken, p: Params, x: np.ndarray) -> np.ndarray:
    return x[:, 0]


#: One float64 implementation per layer kind.
REFERENCE: dict[str, Callable[[Layer, Params, np.ndarray], np.ndarray]] = {
    "dense": _dense,
    "activation": _activation,
    "conv2d": _conv2d,
    "batch_norm": _batch_norm,
    "global_avg_pool": _global_avg_pool,
    "residual": _residual,
    "embedding": _embedding,
    "position_embedding": _position_embedding,
    "layer_norm": _layer_norm,
    "self_attention": _self_attention,
    "lstm": _lstm,
    "first_token": _first_token,
}


def run_layers(layers: tuple[Layer, ...], params: list[Params] | tuple[Params, ...], x: np.ndarray) -> np.ndarray:
    """Run a chain of layers in float64 (an empty chain is the identity)."""
    for layer, arrays in zip(layers, params, strict=True):
        function = REFERENCE.get(layer.kind)
        if function is None:
            raise UnsupportedLayerError("the float64 reference", layer.kind)
        x = function(layer, _f64(arrays), x)
    return x


def reference_forward(spec: ModelSpec, inputs: np.ndarray) -> np.ndarray:
    """Run ``spec`` on ``inputs`` in float64 and return float64 outputs (token ids stay integers)."""
    values = np.asarray(inputs)
    if values.dtype.kind == "f":
        values = values.astype(np.float64)
    return run_layers(spec.layers, spec.params, values)
