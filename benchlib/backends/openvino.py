"""OpenVINO backend: ``openvino.Core().compile_model`` on the spec's ONNX file, CPU device."""

from __future__ import annotations

import importlib.abc
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchlib.backends.base import Backend, Predictor
from benchlib.backends.static_shapes import StaticShapes, per_batch_predictor
from benchlib.errors import UnsupportedVariantError
from benchlib.models.onnx_export import ensure_onnx_file
from benchlib.precision.openvino_quant import HINTS as PRECISION_HINTS
from benchlib.precision.openvino_quant import METHODS as PRECISION_METHODS
from benchlib.precision.openvino_quant import SKIPS as PRECISION_SKIPS
from benchlib.precision.openvino_quant import check_hint, quantize_with_nncf


class _SkipModule(importlib.abc.MetaPathFinder):
    """Makes one optional package raise ImportError, which its importer catches."""

    def __init__(self, name: str) -> None:
        self.name = name

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001 - importlib protocol
        if fullname == self.name or fullname.startswith(self.name + "."):
            raise ImportError(f"{fullname} skipped by benchlib")
        return None


def import_openvino() -> Any:
    """``import openvino`` without its model-conversion API.

    ``import openvino`` also imports ``openvino.tools.ovc``, whose telemetry forks a process to send
    an event on first use: a process competing for the CPU during a measurement, and a fork of a
    multithreaded process when JAX or TensorFlow are loaded. benchlib converts no models, so that
    optional import (which OpenVINO wraps in ``try/except ImportError``) is skipped.
    """
    skip = _SkipModule("openvino.tools.ovc")
    sys.meta_path.insert(0, skip)
    try:
        import openvino
    finally:
        sys.meta_path.remove(skip)
    return openvino


def check_static_batch(model: Any, batch: int, name: str) -> None:
    """Refuse (skipped, with the reason) running ``model`` at ``batch`` when its inputs fix another batch size.

    ``Model.reshape`` would happily turn a model made for batch 1 into one for batch 32: a model the
    user did not give, measured and verified as theirs.
    """
    for port in model.inputs:
        shape = port.get_partial_shape()
        if shape.rank.is_static and shape.rank.get_length() and shape[0].is_static and shape[0].get_length() != batch:
            fixed = shape[0].get_length()
            raise UnsupportedVariantError(f"batch_size={batch} is not a batch size of {name}: its input "
                                          f"{port.get_any_name()!r} fixes the batch dimension at {fixed} (OpenVINO "
                                          f"would reshape it into another model); allowed: {fixed}")


#: Inputs up to this many bytes are copied into an input buffer bound to the request once; a
#: larger input is bound zero-copy (a new shared-memory ``ov.Tensor`` per call). Copying a small
#: batch is cheaper than binding a new tensor (~2-4 µs per call measured); copying a large one
#: is not (batch 1000 of [.,200] float32: +50 µs). See docs/evidence/openvino-call-pattern.md.
COPY_INPUT_MAX_BYTES = 64 * 1024


class _StaticShape:
    """One batch size: the model reshaped to a static ``[batch, *input_shape]`` and compiled, one
    reused infer request with the output (and, for small inputs, the input) bound to NumPy buffers."""

    def __init__(self, ov: Any, compiled: Any, input_dtype: str = "float32") -> None:
        self.compiled = compiled
        self.request = request = compiled.create_infer_request()
        infer = request.infer
        # The runtime writes the output straight into this buffer; each call returns a copy of it
        # because the next call overwrites it.
        out = np.empty_like(request.get_output_tensor(0).data)
        request.set_output_tensor(ov.Tensor(out, shared_memory=True))
        batch_shape = tuple(compiled.input(0).shape)
        dtype = np.dtype(input_dtype)  # float32, or int64 token ids
        if int(np.prod(batch_shape)) * dtype.itemsize <= COPY_INPUT_MAX_BYTES:
            buffer = np.empty(batch_shape, dtype)
            request.set_input_tensor(ov.Tensor(buffer, shared_memory=True))
            copyto = np.copyto

            def call(inputs: np.ndarray) -> np.ndarray:
                copyto(buffer, inputs)
                infer(None, False, True)  # inputs already bound; share_outputs: no result copies
                return out.copy()
        else:
            tensor, set_input, contiguous = ov.Tensor, request.set_input_tensor, np.ascontiguousarray

            def call(inputs: np.ndarray) -> np.ndarray:
                # Zero-copy for a C-contiguous array. The tensor does not keep its array alive, so
                # `data` (possibly a temporary contiguous copy) is held until the inference ends.
                data = contiguous(inputs)
                set_input(tensor(data, shared_memory=True))
                infer(None, False, True)
                return out.copy()

        self.call = call


