"""Keras layer builders, one short function per layer kind (:data:`KERAS_BUILDERS`).

Imported only once TensorFlow is (by :class:`~benchlib.backends.tensorflow.TensorFlowBackend` at
build time). Each builder applies Keras layers to a symbolic tensor of the functional API and sets
the spec's weights on them. Keras is channels last, like the spec, so images need no conversion.
Where Keras's defaults differ from the spec, the spec wins: a stride-2 ``padding='same'``
convolution pads bottom/right only, so the spec's symmetric padding is an explicit ZeroPadding2D;
BatchNorm and LayerNorm take the spec's eps (Keras: 1e-3 for both); GELU is the exact erf form.
Keras's LSTM gate order (i, f, c, o) is the spec's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

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

keras = tf.keras
Params = dict[str, np.ndarray]
Tensor = Any  # a symbolic KerasTensor


def _apply(layer: Any, x: Tensor, *weights: np.ndarray) -> Tensor:
    """Call a Keras layer (which builds it), then load the spec's weights into it."""
    y = layer(x)
    if weights:
        layer.set_weights([np.asarray(w) for w in weights])
    return y


def activation_function(function: str) -> Any:
    """The Keras activation for one of the spec's (GELU explicitly exact)."""
    if function == "gelu":
        return lambda x: keras.activations.gelu(x, approximate=False)
    return None if function == "none" else function


class PositionAndType(keras.layers.Layer):
    """BERT's position and token-type (type 0) embeddings added to the word embeddings."""

    def __init__(self, max_length: int, dim: int, type_vocab_size: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.position = self.add_weight(shape=(max_length, dim), name="position", trainable=False)
        self.token_type = self.add_weight(shape=(type_vocab_size, dim), name="token_type", trainable=False)

    def call(self, x: Tensor) -> Tensor:
        return x + self.position[: x.shape[1]] + self.token_type[0]


class FirstPosition(keras.layers.Layer):
    def call(self, x: Tensor) -> Tensor:
        return x[:, 0]


def _dense(layer: Dense, p: Params, x: Tensor, shape: tuple) -> Tensor:
    dense = keras.layers.Dense(layer.out_features, activation=activation_function(layer.activation))
    return _apply(dense, x, p["weight"], p["bias"])  # Keras kernels are (in, out), like the spec's


def _activation(layer: Activation, p: Params, x: Tensor, shape: tuple) -> Tensor:
    return keras.layers.Activation(activation_function(layer.function) or "linear")(x)


def _conv2d(layer: Conv2D, p: Params, x: Tensor, shape: tuple) -> Tensor:
    if layer.padding:
        x = keras.layers.ZeroPadding2D(layer.padding)(x)
    conv = keras.layers.Conv2D(layer.out_channels, layer.kernel_size, strides=layer.stride, padding="valid")
    return _apply(conv, x, p["weight"], p["bias"])  # HWIO, like the spec's


def _batch_norm(layer: BatchNorm, p: Params, x: Tensor, shape: tuple) -> Tensor:
    norm = keras.layers.BatchNormalization(epsilon=layer.eps)
    return _apply(norm, x, p["gamma"], p["beta"], p["mean"], p["var"])


def _global_avg_pool(layer: GlobalAvgPool, p: Params, x: Tensor, shape: tuple) -> Tensor:
    return keras.layers.GlobalAveragePooling2D()(x)


def _residual(layer: Residual, p: Params, x: Tensor, shape: tuple) -> Tensor:
    branches = [chain(getattr(layer, b), layer.branch_params(p, b), layer.branch_shapes(shape, b), x)
                for b in ("body", "shortcut")]
    return keras.layers.Add()(branches)


def _embedding(layer: Embedding, p: Params, x: Tensor, shape: tuple) -> Tensor:
    return _apply(keras.layers.Embedding(layer.vocab_size, layer.dim), x, p["table"])


def _position_embedding(layer: PositionEmbedding, p: Params, x: Tensor, shape: tuple) -> Tensor:
    added = PositionAndType(layer.max_length, layer.dim, layer.type_vocab_size)
    return _apply(added, x, p["position"], p["token_type"])


def _layer_norm(layer: LayerNorm, p: Params, x: Tensor, shape: tuple) -> Tensor:
    return _apply(keras.layers.LayerNormalization(epsilon=layer.eps), x, p["gamma"], p["beta"])


def _self_attention(layer: SelfAttention, p: Params, x: Tensor, shape: tuple) -> Tensor:
    heads, head_dim, hidden = layer.heads, layer.head_dim, layer.hidden
    attention = keras.layers.MultiHeadAttention(num_heads=heads, key_dim=head_dim)
    y = attention(x, x)
    weights = []
    for name in ("query", "key", "value"):  # kernels (hidden, heads, head_dim), biases (heads, head_dim)
        weights += [p[f"{name}.weight"].reshape(hidden, heads, head_dim), p[f"{name}.bias"].reshape(heads, head_dim)]
    weights += [p["output.weight"].reshape(heads, head_dim, hidden), p["output.bias"]]
    attention.set_weights(weights)
    return y


def _lstm(layer: LSTM, p: Params, x: Tensor, shape: tuple) -> Tensor:
    lstm = keras.layers.LSTM(layer.units)  # returns the last hidden state
    return _apply(lstm, x, p["kernel"], p["recurrent_kernel"], p["bias"])


def _first_token(layer: FirstToken, p: Params, x: Tensor, shape: tuple) -> Tensor:
    return FirstPosition()(x)


#: One builder per layer kind: (layer, params, symbolic input, per-sample shape) → symbolic output.
KERAS_BUILDERS: dict[str, Callable[[Layer, Params, Tensor, tuple], Tensor]] = {
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


def chain(layers: tuple[Layer, ...], params: list[Params] | tuple[Params, ...], shapes: list[tuple],
          x: Tensor) -> Tensor:
    """Apply a chain of layers to ``x`` (an empty chain returns ``x``)."""
    for layer, arrays, shape in zip(layers, params, shapes, strict=False):
        builder = layer_builder(KERAS_BUILDERS, layer.kind, "tensorflow backend")
        x = builder(layer, arrays, x, shape)
    return x


def build_model(spec) -> Any:  # noqa: ANN001 - a ModelSpec
    """The whole spec as a functional Keras model with the spec's weights."""
    inputs = keras.Input(shape=spec.input_shape, dtype=spec.input_dtype)
    outputs = chain(spec.layers, spec.params, spec.shapes()[:-1], inputs)
    return keras.Model(inputs, outputs, name=spec.name)
