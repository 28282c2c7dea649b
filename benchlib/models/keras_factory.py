"""A Keras 3 model named by its factory: ``keras:package.module:function`` returning a ``keras.Model``.

The factory is imported and called in each process that runs the model, under the Keras backend
that process runs (Keras reads ``KERAS_BACKEND`` once, when it is imported: :func:`keras_here`).
Planning (:func:`plan_keras`) runs in a child process under Keras's TensorFlow backend: it builds the
model, describes its inputs (their names, dtypes and per-sample shapes come from the model; a
dimension the model leaves open comes from ``--input-shape NAME=d1,d2``), hashes its weights, saves
them once (``model.save_weights``) and exports it once with Keras's own
``model.export(format="onnx")`` (tf2onnx on the TensorFlow backend), all under ``outputs/models/``
and keyed by the factory, its weights, its architecture and the input shapes. A JSON plan beside them
records what every other process needs: the inputs, the exporter, the custom layers. The JAX and
PyTorch backends of Keras build the same factory and load those weights
(:mod:`benchlib.backends.keras_user`); the float64 reference is :mod:`benchlib.models.keras_reference`'s.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
import tempfile
import traceback
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from benchlib.errors import FactoryError
from benchlib.models.factories import call_factory_function

#: ``keras:package.module:function``
FACTORY_PATTERN = re.compile(r"^keras:([A-Za-z_][\w.]*):([A-Za-z_]\w*)$")
#: Case ``extra`` key of the plan's JSON file (the export and the weights' hash use the torch factory's keys).
PLAN_KEY = "keras_plan"
#: Keras's name of each framework benchlib runs a Keras model on.
KERAS_BACKENDS = {"tensorflow": "tensorflow", "jax": "jax", "pytorch": "torch"}
#: Environment of a process that imports Keras on TensorFlow (planning, the float64 reference, LiteRT's converter).
TENSORFLOW_ENV = {"KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1"}
#: Part of the plan's cache key: files an older rule wrote are not reused.
PLAN_VERSION = "keras-plan-1"
#: Seconds planning (import, build, save, export) may take when the caller gives no timeout.
PLAN_TIMEOUT_S = 600.0
#: What the record names as the exporter (with the versions and the opset read from the file).
EXPORTER = "keras.Model.export(format='onnx') on Keras {keras}'s TensorFlow backend (tf2onnx {tf2onnx}), opset {opset}"


def parse_keras_factory(name: str) -> tuple[str, str]:
    """(module, function) of ``keras:package.module:function``; anything else is refused with the form."""
    match = FACTORY_PATTERN.match(name) if isinstance(name, str) else None
    if not match:
        raise FactoryError(f"--models={name!r} is not a Keras factory path; allowed: keras:package.module:function "
                           "(a function of no arguments returning a keras.Model)")
    return match.group(1), match.group(2)


def keras_here(backend: str) -> Any | None:
    """Keras running ``backend`` (``tensorflow``, ``jax``, ``torch``) in this process, or None.

    Keras picks its backend once, when it is first imported: if no Keras is loaded yet, it is
    imported now with ``KERAS_BACKEND=backend`` (the variable is restored afterwards, so that child
    processes inherit the caller's own setting); if Keras is loaded with another backend, None (the
    caller runs the model in a process of its own).
    """
    loaded = sys.modules.get("keras")
    if loaded is None:
        if backend == "tensorflow":
            for key in ("TF_CPP_MIN_LOG_LEVEL", "CUDA_VISIBLE_DEVICES"):
                os.environ.setdefault(key, TENSORFLOW_ENV[key])
        elif backend == "jax":
            os.environ.setdefault("JAX_PLATFORMS", "cpu")
        previous = os.environ.get("KERAS_BACKEND")
        os.environ["KERAS_BACKEND"] = backend
        try:
            import keras as loaded
        finally:
            if previous is None:
                os.environ.pop("KERAS_BACKEND", None)
            else:
                os.environ["KERAS_BACKEND"] = previous
    return loaded if loaded.backend.backend() == backend else None


def call_factory(name: str) -> Any:
    """Import the factory and call it (its prints go to stderr); refuse anything but a ``keras.Model``."""
    import keras

    module_name, function_name = parse_keras_factory(name)
    model = call_factory_function(name, module_name, function_name, "a keras.Model")
    if not isinstance(model, keras.Model):
        raise FactoryError(f"--models={name!r} returned {type(model).__module__}.{type(model).__name__}; allowed: "
                           f"a keras.Model (functional, Sequential or subclassed) of Keras {keras.__version__}")
    return model


def _shape_text(shape: Any) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def describe_inputs(name: str, model: Any, given: dict[str, tuple[int, ...]]) -> list[dict[str, Any]]:
    """Each input's name, dtype and per-sample shape (the model's, with ``given`` for its open dimensions).

    A model without declared inputs (a Sequential without ``keras.Input``, a subclassed model) takes
    one float32 input named ``input`` of the ``given`` shape. Refused (:class:`FactoryError`): an
    open dimension without a size, a size for a dimension the model fixes, a fixed batch dimension.
    """
    try:
        tensors = list(model.inputs or [])
    except (AttributeError, ValueError):  # an unbuilt Sequential or a subclassed model has no inputs yet
        tensors = []
    if not tensors:
        if set(given) != {"input"}:
            raise FactoryError(f"--models={name!r} returned a model without declared inputs (no keras.Input), so "
                               "it has no per-sample shape; allowed: a model built on keras.Input(shape=...), or "
                               "--input-shape input=d1,d2 (its one float32 input)")
        return [{"name": "input", "dtype": "float32", "shape": list(given["input"])}]
    names = [t.name for t in tensors]
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise FactoryError(f"--input-shape names {unknown[0]!r}, which is not an input of {name}; allowed: "
                           f"{', '.join(names)}")
    described = []
    for tensor in tensors:
        batch, *dims = tuple(tensor.shape)
        if batch is not None:
            raise FactoryError(f"input {tensor.name!r} of {name} fixes the batch dimension at {batch}; allowed: a "
                               "model whose batch dimension is free (keras.Input(shape=...) without batch_size)")
        sizes = given.get(tensor.name)
        if sizes is not None:
            if len(sizes) != len(dims) or any(d is not None and d != s for d, s in zip(dims, sizes, strict=True)):
                raise FactoryError(f"--input-shape={tensor.name}={','.join(map(str, sizes))} does not fit input "
                                   f"{tensor.name!r} of {name}, per-sample shape {_shape_text(dims)}; allowed: "
                                   "sizes for its None dimensions, its fixed ones unchanged")
            dims = list(sizes)
        if any(d is None for d in dims):
            wanted = ",".join("N" if d is None else str(d) for d in dims)
            raise FactoryError(f"input {tensor.name!r} of {name} has no fixed per-sample shape "
                               f"{_shape_text(dims)}; allowed: give its None dimensions with --input-shape "
                               f"{tensor.name}={wanted}")
        described.append({"name": tensor.name, "dtype": str(tensor.dtype), "shape": [int(d) for d in dims]})
    return described


def input_structure(model: Any, inputs: list[dict[str, Any]]) -> dict[str, Any]:
    """How the model is called with its inputs: one tensor, a list in order, or a dict (the keys, in input order)."""
    struct = getattr(model, "_inputs_struct", None)  # a functional model's own input structure
    if len(inputs) == 1 and not isinstance(struct, dict | list | tuple):
        return {"kind": "single"}
    if isinstance(struct, dict):
        return {"kind": "dict", "keys": sorted(struct)}  # model.inputs is the dict flattened: keys in sorted order
    return {"kind": "list"}


def model_arguments(structure: dict[str, Any], inputs: list[dict[str, Any]], arrays: dict[str, Any]) -> Any:
    """The model's call argument from ``arrays`` (by input name), as :func:`input_structure` says."""
    ordered = [arrays[i["name"]] for i in inputs]
    if structure["kind"] == "single":
        return ordered[0]
    if structure["kind"] == "dict":
        return dict(zip(structure["keys"], ordered, strict=True))
    return ordered


