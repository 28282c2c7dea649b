"""Framework-neutral model descriptions.

A :class:`ModelSpec` is data: an ordered tuple of layers, the per-sample input shape and a seed.
Weights are drawn once from the seed, so every backend that builds the spec gets exactly the same
float32 numbers. New layer kinds (convolution, attention) are added as new :class:`Layer`
subclasses; backends that do not know a kind raise :class:`UnsupportedLayerError`, and no
backend's public interface changes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from functools import cached_property

import numpy as np

ACTIVATIONS = ("relu", "sigmoid", "none")


class UnsupportedLayerError(NotImplementedError):
    """A backend was asked to build a layer kind it does not implement."""


@dataclass(frozen=True)
class Layer:
    """Base class of every layer description."""

    kind: str = field(init=False, default="layer")

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        raise NotImplementedError

    def flops(self, input_shape: tuple[int, ...]) -> int:
        """Floating-point operations per sample (a multiply-add counts as two)."""
        raise NotImplementedError

    def init_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Draw this layer's parameters as float32 arrays."""
        raise NotImplementedError


@dataclass(frozen=True)
class Dense(Layer):
    """Fully connected layer ``y = act(x @ weight + bias)``; weight has shape (in, out)."""

    in_features: int
    out_features: int
    activation: str = "relu"
    kind: str = field(init=False, default="dense")

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"activation={self.activation!r} is not supported; allowed: {', '.join(ACTIVATIONS)}"
            )
        for name in ("in_features", "out_features"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive integer")

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if input_shape[-1] != self.in_features:
            raise ValueError(f"Dense expects {self.in_features} features, got shape {input_shape}")
        return (*input_shape[:-1], self.out_features)

    def flops(self, input_shape: tuple[int, ...]) -> int:
        rows = int(np.prod(input_shape[:-1], dtype=np.int64)) if len(input_shape) > 1 else 1
        matmul = 2 * self.in_features * self.out_features
        # bias add and the activation: one operation per output element each
        elementwise = self.out_features * (2 if self.activation != "none" else 1)
        return rows * (matmul + elementwise)

    def init_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        # He (fan-in) scaling keeps ReLU activations at a stable magnitude through the stack;
        # small non-zero biases so that a backend that drops the bias is caught by verification.
        scale = np.sqrt(2.0 / self.in_features)
        weight = rng.standard_normal((self.in_features, self.out_features)) * scale
        bias = rng.uniform(-0.1, 0.1, size=self.out_features)
        return {"weight": weight.astype(np.float32), "bias": bias.astype(np.float32)}


@dataclass(frozen=True)
class ModelSpec:
    """A network described as data, with deterministic float32 parameters."""

    name: str
    input_shape: tuple[int, ...]
    layers: tuple[Layer, ...]
    seed: int = 0
    description: str = ""
    dtype: str = "float32"

    def __post_init__(self) -> None:
        shape = self.input_shape
        for layer in self.layers:
            shape = layer.output_shape(shape)
        object.__setattr__(self, "_output_shape", shape)

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Per-sample output shape."""
        return self._output_shape  # type: ignore[attr-defined]

    @cached_property
    def params(self) -> tuple[dict[str, np.ndarray], ...]:
        """One dict of float32 arrays per layer, drawn once from ``seed`` (read-only)."""
        rng = np.random.default_rng(self.seed)
        params = []
        for layer in self.layers:
            arrays = layer.init_params(rng)
            for array in arrays.values():
                array.setflags(write=False)
            params.append(arrays)
        return tuple(params)

    def flops_per_sample(self) -> int:
        """Floating-point operations for one sample through the whole network."""
        total, shape = 0, self.input_shape
        for layer in self.layers:
            total += layer.flops(shape)
            shape = layer.output_shape(shape)
        return total

    def architecture(self) -> dict:
        """The spec without its weights, as JSON-friendly data."""
        return {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "dtype": self.dtype,
            "seed": self.seed,
            "layers": [asdict(layer) for layer in self.layers],
        }

    @cached_property
    def content_hash(self) -> str:
        """Short SHA-256 over the architecture and every parameter byte."""
        digest = hashlib.sha256(json.dumps(self.architecture(), sort_keys=True).encode())
        for arrays in self.params:
            for key in sorted(arrays):
                digest.update(key.encode())
                digest.update(np.ascontiguousarray(arrays[key]).tobytes())
        return digest.hexdigest()[:16]

    def random_input(self, batch_size: int, seed: int | None = None) -> np.ndarray:
        """A float32 batch drawn uniformly from [0, 1), like the article's input."""
        rng = np.random.default_rng(seed)
        return rng.random((batch_size, *self.input_shape), dtype=np.float32)
