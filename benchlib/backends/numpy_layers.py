"""NumPy float32 layer builders, one short function per layer kind (:data:`NUMPY_BUILDERS`).

Each builder takes the layer, its parameters and its per-sample input shape and returns a
function of the batch. Images stay channels last (the spec's layout); convolutions are an
im2col copy and one BLAS matmul, the way a NumPy user would write them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import erf

from benchlib.models.layer_base import Layer, layer_builder
from benchlib.models.layers import Activation, BatchNorm, Conv2D, Dense, GlobalAvgPool, Residual
from benchlib.models.sequence_layers import (
    LSTM,
    Embedding,
    FirstToken,
    LayerNorm,
    PositionEmbedding,
    SelfAttention,
)

Params = dict[str, np.ndarray]
Fn = Callable[[np.ndarray], np.ndarray]
HALF, ONE, INV_SQRT2 = np.float32(0.5), np.float32(1.0), np.float32(1 / np.sqrt(2.0))


def _sigmoid_(values: np.ndarray) -> np.ndarray:
    # 1 / (1 + exp(-x)) in place, without float32 overflow warnings
    with np.errstate(over="ignore"):
        np.negative(values, out=values)
        np.exp(values, out=values)
    values += ONE
    return np.reciprocal(values, out=values)


def activate_(values: np.ndarray, function: str) -> np.ndarray:
    """Apply an activation to a float32 array the caller owns (in place where possible)."""
    if function == "relu":
        return np.maximum(values, 0.0, out=values)
    if function == "sigmoid":
        return _sigmoid_(values)
    if function == "tanh":
        return np.tanh(values, out=values)
    if function == "gelu":
        return values * HALF * (ONE + erf(values * INV_SQRT2))
    if function == "softmax":
        values -= values.max(axis=-1, keepdims=True)
        np.exp(values, out=values)
        values /= values.sum(axis=-1, keepdims=True)
    return values


def _dense(layer: Dense, p: Params, shape: tuple) -> Fn:
    weight, bias, function = np.ascontiguousarray(p["weight"]), p["bias"], layer.activation

    def dense(x: np.ndarray) -> np.ndarray:
        values = x @ weight
        values += bias
        return activate_(values, function)

    return dense


def _activation(layer: Activation, p: Params, shape: tuple) -> Fn:
    return lambda x: activate_(x.copy(), layer.function)


def _conv2d(layer: Conv2D, p: Params, shape: tuple) -> Fn:
    k, s, pad = layer.kernel_size, layer.stride, layer.padding
    weight = np.ascontiguousarray(p["weight"].reshape(-1, layer.out_channels))  # (k·k·in, out)
    bias = p["bias"]
    out_h, out_w, _ = layer.output_shape(shape)

    def conv2d(x: np.ndarray) -> np.ndarray:
        if pad:
            x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
        if k == 1:
            columns = x[:, ::s, ::s]
        else:  # im2col: (batch, out_h, out_w, k, k, in) copied contiguous, rows match the HWIO weight
            windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))[:, ::s, ::s]
            columns = windows.transpose(0, 1, 2, 4, 5, 3)
        values = columns.reshape(x.shape[0] * out_h * out_w, -1) @ weight
        values += bias
        return values.reshape(x.shape[0], out_h, out_w, layer.out_channels)

    return conv2d


def _batch_norm(layer: BatchNorm, p: Params, shape: tuple) -> Fn:
    # inference form folded into one scale and one shift, as every framework does
    scale = (p["gamma"] / np.sqrt(p["var"] + np.float32(layer.eps))).astype(np.float32)
    shift = (p["beta"] - p["mean"] * scale).astype(np.float32)

    def batch_norm(x: np.ndarray) -> np.ndarray:
        values = x * scale
        values += shift
        return values

    return batch_norm


def _global_avg_pool(layer: GlobalAvgPool, p: Params, shape: tuple) -> Fn:
    return lambda x: x.mean(axis=(1, 2), dtype=np.float32)


def _residual(layer: Residual, p: Params, shape: tuple) -> Fn:
    body = chain(layer.body, layer.branch_params(p, "body"), layer.branch_shapes(shape, "body"))
    shortcut = chain(layer.shortcut, layer.branch_params(p, "shortcut"), layer.branch_shapes(shape, "shortcut"))

    def residual(x: np.ndarray) -> np.ndarray:
        values = body(x)
        values += shortcut(x)
        return values

    return residual


def _embedding(layer: Embedding, p: Params, shape: tuple) -> Fn:
    table = p["table"]
    return lambda ids: table[ids]  # fancy indexing copies: the result is the caller's


def _position_embedding(layer: PositionEmbedding, p: Params, shape: tuple) -> Fn:
    position, token_type = p["position"][: shape[0]], p["token_type"][0]

    def position_embedding(x: np.ndarray) -> np.ndarray:
        values = x + position
        values += token_type
        return values

    return position_embedding


def _layer_norm(layer: LayerNorm, p: Params, shape: tuple) -> Fn:
    gamma, beta, eps = p["gamma"], p["beta"], np.float32(layer.eps)

    def layer_norm(x: np.ndarray) -> np.ndarray:
        centred = x - x.mean(axis=-1, keepdims=True)
        variance = np.mean(centred * centred, axis=-1, keepdims=True)
        centred /= np.sqrt(variance + eps)
        centred *= gamma
        centred += beta
        return centred

    return layer_norm


def _self_attention(layer: SelfAttention, p: Params, shape: tuple) -> Fn:
    heads, head_dim, hidden = layer.heads, layer.head_dim, layer.hidden
    # q, k and v in one matmul: (hidden, 3·hidden)
    qkv_weight = np.ascontiguousarray(np.concatenate([p[f"{n}.weight"] for n in ("query", "key", "value")], axis=1))
    qkv_bias = np.concatenate([p[f"{n}.bias"] for n in ("query", "key", "value")])
    out_weight, out_bias = np.ascontiguousarray(p["output.weight"]), p["output.bias"]
    scale = np.float32(1 / np.sqrt(head_dim))

    def self_attention(x: np.ndarray) -> np.ndarray:
        batch, length, _ = x.shape
        qkv = x @ qkv_weight
        qkv += qkv_bias
        q, k, v = qkv.reshape(batch, length, 3, heads, head_dim).transpose(2, 0, 3, 1, 4)
        scores = q @ k.transpose(0, 1, 3, 2)
        scores *= scale
        weights = activate_(scores, "softmax")
        context = (weights @ v).transpose(0, 2, 1, 3).reshape(batch, length, hidden)
        values = context @ out_weight
        values += out_bias
        return values

    return self_attention


def _lstm(layer: LSTM, p: Params, shape: tuple) -> Fn:
    units = layer.units
    kernel, recurrent, bias = (np.ascontiguousarray(p[k]) for k in ("kernel", "recurrent_kernel", "bias"))

    def lstm(x: np.ndarray) -> np.ndarray:
        batch, length, _ = x.shape
        inputs = x @ kernel  # every step's input projection in one matmul: (batch, length, 4u)
        inputs += bias
        h = np.zeros((batch, units), np.float32)
        c = np.zeros((batch, units), np.float32)
        for t in range(length):
            z = inputs[:, t] + h @ recurrent
            _sigmoid_(z[:, : 2 * units])  # i, f
            _sigmoid_(z[:, 3 * units:])  # o
            np.tanh(z[:, 2 * units: 3 * units], out=z[:, 2 * units: 3 * units])  # g
            c *= z[:, units: 2 * units]
            c += z[:, :units] * z[:, 2 * units: 3 * units]
            h = z[:, 3 * units:] * np.tanh(c)
        return h

    return lstm


def _first_token(layer: FirstToken, p: Params, shape: tuple) -> Fn:
    return lambda x: x[:, 0].copy()


#: One float32 builder per layer kind.
NUMPY_BUILDERS: dict[str, Callable[[Layer, Params, tuple], Fn]] = {
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


def chain(layers: tuple[Layer, ...], params: list[Params] | tuple[Params, ...], shapes: list[tuple]) -> Fn:
    """One function running a chain of layers (an empty chain returns its input)."""
    functions = []
    for layer, arrays, shape in zip(layers, params, shapes, strict=False):
        builder = layer_builder(NUMPY_BUILDERS, layer.kind, "numpy backend")
        functions.append(builder(layer, arrays, shape))

    def run(x: np.ndarray) -> np.ndarray:
        for function in functions:
            x = function(x)
        return x

    return run