def build_keras(name: str, plan_inputs: list[dict[str, Any]] | None = None,
                given: dict[str, tuple[int, ...]] | None = None) -> tuple[Any, list[dict[str, Any]]]:
    """The factory's model, built, and its described inputs (this process's Keras backend).

    A model without declared inputs is called once on zeros of the given shape, which builds it.
    """
    model = call_factory(name)
    if plan_inputs is None:
        plan_inputs = describe_inputs(name, model, dict(given or {}))
    if not getattr(model, "built", False) or not _has_inputs(model):
        zeros = {i["name"]: np.zeros((1, *i["shape"]), i["dtype"]) for i in plan_inputs}
        with contextlib.redirect_stdout(sys.stderr):
            model(model_arguments({"kind": "single"} if len(plan_inputs) == 1 else {"kind": "list"}, plan_inputs,
                                  zeros), training=False)
    return model, plan_inputs


def _has_inputs(model: Any) -> bool:
    try:
        return bool(model.inputs)
    except (AttributeError, ValueError):
        return False


def weights_hash(model: Any) -> str:
    """SHA-256 over the model's weights in order (index, dtype, shape and bytes; names differ between processes)."""
    digest = hashlib.sha256()
    for index, array in enumerate(model.get_weights()):
        array = np.ascontiguousarray(array)
        digest.update(f"{index}:{array.dtype}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def architecture_hash(model: Any) -> str:
    """SHA-256 of the model's config (a changed layer with the same weights is another model), or "" if none."""
    try:
        config = json.dumps(model.get_config(), sort_keys=True, default=lambda value: type(value).__name__)
    except Exception:  # noqa: BLE001 - a custom layer without get_config: the weights and the name key it
        return ""
    return hashlib.sha256(config.encode()).hexdigest()


def custom_layers(model: Any) -> list[dict[str, str]]:
    """The model's layers whose class is not Keras's own (each may use one framework only): name and class."""
    found = []
    for layer in getattr(model, "_flatten_layers", lambda: [])(include_self=False, recursive=True):
        module = type(layer).__module__
        if not module.startswith("keras."):
            found.append({"name": layer.name, "class": f"{module}.{type(layer).__name__}"})
    return found


def layer_classes(model: Any) -> list[str]:
    """Every layer class of the model, once each (e.g. to refuse a conversion known to crash on an LSTM)."""
    layers = getattr(model, "_flatten_layers", lambda: [])(include_self=False, recursive=True)
    return sorted({type(layer).__name__ for layer in layers})


def plan_paths(name: str, key: str) -> dict[str, Path]:
    """The plan's JSON, the weights and the ONNX export of the factory under plan key ``key``."""
    from benchlib.system.paths import models_dir

    stem = f"keras-{parse_keras_factory(name)[1]}-{key}"
    folder = models_dir()
    return {"plan": folder / f"{stem}.json", "weights": folder / f"{stem}.weights.h5", "onnx": folder / f"{stem}.onnx"}


def _export_onnx(model: Any, path: Path) -> str:
    """``model.export(format="onnx")`` into ``path`` (written whole, through a temporary name); the exporter."""
    import keras
    import onnx

    from benchlib.models.torch_factory import EXPORTER_METADATA_KEY
    from benchlib.system.files import atomic_path

    with atomic_path(path, suffix=".onnx") as staging:
        # tf2onnx prints its progress and Keras patches it for NumPy 2 (a FutureWarning on np.object): neither is
        # the user's to act on
        with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            model.export(str(staging), format="onnx", verbose=False)
        import tf2onnx

        exported = onnx.load(str(staging))
        opset = next((o.version for o in exported.opset_import if o.domain in ("", "ai.onnx")), None)
        text = EXPORTER.format(keras=keras.__version__, tf2onnx=tf2onnx.__version__, opset=opset)
        props = {p.key: p.value for p in exported.metadata_props} | {EXPORTER_METADATA_KEY: text}
        onnx.helper.set_model_props(exported, props)
        onnx.save(exported, str(staging))
    return text


def make_plan(name: str, given: dict[str, tuple[int, ...]] | None = None) -> dict[str, Any]:
    """Build the model under TensorFlow, save its weights and export it, once per plan key; the plan.

    Runs in a process whose Keras runs TensorFlow (:func:`plan_keras` starts one).
    """
    import keras

    model, inputs = build_keras(name, None, given)
    weights = weights_hash(model)
    shapes = {i["name"]: i["shape"] for i in inputs}
    key = hashlib.sha256(f"{name}|{weights}|{architecture_hash(model)}|{sorted(shapes.items())}|{PLAN_VERSION}|"
                         f"{keras.__version__}".encode()).hexdigest()[:16]
    paths = plan_paths(name, key)
    if all(path.is_file() for path in paths.values()):
        return json.loads(paths["plan"].read_text())
    paths["plan"].parent.mkdir(parents=True, exist_ok=True)
    from benchlib.system.files import atomic_path, atomic_write_text

    with atomic_path(paths["weights"], suffix=".weights.h5") as staging, contextlib.redirect_stdout(sys.stderr):
        model.save_weights(str(staging))  # Keras asks for a name ending in .weights.h5
    # one call first: Keras exports only a model that has been called
    sample = model(model_arguments(input_structure(model, inputs), inputs,
                                   {i["name"]: np.zeros((1, *i["shape"]), i["dtype"]) for i in inputs}), training=False)
    try:
        exporter = _export_onnx(model, paths["onnx"])
    except Exception as exc:
        raise RuntimeError(f"{name}: keras.Model.export(format='onnx') failed: {type(exc).__name__}: "
                           f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}") from exc
    plan = {"factory": name, "key": key, "plan_file": str(paths["plan"]), "weights_sha256": weights,
            "weights_file": str(paths["weights"]),
            "onnx_file": str(paths["onnx"]), "exporter": exporter, "inputs": inputs,
            "structure": input_structure(model, inputs), "given_shapes": {k: list(v) for k, v in (given or {}).items()},
            "outputs": len(keras.tree.flatten(sample)), "custom_layers": custom_layers(model),
            "layer_classes": layer_classes(model), "keras_version": keras.__version__}
    atomic_write_text(paths["plan"], json.dumps(plan, indent=1))  # written last: its presence means complete
    return plan


def plan_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """Child-process entry of :func:`plan_keras`: the plan, or the error and its kind."""
    try:
        if keras_here("tensorflow") is None:
            raise RuntimeError("Keras was loaded with another backend before planning; allowed: KERAS_BACKEND="
                               "tensorflow in the planning process")
        given = {k: tuple(v) for k, v in (payload.get("input_shapes") or {}).items()}
        return {"ok": True, **make_plan(payload["factory"], given)}
    except FactoryError as exc:
        return {"ok": False, "refused": True, "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - the factory (or its export) raised: its cases fail with the traceback
        return {"ok": False, "refused": False, "error": traceback.format_exception_only(exc)[-1].strip(),
                "traceback": traceback.format_exc()}


def shapes_key(input_shapes: dict[str, Any] | None) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """``--input-shape`` as a hashable, sorted key (what :func:`plan_keras` takes)."""
    return tuple(sorted((k, tuple(int(d) for d in v)) for k, v in (input_shapes or {}).items()))


@lru_cache(maxsize=32)
def plan_keras(name: str, shapes: tuple[tuple[str, tuple[int, ...]], ...] = (),
               timeout_s: float = PLAN_TIMEOUT_S) -> dict[str, Any]:
    """The factory's plan (``shapes``: :func:`shapes_key` of ``--input-shape``), made in a child process whose
    Keras runs TensorFlow, killed after ``timeout_s``.

    A factory that does not import, returns no ``keras.Model`` or leaves a per-sample dimension open is
    refused (:class:`FactoryError`); one that raises is not: ``{"ok": False, "error", "traceback"}``,
    and its cases fail with the traceback.
    """
    from benchlib.system.child import run_in_child

    parse_keras_factory(name)
    result = run_in_child("benchlib.models.keras_factory:plan_payload",
                          {"factory": name, "input_shapes": {k: list(v) for k, v in shapes}},
                          timeout_s=timeout_s, env=TENSORFLOW_ENV, what="plan")
    if not result.ok and result.error and result.error.startswith("timed out"):
        raise FactoryError(f"--models={name!r}: planning it (import, build, save and ONNX export under Keras's "
                           f"TensorFlow backend, in a child process) did not finish within --timeout-s={timeout_s:g} s "
                           "and was killed; allowed: a factory that builds and exports within --timeout-s")
    if not result.ok:
        raise FactoryError(f"--models={name!r}: planning it failed ({result.error}); allowed: a factory whose model "
                           "Keras's TensorFlow backend can build and export")
    if result.value.get("refused"):
        raise FactoryError(result.value["error"])
    return result.value


def read_plan(path: str | Path) -> dict[str, Any] | None:
    """The plan at ``path`` if it is one of ``outputs/models/``'s and complete (its files present), else None."""
    from benchlib.system.paths import models_dir

    path = Path(path or "")
    if not path.name or not path.is_file() or path.resolve().parent != models_dir().resolve():
        return None  # models load only from outputs/models/: a plan elsewhere is made again
    plan = json.loads(path.read_text())
    present = all(Path(plan.get(key) or "").is_file() for key in ("weights_file", "onnx_file"))
    return plan if present else None


def tempdir() -> tempfile.TemporaryDirectory:
    """A temporary folder for arrays passed between processes."""
    return tempfile.TemporaryDirectory(prefix="benchlib-keras-")
