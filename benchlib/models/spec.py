"""Framework-neutral model descriptions.

A :class:`ModelSpec` is data: an ordered tuple of layers, the per-sample input shape and a seed.
Weights are drawn once from the seed, so every backend that builds the spec gets exactly the same
float32 numbers. The layer kinds live in :mod:`benchlib.models.layers` and
:mod:`benchlib.models.sequence_layers` (their base in :mod:`benchlib.models.layer_base`); a chain
of them, where a :class:`~benchlib.models.layers.Residual` layer holds the branches of a residual
block, describes an MLP, a ResNet, a transformer encoder or a recurrent text classifier. Backends
that do not know a kind raise :class:`~benchlib.errors.UnsupportedLayerError`, and no backend's
public interface changes.

Shapes are per sample (no batch axis). A per-sample shape of rank 3 is an image in
height × width × channels order (channels last, as Keras and JAX store images); backends whose
natural layout is channels first (PyTorch, ONNX) convert inside the model, so that the cost of the
conversion is part of the timed call, as a user of that framework would pay it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import cached_property

import numpy as np

from benchlib.models import layers as image_layers
from benchlib.models import sequence_layers
from benchlib.models.layer_base import Layer, size

#: Outputs may never be checked more loosely than this (absolute error against float64).
MAX_TOLERANCE = 1e-4
#: The modules that define the layer kinds (a spec read from JSON may hold any of them).
LAYER_MODULES = (image_layers, sequence_layers)


@dataclass(frozen=True)
class ModelSpec:
    """A network described as data, with deterministic float32 parameters.

    ``tolerance`` is the largest absolute error against the float64 reference accepted on this
    model's outputs (at most :data:`MAX_TOLERANCE`); ``tolerance_reason`` says why it is what it is.
    ``batch_sizes`` are the model's default batch sizes (sweeps, notebooks), ``quick_batch_sizes``
    the short runs' subset (``run`` defaults to its smallest and largest) and ``verify_batch_sizes``
    the ones verification checks.
    """

    name: str
    input_shape: tuple[int, ...]
    layers: tuple[Layer, ...]
    seed: int = 0
    description: str = ""
    dtype: str = "float32"
    tolerance: float = 1e-5
    tolerance_reason: str = "float32 rounding of a few accumulations"
    batch_sizes: tuple[int, ...] = (1, 1000)
    quick_batch_sizes: tuple[int, ...] = (1, 1000)
    verify_batch_sizes: tuple[int, ...] = (1, 7, 1000)

    def __post_init__(self) -> None:
        if not self.layers:
            raise ValueError(f"layers=() of model {self.name!r} is empty; allowed: one or more layers")
        if not 0 < self.tolerance <= MAX_TOLERANCE:
            raise ValueError(f"tolerance={self.tolerance!r} of model {self.name!r} is invalid; "
                             f"allowed: more than 0 and at most {MAX_TOLERANCE:g}")
        for name in ("batch_sizes", "quick_batch_sizes", "verify_batch_sizes"):
            sizes = getattr(self, name)
            if not sizes or any(isinstance(b, bool) or not isinstance(b, int) or b < 1 for b in sizes):
                raise ValueError(f"{name}={sizes!r} of model {self.name!r} is invalid; "
                                 "allowed: a non-empty tuple of positive integers")
        shape = tuple(self.input_shape)
        for layer in self.layers:
            shape = layer.output_shape(shape)
        object.__setattr__(self, "_output_shape", shape)

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Per-sample output shape."""
        return self._output_shape  # type: ignore[attr-defined]

    @property
    def input_dtype(self) -> str:
        """dtype of the input batch: ``int64`` token ids for text models, else ``float32``."""
        return self.layers[0].input_dtype

    def shapes(self) -> list[tuple[int, ...]]:
        """Per-sample input shape of every layer, then the output shape."""
        shapes = [tuple(self.input_shape)]
        for layer in self.layers:
            shapes.append(layer.output_shape(shapes[-1]))
        return shapes

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

    @property
    def run_batch_sizes(self) -> tuple[int, ...]:
        """``run``'s default: the smallest and the largest of the quick batch sizes."""
        return tuple(dict.fromkeys((min(self.quick_batch_sizes), max(self.quick_batch_sizes))))

    def parameter_count(self) -> int:
        """Number of parameters (every array element)."""
        return sum(array.size for arrays in self.params for array in arrays.values())

    def flops_per_sample(self) -> int:
        """Floating-point operations for one sample through the whole network."""
        shapes = self.shapes()
        return sum(layer.flops(shape) for layer, shape in zip(self.layers, shapes, strict=False))

    def matmul_flops_per_sample(self) -> int:
        """The multiply-add part of :meth:`flops_per_sample` (what profilers such as PyTorch's count)."""
        shapes = self.shapes()
        return sum(layer.matmul_flops(shape) for layer, shape in zip(self.layers, shapes, strict=False))

    def activation_bytes_per_sample(self) -> int:
        """float32 bytes of every layer's output and intermediates for one sample (an upper bound on
        what one call keeps alive: frameworks free most of it as they go)."""
        shapes = self.shapes()
        workspace = sum(layer.workspace_elements(shape) for layer, shape in zip(self.layers, shapes, strict=False))
        return 4 * (sum(size(shape) for shape in shapes) + workspace)

    def memory_estimate_bytes(self, batch_size: int) -> int:
        """Rough working-set estimate of one float32 call: parameters plus the batch's activations."""
        return 4 * self.parameter_count() + batch_size * self.activation_bytes_per_sample()

    def batch_memory_problem(self, batch_size: int, available_bytes: int) -> str | None:
        """Why ``batch_size`` will not fit in ``available_bytes`` (with the estimate), or ``None``."""
        needed = self.memory_estimate_bytes(batch_size)
        if needed <= available_bytes:
            return None
        largest = max(1, (available_bytes - 4 * self.parameter_count()) // self.activation_bytes_per_sample())
        return (f"batch size {batch_size} of model {self.name!r} needs about {needed / 2**30:.1f} GiB in float32 "
                f"(parameters and activations), more than the {available_bytes / 2**30:.1f} GiB available; "
                f"allowed: at most about {largest}")

    def architecture(self) -> dict:
        """The spec without its weights, as JSON-friendly data."""
        return {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "input_dtype": self.input_dtype,
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
        """A batch for this model: float32 uniform in [0, 1) like the article's input, or int64
        token ids uniform over the vocabulary for a model that starts with an embedding."""
        rng = np.random.default_rng(seed)
        shape = (batch_size, *self.input_shape)
        if self.input_dtype == "int64":
            vocab = self.layers[0].vocab_size  # type: ignore[attr-defined]
            return rng.integers(0, vocab, size=shape, dtype=np.int64)
        return rng.random(shape, dtype=np.float32)


def _layer_classes() -> dict[str, type[Layer]]:
    """Every layer kind's class, by ``kind`` (the subclasses of :class:`Layer` in :data:`LAYER_MODULES`)."""
    classes: dict[str, type[Layer]] = {}
    pending = list(Layer.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        classes[cls.__dataclass_fields__["kind"].default] = cls  # type: ignore[attr-defined]
    return classes


def _from_json(value: object) -> object:
    # JSON made every tuple a list and every nested layer a dict with its kind
    if isinstance(value, dict) and "kind" in value:
        return layer_from_dict(value)
    if isinstance(value, list):
        return tuple(_from_json(item) for item in value)
    return value


def layer_from_dict(data: Mapping[str, object]) -> Layer:
    """The layer ``dataclasses.asdict`` (then JSON) made ``data`` from; an unknown kind names the known ones."""
    classes = _layer_classes()
    kind = data.get("kind")
    if kind not in classes:
        raise ValueError(f"kind={kind!r} is not a layer kind; allowed: {', '.join(sorted(classes))}")
    cls = classes[kind]  # type: ignore[index]
    init = {name for name, spec_field in cls.__dataclass_fields__.items() if spec_field.init}  # type: ignore[attr-defined]
    return cls(**{name: _from_json(value) for name, value in data.items() if name in init})


def spec_from_architecture(architecture: Mapping[str, object], content_hash: str | None = None) -> ModelSpec:
    """The spec :meth:`ModelSpec.architecture` describes (weights redrawn from its seed), for a process that
    gets the model as JSON. With ``content_hash``, a rebuilt spec whose weights differ is refused."""
    spec = ModelSpec(name=str(architecture["name"]), input_shape=tuple(architecture["input_shape"]),  # type: ignore[arg-type]
                     layers=tuple(layer_from_dict(layer) for layer in architecture["layers"]),  # type: ignore[union-attr]
                     seed=int(architecture["seed"]), dtype=str(architecture["dtype"]))  # type: ignore[arg-type]
    if content_hash is not None and spec.content_hash != content_hash:
        raise ValueError(f"content_hash={content_hash!r} of model {spec.name!r} does not match the rebuilt spec "
                         f"({spec.content_hash}); allowed: the hash of the architecture sent")
    return spec
