"""Names → backend classes, resolved lazily so that no framework is imported up front.

A zoo model runs on every backend's own class (:data:`REGISTRY`); a user's model (an ONNX file or
a factory's export) on the classes of :data:`USER_MODEL_BACKENDS`, and on no other framework, with
the reason (:data:`NO_CONVERTER`). :func:`create_model_backend` picks for either.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from benchlib.backends.base import Backend
from benchlib.errors import BackendUnavailableError, UnsupportedVariantError
from benchlib.models.onnx_model import OnnxModel
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

#: The classes that run a user's ONNX file ("module:Class" inside benchlib): the file itself, read by name
#: (JAX: converted by jaxonnxruntime).
USER_MODEL_BACKENDS = {
    "onnxruntime": "benchlib.backends.user_onnx:UserOnnxRuntimeBackend",
    "openvino": "benchlib.backends.user_onnx:UserOpenVinoBackend",
    "jax": "benchlib.backends.user_jax:UserJaxBackend",
}
#: A factory's model runs on these too, and PyTorch runs the factory's own module (not its export).
FACTORY_BACKENDS = {**USER_MODEL_BACKENDS, "pytorch": "benchlib.backends.torch_factory:TorchFactoryBackend"}
#: A Keras factory's model (``keras:package.module:function``) runs on Keras's own backends, each in a process whose
#: Keras runs it, on LiteRT through TensorFlow's converter, and as its ONNX export in ONNX Runtime and OpenVINO.
KERAS_BACKENDS = {
    "tensorflow": "benchlib.backends.keras_user:KerasTensorFlowBackend",
    "litert": "benchlib.backends.keras_litert:KerasLiteRtBackend",
    "jax": "benchlib.backends.keras_user:KerasJaxBackend",
    "pytorch": "benchlib.backends.keras_user:KerasTorchBackend",
    "onnxruntime": "benchlib.backends.user_onnx:UserOnnxRuntimeBackend",
    "openvino": "benchlib.backends.user_onnx:UserOpenVinoBackend",
}
#: Why each framework without a native ONNX reader skips an ONNX model (checked against the pinned stack).
NO_CONVERTER = {
    "pytorch": "no ONNX-to-PyTorch converter installs with the pinned stack: onnx2torch 1.5.15 requires "
               "torchvision, which is not part of this environment (torch 2.13 CPU build)",
    "tensorflow": "no maintained ONNX-to-TensorFlow converter: onnx-tf 1.10.0 (the last release) requires "
                  "tensorflow-addons, which has reached end of life",
    "litert": "LiteRT's converter reads TensorFlow models (Keras, SavedModel), and no maintained ONNX-to-TensorFlow "
              "converter exists: onnx-tf 1.10.0 (the last release) requires tensorflow-addons, which has reached "
              "end of life",
    "numpy": "the NumPy baseline builds only the zoo's layer kinds; an ONNX graph's NumPy run is the reference "
             "evaluator, which checks the others",
}


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


def _load_class(target: str) -> type[Backend]:
    """The class ``"module:Class"`` names (imports benchlib's backend module, not the framework)."""
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)


def get_backend_class(name: str) -> type[Backend]:
    """The backend class for ``name`` (imports benchlib's backend module, not the framework)."""
    return _load_class(get_entry(name).target)


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


def create_model_backend(name: str, model: ModelSpec | OnnxModel, threads: int | None = None,
                         variant: str | None = None) -> Backend:
    """Backend ``name`` for any model: a zoo spec's own class, or the one that reads a user's file.

    A framework that cannot run the model raises :class:`~benchlib.errors.UnsupportedVariantError`
    with the reason (recorded as skipped); one not installed, :class:`~benchlib.errors.BackendUnavailableError`.
    """
    if isinstance(model, ModelSpec):
        return create_backend(name, model, threads=threads, variant=variant)
    get_entry(name)  # an unknown backend name lists the valid ones
    if model.unknown_ops:
        raise UnsupportedVariantError(f"op(s) {', '.join(model.unknown_ops)} of {model.path.name} have no ONNX "
                                      f"schema: {name} cannot run them (nor can the reference evaluator)")
    classes = (KERAS_BACKENDS if model.kind == "keras" else FACTORY_BACKENDS if model.factory
               else USER_MODEL_BACKENDS)
    if name not in classes:
        what = f"{model.factory}'s ONNX export" if model.factory else "an ONNX file"
        raise UnsupportedVariantError(f"{name} cannot run {what}: {NO_CONVERTER[name]}")
    requirement = missing_requirement(name)
    if requirement is not None:
        raise BackendUnavailableError(name, requirement)
    return _load_class(classes[name])(model, threads=threads, variant=variant)  # type: ignore[arg-type]
