"""A PyTorch model named by its factory: ``torch:package.module:function`` returning a ``torch.nn.Module``.

The factory is imported and called in each process that needs the module (never pickled). Its
input is one float32 tensor whose per-sample shape (no batch axis) is the module's
``benchlib_input_shape`` attribute or ``--input-shape input=d1,d2``. Planning (:func:`plan_factory`)
runs in a child process: it builds the module, hashes its weights and exports it once with
``torch.onnx.export`` to ``outputs/models/``, keyed by the factory path, the weights' hash and the
input shape. The ``torch.export``-based exporter (``dynamo=True``, batch dimension dynamic) is used;
the TorchScript-based one (``dynamo=False``, deprecated) only when it fails. Which one wrote the
file, and why the first failed, is kept in the file's metadata and named by each record
(``model_info.exporter``). ONNX Runtime and OpenVINO run that file; PyTorch runs the module itself
(:mod:`benchlib.backends.torch_factory`); ONNX's reference evaluator on the file checks all of them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import sys
import tempfile
import textwrap
import traceback
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

from benchlib.errors import FactoryError
from benchlib.models.factories import call_factory_function
from benchlib.models.onnx_model import file_digest

#: ``torch:package.module:function``
FACTORY_PATTERN = re.compile(r"^torch:([A-Za-z_][\w.]*):([A-Za-z_]\w*)$")
#: Opset of the export, asked explicitly: the torch.export-based exporter implements opset 18 and converts
#: down (with a warning, not always successfully) when asked for less; ONNX Runtime 1.32 and OpenVINO 2026.4
#: read 18. The TorchScript-based fallback writes the same opset. Records give the opset read from the file.
EXPORT_OPSET = 18
#: Case ``extra`` keys of a factory: the exported file, its weights' hash, a planning error.
ONNX_KEY, WEIGHTS_KEY, ERROR_KEY = "factory_onnx", "factory_weights_sha256", "factory_error"
INPUT_NAME = "input"
#: The exporter, as a factory model's record names it (``model_info.exporter``) when the default one wrote it.
EXPORTER = f"torch.onnx.export, torch.export-based (dynamo=True), opset {EXPORT_OPSET}"
#: The fallback, named with the reason the default exporter failed after it.
FALLBACK_EXPORTER = f"torch.onnx.export, TorchScript-based (dynamo=False, deprecated), opset {EXPORT_OPSET}"
#: The exported file's ``metadata_props`` key holding the exporter's description (what the record names).
EXPORTER_METADATA_KEY = "benchlib.exporter"
#: Part of the export's cache key: a file an older benchlib wrote (TorchScript-based, opset 17) is not reused.
EXPORT_VERSION = f"dynamo-opset{EXPORT_OPSET}"
#: Longest fallback reason kept in a record (one line: the exception's type and message, shortened).
REASON_CHARS = 300
#: Seconds planning (import, build, export) may take when the caller gives no timeout (``run``'s default).
PLAN_TIMEOUT_S = 600.0
#: The batch the export is traced with (drawn before the factory's module is known to fit).
EXPORT_BATCH = 2


def parse_factory(name: str) -> tuple[str, str]:
    """(module, function) of ``torch:package.module:function``; anything else is refused with the form."""
    match = FACTORY_PATTERN.match(name)
    if not match:
        raise FactoryError(f"--models={name!r} is not a factory path; allowed: torch:package.module:function "
                           "(or keras:package.module:function for a Keras model)")
    return match.group(1), match.group(2)


def build_module(name: str, input_shape: tuple[int, ...] | None = None) -> tuple[Any, tuple[int, ...]]:
    """Import the factory, call it and return (the module in eval mode, per-sample input shape).

    An import failure or a wrong return type raises :class:`FactoryError`; an exception raised by the
    factory itself propagates unchanged, so that its traceback reaches the record.
    """
    import torch

    module_name, function_name = parse_factory(name)
    model = call_factory_function(name, module_name, function_name, "a torch.nn.Module")
    if not isinstance(model, torch.nn.Module):
        raise FactoryError(f"--models={name!r} returned {type(model).__name__}; allowed: a torch.nn.Module")
    shape = tuple(input_shape or getattr(model, "benchlib_input_shape", ()) or ())
    if not shape or any(not isinstance(d, int) or d < 1 for d in shape):
        raise FactoryError(f"--models={name!r} gives no input shape; allowed: a benchlib_input_shape attribute "
                           "on the module (per-sample, e.g. (3, 32, 32)) or --input-shape input=d1,d2")
    return model.eval(), shape


def weights_hash(model: Any) -> str:
    """SHA-256 over the module's state dict (names, dtypes, shapes and bytes, in name order)."""
    digest = hashlib.sha256()
    for key, tensor in sorted(model.state_dict().items()):
        array = tensor.detach().cpu().contiguous().numpy()
        digest.update(f"{key}:{array.dtype}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def export_path(name: str, weights: str, shape: tuple[int, ...], directory: Path | None = None) -> Path:
    """Where the export of this factory, these weights and this input shape lives."""
    from benchlib.system.paths import models_dir

    key = hashlib.sha256(f"{name}|{weights}|{shape}|{EXPORT_VERSION}".encode()).hexdigest()[:16]
    return (directory or models_dir()) / f"factory-{parse_factory(name)[1]}-{key}.onnx"


def write_export(path: Path, model: Any, example: Any, outputs: list[str]) -> None:
    """Export ``model`` to ``path`` with the input named ``input`` and the batch dimension dynamic.

    The file is written in a folder of its own beside ``path`` and moved into place (external data
    first, the model file last), so no process ever reads a half-written export; the exporter that
    wrote it is recorded in its metadata (:func:`exporter_of`).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=".export-"))
    try:
        target = staging / path.name
        # The user's forward runs while it is traced: its prints go to stderr with the factory's (stdout is
        # benchlib's own; ``verify --json`` prints pure JSON there).
        with contextlib.redirect_stdout(sys.stderr):
            exporter = _export(model, example, outputs, target)
        _stamp(target, exporter)
        for item in sorted(staging.iterdir()):  # a model over 1.5 GB has its weights in a file beside it
            if item != target:
                os.replace(item, path.parent / item.name)
        os.replace(target, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _export(model: Any, example: Any, outputs: list[str], target: Path) -> str:
    """Write ``target`` with the torch.export-based exporter, else the TorchScript-based one; the one used."""
    import torch

    try:
        # torch.export and the ONNX translation warn from deep inside torch (pytree's LeafSpec FutureWarning,
        # dynamo's _check_is_size FutureWarning, "tensor attributes assigned during export" UserWarning), with
        # stack levels that attribute them to copyreg, contextlib or generated code, so no module filter
        # catches them; none is the user's to act on (their forward already ran once, outside this block).
        # verbose=False stops the "[torch.onnx] Run decompositions... ✅" progress lines.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", UserWarning)
            program = torch.onnx.export(model, (example,), None, input_names=[INPUT_NAME], output_names=outputs,
                                        dynamic_shapes=({0: torch.export.Dim("batch")},),
                                        opset_version=EXPORT_OPSET, dynamo=True, verbose=False)
            program.save(str(target), external_data=False)  # external only past 1.5 GB (torch's threshold)
        return EXPORTER
    except Exception as exc:  # noqa: BLE001 - whatever torch.export rejects, the TorchScript exporter may take
        reason = failure_reason(exc)
    for item in target.parent.iterdir():  # a partial save of the failed export
        item.unlink()
    # PyTorch 2.13 deprecates the TorchScript-based exporter on every call (and from inside it) whatever the
    # arguments: it is the fallback here, chosen knowingly, so its deprecation notices are silenced.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            torch.onnx.export(model, (example,), str(target), input_names=[INPUT_NAME], output_names=outputs,
                              dynamic_axes={n: {0: "batch"} for n in (INPUT_NAME, *outputs)},
                              opset_version=EXPORT_OPSET, dynamo=False)
        except Exception as exc:  # noqa: BLE001 - both failed: the cases fail with both reasons and the traceback
            raise RuntimeError(f"both ONNX exporters failed: torch.export-based: {reason}; TorchScript-based: "
                               f"{failure_reason(exc)}") from exc
    return f"{FALLBACK_EXPORTER}, the fallback: the torch.export-based exporter failed ({reason})"


def failure_reason(exc: BaseException) -> str:
    """One line: the exception's type and message and, if it wraps another, the wrapped one's.

    The exporter's own errors (``TorchExportError``, ``ConversionError``) wrap what torch.export or
    the translation rejected; their message is advice, so only its first sentence is kept.
    """
    def line(error: BaseException, first_sentence: bool = False) -> str:
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).strip().splitlines()
        words = (text[0] if text else "").rstrip(" :")
        if first_sentence and ". " in words:
            words = words.split(". ", 1)[0] + "."
        return f"{type(error).__name__}: {words}" if words else type(error).__name__

    root, seen = exc, {id(exc)}
    while root.__cause__ is not None and id(root.__cause__) not in seen:
        root = root.__cause__
        seen.add(id(root))
    text = line(exc) if root is exc else f"{line(exc, first_sentence=True)} (caused by {line(root)})"
    return textwrap.shorten(text, REASON_CHARS, placeholder=" …")


def _stamp(target: Path, exporter: str) -> None:
    """Record ``exporter`` (with the opset and any fixed batch the file has) in the file's metadata."""
    import onnx

    model = onnx.load(str(target), load_external_data=False)  # external data stays where it is
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    text = re.sub(r"opset \d+", f"opset {opset}", exporter, count=1)  # the file's own opset, whatever was asked
    first = model.graph.input[0].type.tensor_type.shape.dim[0] if model.graph.input else None
    if first is not None and first.HasField("dim_value"):  # torch.export found the module's code fixes the batch
        text += f"; the file fixes the batch dimension at {first.dim_value} (the module's code allows no other)"
    props = {p.key: p.value for p in model.metadata_props} | {EXPORTER_METADATA_KEY: text}
    onnx.helper.set_model_props(model, props)
    onnx.save(model, str(target))


def exporter_of(path: Path) -> str:
    """The exporter that wrote the factory export at ``path``, as recorded in its metadata."""
    import onnx

    props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    return props.get(EXPORTER_METADATA_KEY) or "unknown: the file records no exporter"


def export_factory(name: str, input_shape: tuple[int, ...] | None = None) -> dict[str, Any]:
    """Build the module and export it (once per factory, weights and shape); returns the case's extra."""
    import numpy as np
    import torch

    from benchlib.models.memory import input_memory_problem

    model, shape = build_module(name, input_shape)
    weights = weights_hash(model)
    path = export_path(name, weights, shape)
    if not path.exists():
        problem = input_memory_problem(name, shape, EXPORT_BATCH)  # a benchlib_input_shape too large to draw
        if problem:
            raise FactoryError(f"--models={name!r}: {problem}")
        example = torch.from_numpy(np.random.default_rng(0).random((EXPORT_BATCH, *shape), dtype=np.float32))
        with torch.inference_mode(), contextlib.redirect_stdout(sys.stderr):
            sample = model(example)
        count = len(sample) if isinstance(sample, tuple | list) else 1
        write_export(path, model, example, ["output"] if count == 1 else [f"output_{i}" for i in range(count)])
    return {ONNX_KEY: str(path), WEIGHTS_KEY: weights, "sha256": file_digest([path]),
            "input_shape": list(shape)}


def export_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """Child-process entry of :func:`plan_factory`: the export, or the error and its kind."""
    try:
        shape = tuple(payload["input_shape"]) if payload.get("input_shape") else None
        return {"ok": True, **export_factory(payload["factory"], shape)}
    except FactoryError as exc:
        return {"ok": False, "refused": True, "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - the factory raised: its cases fail with the traceback
        return {"ok": False, "refused": False, "error": traceback.format_exception_only(exc)[-1].strip(),
                "traceback": traceback.format_exc()}


@lru_cache(maxsize=32)
def plan_factory(name: str, input_shape: tuple[int, ...] | None = None,
                 timeout_s: float = PLAN_TIMEOUT_S) -> tuple[tuple[str, Any], ...]:
    """Export the factory in a child process; the pairs its cases carry in ``extra``.

    A factory that does not import or returns the wrong type is refused (:class:`FactoryError`), and
    so is one whose planning (import, build, export) outlasts ``timeout_s`` (the run's ``--timeout-s``):
    its child's whole process tree is killed. One that raises is not refused: its cases run and fail
    in their own processes, each with the traceback.
    """
    from benchlib.system.child import run_in_child

    parse_factory(name)
    result = run_in_child("benchlib.models.torch_factory:export_payload",
                          {"factory": name, "input_shape": list(input_shape) if input_shape else None},
                          timeout_s=timeout_s, what="export")
    if not result.ok and result.error and result.error.startswith("timed out"):
        raise FactoryError(f"--models={name!r}: planning it (import, build and ONNX export, in a child process) "
                           f"did not finish within --timeout-s={timeout_s:g} s and was killed; allowed: a factory that "
                           "returns its module and exports within --timeout-s (raise --timeout-s if it is slow)")
    if not result.ok:
        raise FactoryError(f"--models={name!r}: exporting it failed ({result.error}); allowed: a factory whose "
                           "module torch.onnx.export can export")
    value = result.value
    if value.get("refused"):
        raise FactoryError(value["error"])
    if not value["ok"]:
        return ((ERROR_KEY, value["error"]),)
    return ((ONNX_KEY, value[ONNX_KEY]), (WEIGHTS_KEY, value[WEIGHTS_KEY]))


def load_factory_model(name: str, settings: dict[str, Any], input_shape: tuple[int, ...] | None = None) -> Any:
    """The factory's export as an :class:`~benchlib.models.onnx_model.OnnxModel` of kind ``factory``.

    Without a planned export (the factory raised while planning), the factory is called here, so
    that the record carries its traceback.
    """
    from benchlib.models.onnx_model import load_onnx_model
    from benchlib.system.paths import models_dir

    planned = Path(settings.get(ONNX_KEY) or "")
    # Models load only from the path given or from outputs/models/: a planned export elsewhere is redone.
    if planned.name and planned.is_file() and planned.resolve().parent == models_dir().resolve():
        path, weights = planned, settings[WEIGHTS_KEY]
    else:
        exported = export_factory(name, input_shape)  # raises the factory's own exception
        path, weights = Path(exported[ONNX_KEY]), exported[WEIGHTS_KEY]
    model = load_onnx_model(path)
    model.kind, model.factory, model.weights_sha256, model.exporter = "factory", name, weights, exporter_of(path)
    return model
