"""PyTorch layer builders, one short function per layer kind (:data:`TORCH_BUILDERS`).

Imported only once torch is (by :class:`~benchlib.backends.pytorch.PyTorchBackend` at build time).
Each builder returns a ``torch.nn.Module`` holding the spec's weights, converted to PyTorch's
layouts: Linear weights are (out, in), convolutions OIHW, and images run channels first. The spec's
channels-last image becomes channels first through ``permute``, a view whose strides PyTorch's
convolutions take as the channels-last memory format (no copy), as a PyTorch user would pass NHWC
data. Where PyTorch's defaults differ from the spec, the spec wins: BatchNorm eps (1e-5 → the
spec's), GELU (exact erf, ``approximate="none"``), LSTM biases (PyTorch adds two; the second is 0).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

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


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(array, dtype=np.float32, order="C"))


def _load(module: nn.Module, **tensors: np.ndarray) -> nn.Module:
    """Copy arrays into the module's parameters and buffers of the same names."""
    with torch.no_grad():
        for name, array in tensors.items():
            getattr(module, name).copy_(_tensor(array))
    return module


def activation_module(function: str, image: bool = False) -> nn.Module:
    """The module for one of the spec's activations."""
    modules: dict[str, Callable[[], nn.Module]] = {
        "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "none": nn.Identity,
        "gelu": lambda: nn.GELU(approximate="none"),
        "softmax": lambda: nn.Softmax(dim=1 if image else -1),
    }
    return modules[function]()


class Permute(nn.Module):
    """A layout change (channels last ↔ channels first) as a view."""

    def __init__(self, *dims: int) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(*self.dims)


class ResidualBlock(nn.Module):
    def __init__(self, body: nn.Module, shortcut: nn.Module) -> None:
        super().__init__()
        self.body, self.shortcut = body, shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


class PositionAndType(nn.Module):
    def __init__(self, position: np.ndarray, token_type: np.ndarray) -> None:
        super().__init__()
        self.position = nn.Parameter(_tensor(position), requires_grad=False)
        self.token_type = nn.Parameter(_tensor(token_type), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.position[: x.shape[1]] + self.token_type[0]


class MultiHeadSelfAttention(nn.Module):
    """Linear q, k, v, output projections around ``scaled_dot_product_attention`` (as transformers
    libraries build BERT for PyTorch)."""

    def __init__(self, layer: SelfAttention, p: Params) -> None:
        super().__init__()
        self.heads, self.head_dim = layer.heads, layer.head_dim
        for name in ("query", "key", "value", "output"):
            linear = nn.Linear(layer.hidden, layer.hidden)
            setattr(self, name, _load(linear, weight=p[f"{name}.weight"].T, bias=p[f"{name}.bias"]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, hidden = x.shape

        def heads(linear: nn.Module) -> torch.Tensor:
            return linear(x).view(batch, length, self.heads, self.head_dim).transpose(1, 2)

        context = nn.functional.scaled_dot_product_attention(heads(self.query), heads(self.key), heads(self.value))
        return self.output(context.transpose(1, 2).reshape(batch, length, hidden))


class LastHidden(nn.Module):
    """``nn.LSTM`` returning the last hidden state of its single layer."""

    def __init__(self, lstm: nn.LSTM) -> None:
        super().__init__()
        self.lstm = lstm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(x)
        return hidden[-1]


class FirstPosition(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 0]


def _dense(layer: Dense, p: Params, shape: tuple) -> nn.Module:
    linear = _load(nn.Linear(layer.in_features, layer.out_features), weight=p["weight"].T, bias=p["bias"])
    return nn.Sequential(linear, activation_module(layer.activation)) if layer.activation != "none" else linear


def _activation(layer: Activation, p: Params, shape: tuple) -> nn.Module:
    return activation_module(layer.function, is_image(shape))


def _conv2d(layer: Conv2D, p: Params, shape: tuple) -> nn.Module:
    conv = nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride, layer.padding)
    return _load(conv, weight=p["weight"].transpose(3, 2, 0, 1), bias=p["bias"])  # HWIO → OIHW


def _batch_norm(layer: BatchNorm, p: Params, shape: tuple) -> nn.Module:
    kind = nn.BatchNorm2d if is_image(shape) else nn.BatchNorm1d
    return _load(kind(layer.channels, eps=layer.eps), weight=p["gamma"], bias=p["beta"],
                 running_mean=p["mean"], running_var=p["var"])


def _global_avg_pool(layer: GlobalAvgPool, p: Params, shape: tuple) -> nn.Module:
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())


def _residual(layer: Residual, p: Params, shape: tuple) -> nn.Module:
    branches = [chain(getattr(layer, b), layer.branch_params(p, b), layer.branch_shapes(shape, b))
                for b in ("body", "shortcut")]
    return ResidualBlock(*branches)


def _embedding(layer: Embedding, p: Params, shape: tuple) -> nn.Module:
    return _load(nn.Embedding(layer.vocab_size, layer.dim), weight=p["table"])


def _position_embedding(layer: PositionEmbedding, p: Params, shape: tuple) -> nn.Module:
    return PositionAndType(p["position"], p["token_type"])


def _layer_norm(layer: LayerNorm, p: Params, shape: tuple) -> nn.Module:
    return _load(nn.LayerNorm(layer.dim, eps=layer.eps), weight=p["gamma"], bias=p["beta"])


def _self_attention(layer: SelfAttention, p: Params, shape: tuple) -> nn.Module:
    return MultiHeadSelfAttention(layer, p)


def _lstm(layer: LSTM, p: Params, shape: tuple) -> nn.Module:
    # PyTorch's gate order (i, f, g, o) is the spec's: only transposes, and a zero second bias
    lstm = _load(nn.LSTM(layer.input_size, layer.units, batch_first=True),
                 weight_ih_l0=p["kernel"].T, weight_hh_l0=p["recurrent_kernel"].T,
                 bias_ih_l0=p["bias"], bias_hh_l0=np.zeros_like(p["bias"]))
    return LastHidden(lstm)


def _first_token(layer: FirstToken, p: Params, shape: tuple) -> nn.Module:
    return FirstPosition()


#: One module builder per layer kind.
TORCH_BUILDERS: dict[str, Callable[[Layer, Params, tuple], nn.Module]] = {
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


def chain(layers: tuple[Layer, ...], params: list[Params] | tuple[Params, ...], shapes: list[tuple]) -> nn.Module:
    """A chain of layers as ``nn.Sequential`` (an empty chain is ``nn.Identity``)."""
    modules = []
    for layer, arrays, shape in zip(layers, params, shapes, strict=False):
        builder = layer_builder(TORCH_BUILDERS, layer.kind, "pytorch backend")
        modules.append(builder(layer, arrays, shape))
    return nn.Sequential(*modules) if modules else nn.Identity()


def build_model(spec) -> nn.Module:  # noqa: ANN001 - a ModelSpec
    """The whole spec as one module in eval mode, without gradients, taking the spec's layout."""
    shapes = spec.shapes()
    modules = [chain(spec.layers, spec.params, shapes[:-1])]
    if is_image(shapes[0]):
        modules.insert(0, Permute(0, 3, 1, 2))  # NHWC batch → NCHW view (channels-last memory)
    if is_image(shapes[-1]):
        modules.append(Permute(0, 2, 3, 1))
    model = nn.Sequential(*modules).eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model
