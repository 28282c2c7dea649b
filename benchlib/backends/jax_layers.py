"""JAX layer builders, one short function per layer kind (:data:`JAX_BUILDERS`).

Imported only once JAX is (by :class:`~benchlib.backends.jax.JaxBackend` at build time). Each
builder returns ``(params, fn)``: the spec's arrays for this layer and a pure function
``fn(params, x)``. Parameters travel as arguments of the jitted forward pass, not as constants
baked into it. Images are channels last (``lax.conv_general_dilated`` with NHWC/HWIO), like the spec.
Where JAX's defaults differ from the spec, the spec wins: ``jax.nn.gelu`` is the tanh approximation
by default, so ``approximate=False``; BatchNorm and LayerNorm (which core JAX does not provide as
layers) are written from the spec's formula with its eps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

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
Fn = Callable[[Any, jax.Array], jax.Array]
Built = tuple[Any, Fn]


def activation_function(function: str) -> Callable[[jax.Array], jax.Array]:
    """The JAX function for one of the spec's activations."""
    return {
        "relu": jax.nn.relu, "sigmoid": jax.nn.sigmoid, "tanh": jnp.tanh, "none": lambda x: x,
        "gelu": lambda x: jax.nn.gelu(x, approximate=False),
        "softmax": lambda x: jax.nn.softmax(x, axis=-1),
    }[function]


def _arrays(p: Params, *keys: str) -> dict[str, jax.Array]:
    return {key: jnp.asarray(p[key]) for key in keys}


def _dense(layer: Dense, p: Params, shape: tuple) -> Built:
    act = activation_function(layer.activation)
    return _arrays(p, "weight", "bias"), lambda q, x: act(x @ q["weight"] + q["bias"])


def _activation(layer: Activation, p: Params, shape: tuple) -> Built:
    act = activation_function(layer.function)
    return {}, lambda q, x: act(x)


def _conv2d(layer: Conv2D, p: Params, shape: tuple) -> Built:
    pad, stride = layer.padding, layer.stride

    def conv2d(q: Any, x: jax.Array) -> jax.Array:
        y = lax.conv_general_dilated(x, q["weight"], (stride, stride), [(pad, pad), (pad, pad)],
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return y + q["bias"]

    return _arrays(p, "weight", "bias"), conv2d


def _batch_norm(layer: BatchNorm, p: Params, shape: tuple) -> Built:
    eps = layer.eps

    def batch_norm(q: Any, x: jax.Array) -> jax.Array:
        return (x - q["mean"]) * lax.rsqrt(q["var"] + eps) * q["gamma"] + q["beta"]

    return _arrays(p, "gamma", "beta", "mean", "var"), batch_norm


def _global_avg_pool(layer: GlobalAvgPool, p: Params, shape: tuple) -> Built:
    return {}, lambda q, x: jnp.mean(x, axis=(1, 2))


def _residual(layer: Residual, p: Params, shape: tuple) -> Built:
    (body_params, body), (short_params, shortcut) = (
        chain(getattr(layer, b), layer.branch_params(p, b), layer.branch_shapes(shape, b))
        for b in ("body", "shortcut")
    )
    return {"body": body_params, "shortcut": short_params}, lambda q, x: body(q["body"], x) + shortcut(
        q["shortcut"], x)


def _embedding(layer: Embedding, p: Params, shape: tuple) -> Built:
    return _arrays(p, "table"), lambda q, ids: jnp.take(q["table"], ids, axis=0)


def _position_embedding(layer: PositionEmbedding, p: Params, shape: tuple) -> Built:
    return _arrays(p, "position", "token_type"), lambda q, x: x + q["position"][: x.shape[1]] + q["token_type"][0]


def _layer_norm(layer: LayerNorm, p: Params, shape: tuple) -> Built:
    eps = layer.eps

    def layer_norm(q: Any, x: jax.Array) -> jax.Array:
        mean = jnp.mean(x, axis=-1, keepdims=True)
        var = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
        return (x - mean) * lax.rsqrt(var + eps) * q["gamma"] + q["beta"]

    return _arrays(p, "gamma", "beta"), layer_norm


def _self_attention(layer: SelfAttention, p: Params, shape: tuple) -> Built:
    heads, head_dim = layer.heads, layer.head_dim
    names = ("query", "key", "value", "output")

    def self_attention(q: Any, x: jax.Array) -> jax.Array:
        batch, length, hidden = x.shape

        def project(name: str) -> jax.Array:  # (batch, length, heads, head_dim), as dot_product_attention takes
            return (x @ q[f"{name}.weight"] + q[f"{name}.bias"]).reshape(batch, length, heads, head_dim)

        context = jax.nn.dot_product_attention(project("query"), project("key"), project("value"))
        return context.reshape(batch, length, hidden) @ q["output.weight"] + q["output.bias"]

    return _arrays(p, *(f"{n}.{k}" for n in names for k in ("weight", "bias"))), self_attention


def _lstm(layer: LSTM, p: Params, shape: tuple) -> Built:
    units = layer.units

    def lstm(q: Any, x: jax.Array) -> jax.Array:
        inputs = x @ q["kernel"] + q["bias"]  # every step's input projection at once

        def step(carry: tuple, z_x: jax.Array) -> tuple:
            h, c = carry
            z = z_x + h @ q["recurrent_kernel"]
            i, f, g, o = jnp.split(z, 4, axis=-1)  # the spec's gate order
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            return (jax.nn.sigmoid(o) * jnp.tanh(c), c), None

        zeros = jnp.zeros((x.shape[0], units), x.dtype)
        (h, _), _ = lax.scan(step, (zeros, zeros), jnp.swapaxes(inputs, 0, 1))
        return h

    return _arrays(p, "kernel", "recurrent_kernel", "bias"), lstm


def _first_token(layer: FirstToken, p: Params, shape: tuple) -> Built:
    return {}, lambda q, x: x[:, 0]


#: One builder per layer kind: (layer, params, per-sample shape) → (params, fn(params, x)).
JAX_BUILDERS: dict[str, Callable[[Layer, Params, tuple], Built]] = {
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


def chain(layers: tuple[Layer, ...], params: list[Params] | tuple[Params, ...], shapes: list[tuple]) -> Built:
    """A chain of layers as one ``(params, fn)`` (an empty chain is the identity)."""
    built = []
    for layer, arrays, shape in zip(layers, params, shapes, strict=False):
        builder = layer_builder(JAX_BUILDERS, layer.kind, "jax backend")
        built.append(builder(layer, arrays, shape))
    functions = [fn for _, fn in built]

    def run(q: list, x: jax.Array) -> jax.Array:
        for fn, layer_params in zip(functions, q, strict=True):
            x = fn(layer_params, x)
        return x

    return [params for params, _ in built], run
