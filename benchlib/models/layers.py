"""The layer kinds a :class:`~benchlib.models.spec.ModelSpec` is made of.

Every kind is a frozen dataclass: its hyper-parameters, its per-sample output shape, its FLOPs
per sample (with the multiply-add part separately) and how its float32 parameters are drawn.
Parameter layouts are the spec's own and are documented on each kind; every backend converts them
to its framework's layout (transposes, gate orders) when it builds the layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from benchlib.models.layer_base import (
    ACTIVATION_FLOPS,
    Layer,
    check_activation,
    check_positive,
    is_image,
    rows,
    size,
)


def _bias(rng: np.random.Generator, n: int) -> np.ndarray:
    # small non-zero biases, so that a backend that drops a bias is caught by verification
    return rng.uniform(-0.1, 0.1, size=n).astype(np.float32)


def _needs(kind: str, input_shape: tuple[int, ...], rank: tuple[int, ...], last: int | None = None) -> None:
    if len(input_shape) not in rank or (last is not None and input_shape[-1] != last):
        wanted = " or ".join(str(r) for r in rank)
        width = f" with last axis {last}" if last is not None else ""
        raise ValueError(f"{kind} expects a per-sample input of rank {wanted}{width}, got shape {input_shape}")


@dataclass(frozen=True)
class Dense(Layer):
    """Fully connected layer ``y = act(x @ weight + bias)`` on the last axis; weight is (in, out).

    Accepts a vector or a sequence of vectors (per-sample rank 1 or 2), not an image.
    """

    in_features: int
    out_features: int
    activation: str = "relu"
    kind: str = field(init=False, default="dense")

    def __post_init__(self) -> None:
        check_activation(self.activation)
        check_positive(self, "in_features", "out_features")

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if input_shape[-1:] != (self.in_features,):
            raise ValueError(f"Dense expects {self.in_features} features, got shape {input_shape}")
        _needs("dense", input_shape, (1, 2))
        return (*input_shape[:-1], self.out_features)

    def matmul_flops(self, input_shape: tuple[int, ...]) -> int:
        return rows(input_shape) * 2 * self.in_features * self.out_features

    def flops(self, input_shape: tuple[int, ...]) -> int:
        # bias add and the activation, per output element
        elementwise = self.out_features * (1 + ACTIVATION_FLOPS[self.activation])
        return self.matmul_flops(input_shape) + rows(input_shape) * elementwise

    def init_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        # He (fan-in) scaling keeps ReLU activations at a stable magnitude through the stack.
        scale = np.sqrt(2.0 / self.in_features)
        weight = rng.standard_normal((self.in_features, self.out_features)) * scale
        bias = rng.uniform(-0.1, 0.1, size=self.out_features)
        return {"weight": weight.astype(np.float32), "bias": bias.astype(np.float32)}


@dataclass(frozen=True)
class Activation(Layer):
    """An activation on its own (``softmax`` normalises the last axis and needs a non-image input)."""

    function: str
    kind: str = field(init=False, default="activation")

    def __post_init__(self) -> None:
        check_activation(self.function)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if self.function == "softmax" and is_image(input_shape):
            raise ValueError(f"softmax needs a vector or sequence input, got image shape {input_shape}")
        return input_shape

    def flops(self, input_shape: tuple[int, ...]) -> int:
        return size(input_shape) * ACTIVATION_FLOPS[self.function]


@dataclass(frozen=True)
class Conv2D(Layer):
    """2-D convolution of an image (height, width, channels) with symmetric zero padding.

    weight is (kernel, kernel, in_channels, out_channels) (HWIO); ``padding`` zeros on every side.
    Explicit symmetric padding is what PyTorch and ONNX express directly; Keras's ``padding='same'``
    pads a stride-2 convolution on the bottom/right only, so the Keras backend pads explicitly.
    """

    in_channels: int
    out_channels: int
    kernel_size: int
    stride: int = 1
    padding: int = 0
    kind: str = field(init=False, default="conv2d")

    def __post_init__(self) -> None:
        check_positive(self, "in_channels", "out_channels", "kernel_size", "stride")
        if isinstance(self.padding, bool) or not isinstance(self.padding, int) or self.padding < 0:
            raise ValueError(f"padding={self.padding!r} must be a non-negative integer")

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        _needs("conv2d", input_shape, (3,), self.in_channels)
        height, width = (
            (n + 2 * self.padding - self.kernel_size) // self.stride + 1 for n in input_shape[:2]
        )
        if height < 1 or width < 1:
            raise ValueError(f"conv2d kernel {self.kernel_size} does not fit input shape {input_shape}")
        return (height, width, self.out_channels)

    def matmul_flops(self, input_shape: tuple[int, ...]) -> int:
        out = self.output_shape(input_shape)
        return rows(out) * 2 * self.kernel_size**2 * self.in_channels * self.out_channels

    def flops(self, input_shape: tuple[int, ...]) -> int:
        return self.matmul_flops(input_shape) + size(self.output_shape(input_shape))  # + bias

    def workspace_elements(self, input_shape: tuple[int, ...]) -> int:
        out = self.output_shape(input_shape)
        return rows(out) * self.kernel_size**2 * self.in_channels  # im2col columns

    def init_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        fan_in = self.kernel_size**2 * self.in_channels
        shape = (self.kernel_size, self.kernel_size, self.in_channels, self.out_channels)
        weight = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
        return {"weight": weight.astype(np.float32), "bias": _bias(rng, self.out_channels)}


@dataclass(frozen=True)
class BatchNorm(Layer):
    """Batch normalisation in inference form over the last (channel) axis of an image or a vector:
    ``(x - mean) / sqrt(var + eps) * gamma + beta``. ``eps`` is the spec's (Keras's default 1e-3;
    PyTorch's default is 1e-5, so the PyTorch backend sets it)."""

    channels: int
    eps: float = 1e-3
    kind: str = field(init=False, default="batch_norm")

    def __post_init__(self) -> None:
        check_positive(self, "channels")
        if not 0 < self.eps < 1:
            raise ValueError(f"eps={self.eps!r} is invalid; allowed: a number between 0 and 1")

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        _needs("batch_norm", input_shape, (1, 3), self.channels)
        return input_shape

    def flops(self, input_shape: tuple[int, ...]) -> int:
        return 2 * size(input_shape)  # folded into one scale and one shift per element

    def init_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        n = self.channels
        return {
            "gamma": rng.uniform(0.8, 1.2, n).astype(np.float32),
            "beta": _bias(rng, n),
            "mean": rng.uniform(-0.1, 0.1, n).astype(np.float32),
            "var": rng.uniform(0.5, 1.5, n).astype(np.float32),
        }


