"""Names → backend classes, resolved lazily so that no framework is imported up front."""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from benchlib.backends.base import Backend, BackendUnavailableError
from benchlib.models.spec import ModelSpec


@dataclass(frozen=True)
class BackendEntry:
    """Where a backend lives and what it needs installed."""

    name: str
    target: str  # "module:Class" inside benchlib
    modules: tuple[str, ...]  # top-level modules that must be importable
    requirement: str  # what to pip install


#: The article's order (PyTorch, TensorFlow, JAX, ONNX, OpenVINO), with the NumPy baseline first and
#: LiteRT, TensorFlow's deployment runtime, next to TensorFlow.
REGISTRY: dict[str, BackendEntry] = {
    entry.name: entry
    for entry in (
        BackendEntry("numpy", "benchlib.backends.numpy:NumpyBackend", ("numpy",), "numpy"),
        BackendEntry("pytorch", "benchlib.backends.pytorch:PyTorchBackend", ("torch",), "torch"),
        BackendEntry("tensorflow", "benchlib.backends.tensorflow:TensorFlowBackend", ("tensorflow",),
                     "tensorflow-cpu"),
        BackendEntry("litert", "benchlib.backends.litert:LiteRtBackend", ("ai_edge_litert", "tensorflow"),
                     "ai-edge-litert tensorflow-cpu"),
        BackendEntry("jax", "benchlib.backends.jax:JaxBackend", ("jax", "jaxlib"), "jax jaxlib"),
        BackendEntry("onnxruntime", "benchlib.backends.onnxruntime:OnnxRuntimeBackend",
                     ("onnxruntime", "onnx"), "onnxruntime onnx"),
        BackendEntry("openvino", "benchlib.backends.openvino:OpenVinoBackend", ("openvino", "onnx"),
                     "openvino onnx"),
    )
}

BACKEND_NAMES: tuple[str, ...] = tuple(REGISTRY)


def get_entry(name: str) -> BackendEntry:
    """The registry entry for ``name``; unknown names list the valid ones."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"backend={name!r} is unknown; allowed: {', '.join(BACKEND_NAMES)}") from None


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing_requirement(name: str) -> str | None:
    """The requirement to install for backend ``name``, or ``None`` if everything is there."""
    entry = get_entry(name)
    missing = [module for module in entry.modules if not _importable(module)]
    return entry.requirement if missing else None


def available_backends() -> list[str]:
    """Backends whose frameworks are installed, found without importing them."""
    return [name for name in BACKEND_NAMES if missing_requirement(name) is None]


def get_backend_class(name: str) -> type[Backend]:
    """The backend class for ``name`` (imports benchlib's backend module, not the framework)."""
    entry = get_entry(name)
    module_name, class_name = entry.target.split(":")
    return getattr(importlib.import_module(module_name), class_name)


def create_backend(
    name: str, spec: ModelSpec, threads: int | None = None, variant: str | None = None, precision: str = "fp32"
) -> Backend:
    """Instantiate backend ``name``; raises :class:`BackendUnavailableError` if its framework is missing.

    Arguments are checked here, where they enter, with the CLI's style of message.
    """
    if not isinstance(name, str):
        raise TypeError(f"name={name!r} ({type(name).__name__}) is invalid; allowed: one of {', '.join(BACKEND_NAMES)}")
    if not isinstance(spec, ModelSpec):
        raise TypeError(f"spec={spec!r:.80} ({type(spec).__name__}) is not a model spec; allowed: a ModelSpec, "
                        "e.g. benchlib.models.zoo.get_model('fnn')")
    if variant is not None and not isinstance(variant, str):
        raise TypeError(f"variant={variant!r} ({type(variant).__name__}) is invalid; allowed: None or a variant name")
    requirement = missing_requirement(name)
    if requirement is not None:
        raise BackendUnavailableError(name, requirement)
    return get_backend_class(name)(spec, threads=threads, variant=variant, precision=precision)


def backend_variants(name: str) -> tuple[str, ...]:
    """The variant names backend ``name`` accepts (default first)."""
    return get_backend_class(name).variants
