"""LiteRT flatbuffers on disk: one file per model, batch size and precision, converted once.

A LiteRT deployment ships a ``.tflite`` file and loads it with the LiteRT runtime alone; TensorFlow is
the tool that made the file, not part of the program that serves it. So a measuring process
(:meth:`benchlib.backends.litert.LiteRtBackend.prepare_for_measurement`) never imports TensorFlow: it
reads the flatbuffer from ``outputs/models/`` or, the first time, has it converted in a process of its
own (:func:`convert_payload`, started through :func:`benchlib.system.child.run_in_child`), whose
TensorFlow import and conversion it records as build time. Elsewhere (verification, the conformance
tests) the conversion runs in the calling process, TensorFlow imported once for every model.

A file's name holds the spec's content hash, the batch size, the precision (and the calibration size
for static INT8), the TensorFlow version and a hash of the conversion's source, so a changed model,
converter or rule never reuses an old file. A Keras factory's model is kept the same way
(:func:`cached_flatbuffer`, named by its plan's key: :mod:`benchlib.backends.keras_litert`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from benchlib.errors import UnsupportedVariantError
from benchlib.system.files import atomic_write_bytes
from benchlib.system.paths import models_dir

#: A conversion slower than this (bert_tiny's static INT8 takes about 10 s on 2 cores) is stopped.
CONVERT_TIMEOUT_S = 600.0
#: The sources whose rules shape the flatbuffer: the Keras layers and the converter settings.
_SOURCES = ("backends/keras_layers.py", "backends/litert_quant.py", "backends/litert_files.py",
            "backends/keras_litert.py")


@lru_cache(maxsize=1)
def tensorflow_version() -> str:
    """The installed TensorFlow's version, read from its package metadata (without importing it)."""
    for distribution in ("tensorflow", "tensorflow-cpu"):
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
    return "none"


@lru_cache(maxsize=1)
def converter_hash() -> str:
    """Short hash of the conversion's own source files."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for name in _SOURCES:
        digest.update((root / name).read_bytes())
    return digest.hexdigest()[:8]


def flatbuffer_path(spec: Any, batch: int, precision: str, calibration: int, directory: Path | None = None) -> Path:
    """Where the flatbuffer of ``spec`` at ``batch`` and ``precision`` lives (whether or not it exists yet)."""
    rows = f"-c{calibration}" if precision == "int8-static" else ""
    name = (f"{spec.name}-{spec.content_hash}-b{batch}-{precision}{rows}-tf{tensorflow_version()}"
            f"-x{converter_hash()}.tflite")
    return (directory or models_dir()) / "litert" / name


def _write(path: Path, content: bytes) -> None:
    """Write through a temporary file and a rename, so a reader never sees half a flatbuffer."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, content)


def convert_here(spec: Any, batch: int, precision: str, calibration: int) -> bytes:
    """Convert in this process (imports TensorFlow and builds the Keras model)."""
    import tensorflow as tf

    from benchlib.backends.keras_layers import build_model
    from benchlib.backends.litert_quant import convert

    return convert(tf, build_model(spec), spec, batch, precision, calibration)


def convert_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """Child-process entry: convert the spec the payload describes and write its flatbuffer.

    Returns ``{"path", "seconds", "bytes"}``; ``{"unsupported": message}`` when LiteRT's builtin ops
    cannot express the model (the parent records it as skipped), ``{"failed": message}`` when the
    converter or quantiser raised (a failed record). A crash kills the child, which the parent reports.
    """
    from benchlib.backends.tensorflow import TensorFlowBackend
    from benchlib.models.spec import spec_from_architecture
    from benchlib.system.blocker import hidden_packages

    tick = time.perf_counter()
    spec = spec_from_architecture(payload["architecture"], payload["content_hash"])
    try:
        with hidden_packages(TensorFlowBackend.hidden_when_measured):  # TensorFlow's import 2 s sooner
            content = convert_here(spec, payload["batch"], payload["precision"], payload["calibration"])
    except UnsupportedVariantError as exc:
        return {"unsupported": str(exc)}
    except Exception as exc:  # noqa: BLE001 - the parent's record says why, in one line
        return {"failed": f"{type(exc).__name__}: {exc}".splitlines()[0]}
    _write(Path(payload["path"]), content)
    return {"path": payload["path"], "seconds": time.perf_counter() - tick, "bytes": len(content)}


def flatbuffer(spec: Any, batch: int, precision: str, calibration: int, in_child: bool) -> tuple[bytes, dict[str, Any]]:
    """The flatbuffer and how it was obtained: read from disk, or converted (in a child when ``in_child``).

    The second value is ``{"source": "file" | "converted here" | "converted in a child process",
    "seconds", "bytes", "path"}``; a child that fails raises ``RuntimeError`` with its reason.
    """
    from benchlib.backends.litert_quant import refuse_known_crashes

    refuse_known_crashes(spec, precision)
    path = flatbuffer_path(spec, batch, precision, calibration)
    payload = {"architecture": spec.architecture(), "content_hash": spec.content_hash, "batch": batch,
               "precision": precision, "calibration": calibration, "path": str(path)}
    return cached_flatbuffer(path, lambda: convert_here(spec, batch, precision, calibration),
                             ("benchlib.backends.litert_files:convert_payload", payload) if in_child else None,
                             f"LiteRT conversion of {spec.name!r} at batch {batch} ({precision})")


def cached_flatbuffer(path: Path, convert: Callable[[], bytes], child: tuple[str, dict[str, Any]] | None,
                      what: str, env: dict[str, str] | None = None) -> tuple[bytes, dict[str, Any]]:
    """The flatbuffer at ``path``: read, or made by ``convert()`` here, or by ``child`` (``(target, payload)``,
    a :func:`convert_payload`-like entry that writes ``path``) in a process of its own with ``env``.

    Returns it and ``{"source", "seconds", "bytes", "path"}`` (:func:`flatbuffer`).
    """
    from benchlib.system.child import run_in_child

    tick = time.perf_counter()
    if path.exists():
        content, source = path.read_bytes(), "file"
    elif child is None:
        content, source = convert(), "converted here"
        _write(path, content)
    else:
        child_env = {"TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1", **(env or {})}
        result = run_in_child(child[0], child[1], CONVERT_TIMEOUT_S, env=child_env, what="LiteRT flatbuffer")
        if not result.ok:
            raise RuntimeError(f"{what} failed in its own process: {result.error}")
        if "unsupported" in result.value:
            raise UnsupportedVariantError(result.value["unsupported"])
        if "failed" in result.value:
            raise RuntimeError(f"{what} failed: {result.value['failed']}")
        content, source = path.read_bytes(), "converted in a child process"
    info = {"source": source, "seconds": round(time.perf_counter() - tick, 4), "bytes": len(content),
            "path": str(path)}
    return content, info
