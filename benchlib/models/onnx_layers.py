"""ONNX graph rules, one short function per layer kind (:data:`ONNX_RULES`).

Images run channels first inside the graph (ONNX's Conv, BatchNormalization and pooling are
NCHW); :func:`benchlib.models.onnx_export.build_onnx_model` transposes the spec's channels-last
input on entry, so the conversion is part of every session call, as it would be for a user.
Operators are from the default domain at opset 17 (no runtime-specific contrib ops), so ONNX
Runtime and OpenVINO read the same file.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from benchlib.models.layer_base import Layer, is_image, layer_builder
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
#: ONNX packs LSTM gates as input, output, forget, cell; the spec's order is i, f, g, o.
ONNX_GATE_ORDER = (0, 3, 1, 2)


class OnnxGraph:
    """Nodes and initializers under construction, with unique names."""

    def __init__(self) -> None:
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes: list = []
        self.initializers: list = []

    def const(self, name: str, array: np.ndarray) -> str:
        """Add ``array`` as an initializer called ``name`` and return the name."""
        self.initializers.append(self.numpy_helper.from_array(np.array(array, order="C"), name))
        return name

    def op(self, op_type: str, inputs: list[str], name: str, outputs: int = 1, **attrs: object) -> str:
        """Add one node; returns its (first) output name, which is ``name``."""
        names = [name] + [f"{name}:{i}" for i in range(1, outputs)]
        self.nodes.append(self.helper.make_node(op_type, inputs, names, name=name, **attrs))
        return name


def activate(g: OnnxGraph, x: str, function: str, name: str) -> str:
    """One of the spec's activations; GELU is written with Erf (opset 17 has no Gelu operator)."""
    if function == "none":
        return x
    simple = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh"}
    if function in simple:
        return g.op(simple[function], [x], f"{name}.{function}")
    if function == "softmax":
        return g.op("Softmax", [x], f"{name}.softmax", axis=-1)
    scaled = g.op("Div", [x, g.const(f"{name}.sqrt2", np.array(np.sqrt(2.0), np.float32))], f"{name}.gelu_div")
    erf = g.op("Erf", [scaled], f"{name}.gelu_erf")
    one_plus = g.op("Add", [erf, g.const(f"{name}.one", np.array(1.0, np.float32))], f"{name}.gelu_add")
    times_x = g.op("Mul", [x, one_plus], f"{name}.gelu_mul")
    return g.op("Mul", [times_x, g.const(f"{name}.half", np.array(0.5, np.float32))], f"{name}.gelu")


def _dense(g: OnnxGraph, layer: Dense, p: Params, x: str, shape: tuple, name: str) -> str:
    weight, bias = g.const(f"{name}.weight", p["weight"]), g.const(f"{name}.bias", p["bias"])
    if len(shape) == 1:
        out = g.op("Gemm", [x, weight, bias], f"{name}.gemm")
    else:  # Gemm is 2-D only: a sequence of vectors goes through MatMul + Add
        out = g.op("Add", [g.op("MatMul", [x, weight], f"{name}.matmul"), bias], f"{name}.linear")
    return activate(g, out, layer.activation, name)


def _activation(g: OnnxGraph, layer: Activation, p: Params, x: str, shape: tuple, name: str) -> str:
    return activate(g, x, layer.function, name)


def _conv2d(g: OnnxGraph, layer: Conv2D, p: Params, x: str, shape: tuple, name: str) -> str:
    weight = g.const(f"{name}.weight", p["weight"].transpose(3, 2, 0, 1))  # HWIO → OIHW
    k, pad = layer.kernel_size, layer.padding
    return g.op("Conv", [x, weight, g.const(f"{name}.bias", p["bias"])], f"{name}.conv",
                kernel_shape=[k, k], strides=[layer.stride] * 2, pads=[pad] * 4)


def _batch_norm(g: OnnxGraph, layer: BatchNorm, p: Params, x: str, shape: tuple, name: str) -> str:
    inputs = [x] + [g.const(f"{name}.{key}", p[key]) for key in ("gamma", "beta", "mean", "var")]
    return g.op("BatchNormalization", inputs, f"{name}.batch_norm", epsilon=layer.eps)


def _global_avg_pool(g: OnnxGraph, layer: GlobalAvgPool, p: Params, x: str, shape: tuple, name: str) -> str:
    return g.op("Flatten", [g.op("GlobalAveragePool", [x], f"{name}.pool")], f"{name}.flatten", axis=1)


def _residual(g: OnnxGraph, layer: Residual, p: Params, x: str, shape: tuple, name: str) -> str:
    branches = []
    for branch in ("body", "shortcut"):
        layers, params = getattr(layer, branch), layer.branch_params(p, branch)
        branches.append(add_layers(g, layers, params, x, layer.branch_shapes(shape, branch), f"{name}.{branch}"))
    return g.op("Add", branches, f"{name}.add")


def _embedding(g: OnnxGraph, layer: Embedding, p: Params, x: str, shape: tuple, name: str) -> str:
    return g.op("Gather", [g.const(f"{name}.table", p["table"]), x], f"{name}.gather", axis=0)