class OpenVinoBackend(Backend):
    name = "openvino"
    module = "openvino"
    requirement = "openvino onnx"
    #: latency: PERFORMANCE_HINT=LATENCY; the model is reshaped to a static [batch, ...] shape and
    #: compiled on the first call of each batch size (that cost lands in the cold first call), one
    #: reused infer request per shape with pre-bound input/output buffers;
    #: throughput: PERFORMANCE_HINT=THROUGHPUT, same call pattern;
    #: async: THROUGHPUT hint, the dynamic-batch model, the batch split across the compiled model's
    #: optimal number of infer requests run asynchronously (zero-copy chunks)
    variants = ("latency", "throughput", "async")
    #: precision → how (benchlib.precision.openvino_quant)
    precisions = PRECISION_METHODS
    precision_skips = PRECISION_SKIPS

    def _import(self) -> Any:
        return import_openvino()

    def onnx_file(self) -> Path:
        """The ONNX file to load: the spec's export (a user model's backend returns its own file)."""
        return ensure_onnx_file(self.spec)

    def _build(self) -> None:
        ov = self._framework
        self.model_path = self.onnx_file()
        self._core = core = ov.Core()
        config: dict[str, Any] = {
            "PERFORMANCE_HINT": "LATENCY" if self.variant == "latency" else "THROUGHPUT",
            # Without this, CPUs with bf16/fp16 units may silently run in reduced precision: f32
            # unless the case asks for bf16 (benchlib.precision.openvino_quant.HINTS).
            "INFERENCE_PRECISION_HINT": PRECISION_HINTS[self.precision],
        }
        if self.threads is not None:
            config["INFERENCE_NUM_THREADS"] = self.threads
        self._config = config
        self._model = core.read_model(str(self.model_path))
        if self.precision == "int8-static":
            self._model, self.precision_path = quantize_with_nncf(self._model, self.spec, self.calibration_size)
        # The model as exported (dynamic batch axis): the async variant runs it; for the others it
        # checks at build time that the model compiles and reports the thread settings.
        self._compiled = core.compile_model(self._model, "CPU", config)
        self.inference_precision = check_hint(core, self._compiled, self.precision)  # read back
        self._static = StaticShapes(self._compile_static)
        if self.variant == "async":
            self._queue = ov.AsyncInferQueue(self._compiled)

    def static_shape(self, batch: int) -> _StaticShape:
        """The compiled static-shape model and request for ``batch`` (reshaped and compiled on first use)."""
        return self._static.get(batch)

    def _compile_static(self, batch: int) -> _StaticShape:
        model = self._model.clone()
        check_static_batch(model, batch, self.spec.name)
        model.reshape([batch, *self.spec.input_shape])
        return _StaticShape(self._framework, self._core.compile_model(model, "CPU", self._config),
                            self.spec.input_dtype)

    def _make_predictor(self) -> Predictor:
        if self.variant == "async":
            return self._async_predictor()
        return per_batch_predictor(self.static_shape)

    def _async_predictor(self) -> Predictor:
        queue = self._queue
        jobs = len(queue)
        outputs: dict[int, np.ndarray] = {}

        def on_done(request, index: int) -> None:  # noqa: ANN001 - OpenVINO callback signature
            outputs[index] = request.get_output_tensor(0).data.copy()

        queue.set_callback(on_done)

        def predict(inputs: np.ndarray) -> np.ndarray:
            chunks = np.array_split(inputs, min(jobs, inputs.shape[0]))
            for index, chunk in enumerate(chunks):
                queue.start_async({0: chunk}, index, share_inputs=True)
            queue.wait_all()
            result = np.concatenate([outputs[i] for i in range(len(chunks))])
            outputs.clear()
            return result

        return predict

    def version(self) -> str:
        self.import_framework()
        return self._framework.get_version()

    def precision_report(self) -> dict[str, Any] | None:
        """The CPU plugin's OPTIMIZATION_CAPABILITIES and the inference precision read back from the model."""
        caps = self._core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
        return {"optimization_capabilities": [str(c) for c in caps],
                "inference_precision": getattr(self, "inference_precision", None)}

    def thread_settings(self) -> dict[str, Any]:
        compiled = self._compiled
        settings: dict[str, Any] = {"requested": self.threads}
        for key in ("INFERENCE_NUM_THREADS", "PERFORMANCE_HINT", "NUM_STREAMS", "OPTIMAL_NUMBER_OF_INFER_REQUESTS",
                    "INFERENCE_PRECISION_HINT"):
            try:
                settings[key.lower()] = str(compiled.get_property(key))
            except Exception:  # noqa: BLE001 - a property the plugin does not report
                settings[key.lower()] = None
        return settings
