"""What every layer kind shares: the :class:`Layer` base, the activations and the argument checks.

The kinds themselves live in :mod:`benchlib.models.layers` (image and dense) and
:mod:`benchlib.models.sequence_layers` (text); :mod:`benchlib.models.spec` chains them into a model.
Backends look a kind up in their per-kind tables with :func:`layer_builder`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from benchlib.errors import UnsupportedLayerError

#: Element-wise activation functions a spec may name; ``gelu`` is the exact erf form and
#: ``softmax`` normalises the last axis.
ACTIVATIONS = ("relu", "sigmoid", "tanh", "gelu", "softmax", "none")
#: Operations per element counted for each activation (a transcendental counts as one; softmax
#: as exp, sum and divide).
ACTIVATION_FLOPS = {"relu": 1, "sigmoid": 1, "tanh": 1, "gelu": 1, "softmax": 3, "none": 0}

#: A per-kind table's entry (a builder function; its signature is the backend's own).
Builder = TypeVar("Builder")


def layer_builder(table: Mapping[str, Builder], kind: str, builder: str) -> Builder:
    """The entry for layer ``kind`` in a backend's per-kind ``table``.

    Raises :class:`UnsupportedLayerError` naming ``builder`` (e.g. ``"jax backend"``) and the kind,
    which the worker records as ``skipped``.
    """
    try:
        return table[kind]
    except KeyError:
        raise UnsupportedLayerError(builder, kind) from None


def check_activation(activation: str) -> None:
    """Raise ``ValueError`` unless ``activation`` is one of :data:`ACTIVATIONS`."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation={activation!r} is not supported; allowed: {', '.join(ACTIVATIONS)}")


def check_positive(layer: object, *names: str) -> None:
    """Raise ``ValueError`` naming the first of ``names`` that is not a positive integer."""
    for name in names:
        value = getattr(layer, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}={value!r} must be a positive integer")


def is_image(shape: tuple[int, ...]) -> bool:
    """Whether a per-sample shape is an image (height, width, channels)."""
    return len(shape) == 3


def rows(shape: tuple[int, ...]) -> int:
    """How many vectors of the last axis a per-sample tensor holds."""
    return int(np.prod(shape[:-1], dtype=np.int64)) if len(shape) > 1 else 1


def size(shape: tuple[int, ...]) -> int:
    """Elements of a per-sample tensor."""
    return int(np.prod(shape, dtype=np.int64))


@dataclass(frozen=True)
class Layer:
    """Base class of every layer description."""

    kind: str = field(init=False, default="layer")
    #: dtype of the input this layer accepts when it is the first layer of a model
    input_dtype = "float32"

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Per-sample output shape; raises ``ValueError`` if the input shape does not fit."""
        raise NotImplementedError

    def matmul_flops(self, input_shape: tuple[int, ...]) -> int:
        """The multiply-add part of :meth:`flops` (matrix products and convolutions, two per multiply-add)."""
        return 0

    def flops(self, input_shape: tuple[int, ...]) -> int:
        """Floating-point operations per sample (a multiply-add counts as two)."""
        raise NotImplementedError

    def init_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Draw this layer's parameters as float32 arrays."""
        return {}

    def workspace_elements(self, input_shape: tuple[int, ...]) -> int:
        """Intermediate elements per sample beyond the output (im2col columns, attention scores, ...)."""
        return 0