def _position_embedding(g: OnnxGraph, layer: PositionEmbedding, p: Params, x: str, shape: tuple,
                        name: str) -> str:
    ints = {key: g.const(f"{name}.{key}", np.array(value, np.int64))
            for key, value in (("start", [0]), ("end", [shape[0]]), ("axis", [0]), ("type0", 0))}
    positions = g.op("Slice", [g.const(f"{name}.position", p["position"]), ints["start"], ints["end"], ints["axis"]],
                     f"{name}.positions")
    token_type = g.op("Gather", [g.const(f"{name}.token_type", p["token_type"]), ints["type0"]], f"{name}.token_type0",
                      axis=0)
    return g.op("Add", [g.op("Add", [x, positions], f"{name}.add_positions"), token_type], f"{name}.add_type")


def _layer_norm(g: OnnxGraph, layer: LayerNorm, p: Params, x: str, shape: tuple, name: str) -> str:
    inputs = [x, g.const(f"{name}.gamma", p["gamma"]), g.const(f"{name}.beta", p["beta"])]
    return g.op("LayerNormalization", inputs, f"{name}.layer_norm", axis=-1, epsilon=layer.eps)


def _self_attention(g: OnnxGraph, layer: SelfAttention, p: Params, x: str, shape: tuple, name: str) -> str:
    split = g.const(f"{name}.split_shape", np.array([0, 0, layer.heads, layer.head_dim], np.int64))
    merge = g.const(f"{name}.merge_shape", np.array([0, 0, layer.hidden], np.int64))

    def project(part: str, source: str) -> str:
        weight, bias = g.const(f"{name}.{part}.weight", p[f"{part}.weight"]), g.const(f"{name}.{part}.bias",
                                                                                      p[f"{part}.bias"])
        return g.op("Add", [g.op("MatMul", [source, weight], f"{name}.{part}.matmul"), bias], f"{name}.{part}")

    def heads(part: str, perm: list[int]) -> str:  # (batch, heads, length, head_dim), keys transposed
        reshaped = g.op("Reshape", [project(part, x), split], f"{name}.{part}.split")
        return g.op("Transpose", [reshaped], f"{name}.{part}.heads", perm=perm)

    q, k, v = heads("query", [0, 2, 1, 3]), heads("key", [0, 2, 3, 1]), heads("value", [0, 2, 1, 3])
    scale = g.const(f"{name}.scale", np.array(1.0 / np.sqrt(layer.head_dim), np.float32))
    scores = g.op("Mul", [g.op("MatMul", [q, k], f"{name}.scores"), scale], f"{name}.scaled")
    weights = g.op("Softmax", [scores], f"{name}.softmax", axis=-1)
    context = g.op("Transpose", [g.op("MatMul", [weights, v], f"{name}.context")], f"{name}.context_t",
                   perm=[0, 2, 1, 3])
    return project("output", g.op("Reshape", [context, merge], f"{name}.merge"))


def _lstm_gates(array: np.ndarray, units: int) -> np.ndarray:
    """(…, 4·units) in the spec's i, f, g, o order → ONNX's i, o, f, c order along the last axis."""
    blocks = [array[..., n * units:(n + 1) * units] for n in ONNX_GATE_ORDER]
    return np.concatenate(blocks, axis=-1)


def _lstm(g: OnnxGraph, layer: LSTM, p: Params, x: str, shape: tuple, name: str) -> str:
    units = layer.units
    w = g.const(f"{name}.W", _lstm_gates(p["kernel"], units).T[None])  # (1, 4u, input)
    r = g.const(f"{name}.R", _lstm_gates(p["recurrent_kernel"], units).T[None])  # (1, 4u, u)
    # ONNX adds an input and a recurrent bias; the spec has one, so the recurrent one is zero
    b = np.concatenate([_lstm_gates(p["bias"], units), np.zeros(4 * units, np.float32)])[None]
    time_major = g.op("Transpose", [x], f"{name}.time_major", perm=[1, 0, 2])
    lstm = g.op("LSTM", [time_major, w, r, g.const(f"{name}.B", b)], f"{name}.lstm", outputs=2, hidden_size=units)
    squeeze_axis = g.const(f"{name}.axis0", np.array([0], np.int64))
    return g.op("Squeeze", [f"{lstm}:1", squeeze_axis], f"{name}.last_hidden")  # Y_h: (1, batch, u)


def _first_token(g: OnnxGraph, layer: FirstToken, p: Params, x: str, shape: tuple, name: str) -> str:
    return g.op("Gather", [x, g.const(f"{name}.index0", np.array(0, np.int64))], f"{name}.first", axis=1)


#: One graph-writing rule per layer kind.
ONNX_RULES: dict[str, Callable[[OnnxGraph, Layer, Params, str, tuple, str], str]] = {
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


def add_layers(g: OnnxGraph, layers: tuple[Layer, ...], params: list[Params] | tuple[Params, ...], x: str,
               shapes: list[tuple], prefix: str) -> str:
    """Write a chain of layers into ``g`` starting from tensor ``x``; returns the last output name."""
    for index, (layer, arrays, shape) in enumerate(zip(layers, params, shapes, strict=False)):
        rule = layer_builder(ONNX_RULES, layer.kind, "the ONNX export")
        x = rule(g, layer, arrays, x, shape, f"{prefix}{index}")
    return x


def image_layouts(input_shape: tuple[int, ...], output_shape: tuple[int, ...]) -> tuple[bool, bool]:
    """Whether the graph's input and output need a channels-last ↔ channels-first transpose."""
    return is_image(input_shape), is_image(output_shape)