@dataclass(frozen=True)
class GlobalAvgPool(Layer):
    """Mean over height and width of an image: (height, width, channels) → (channels,)."""

    kind: str = field(init=False, default="global_avg_pool")

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        _needs("global_avg_pool", input_shape, (3,))
        return (input_shape[-1],)

    def flops(self, input_shape: tuple[int, ...]) -> int:
        return size(input_shape) + input_shape[-1]  # sums, then one divide per channel


@dataclass(frozen=True)
class Residual(Layer):
    """``body(x) + shortcut(x)``: two chains of layers from the same input, added.

    An empty ``shortcut`` is the identity. Parameters are stored flat with the branch and position
    in the key (``body.0.weight``, ``shortcut.0.bias``); :meth:`branch_params` splits them.
    """

    body: tuple[Layer, ...]
    shortcut: tuple[Layer, ...] = ()
    kind: str = field(init=False, default="residual")

    def __post_init__(self) -> None:
        if not self.body:
            raise ValueError("body=() is empty; allowed: one or more layers")

    def _branch_shapes(self, layers: tuple[Layer, ...], shape: tuple[int, ...]) -> list[tuple[int, ...]]:
        shapes = [shape]
        for layer in layers:
            shapes.append(layer.output_shape(shapes[-1]))
        return shapes

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        body = self._branch_shapes(self.body, input_shape)[-1]
        shortcut = self._branch_shapes(self.shortcut, input_shape)[-1]
        if body != shortcut:
            raise ValueError(f"residual branches disagree: body gives {body}, shortcut gives {shortcut}")
        return body

    def _sum(self, method: str, input_shape: tuple[int, ...]) -> int:
        total = 0
        for layers in (self.body, self.shortcut):
            shapes = self._branch_shapes(layers, input_shape)
            total += sum(getattr(layer, method)(shape) for layer, shape in zip(layers, shapes, strict=False))
        return total

    def matmul_flops(self, input_shape: tuple[int, ...]) -> int:
        return self._sum("matmul_flops", input_shape)

    def flops(self, input_shape: tuple[int, ...]) -> int:
        return self._sum("flops", input_shape) + size(self.output_shape(input_shape))  # + the add

    def workspace_elements(self, input_shape: tuple[int, ...]) -> int:
        total = 0
        for branch in ("body", "shortcut"):
            layers = getattr(self, branch)
            for layer, shape in zip(layers, self._branch_shapes(layers, input_shape), strict=False):
                total += size(layer.output_shape(shape)) + layer.workspace_elements(shape)
        return total

    def init_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        params = {}
        for branch in ("body", "shortcut"):
            for index, layer in enumerate(getattr(self, branch)):
                for key, array in layer.init_params(rng).items():
                    params[f"{branch}.{index}.{key}"] = array
        return params

    def branch_params(self, params: dict[str, np.ndarray], branch: str) -> list[dict[str, np.ndarray]]:
        """The per-layer parameter dicts of ``branch`` ("body" or "shortcut")."""
        layers = getattr(self, branch)
        split: list[dict[str, np.ndarray]] = [{} for _ in layers]
        for key, array in params.items():
            name, index, rest = key.split(".", 2)
            if name == branch:
                split[int(index)][rest] = array
        return split

    def branch_shapes(self, input_shape: tuple[int, ...], branch: str) -> list[tuple[int, ...]]:
        """Per-sample input shape of every layer of ``branch``."""
        return self._branch_shapes(getattr(self, branch), input_shape)[:-1]
