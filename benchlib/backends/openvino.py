"""OpenVINO backend: ``openvino.Core().compile_model`` on the spec's ONNX file, CPU device."""

from __future__ import annotations

import importlib.abc
import sys
from typing import Any

import numpy as np

from benchlib.backends.base import Backend, Predictor
from benchlib.models.onnx_export import ensure_onnx_file


class _SkipModule(importlib.abc.MetaPathFinder):
    """Makes one optional package raise ImportError, which its importer catches."""

    def __init__(self, name: str) -> None:
        self.name = name

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001 - importlib protocol
        if fullname == self.name or fullname.startswith(self.name + "."):
            raise ImportError(f"{fullname} skipped by benchlib")
        return None


class OpenVinoBackend(Backend):
    name = "openvino"
    module = "openvino"
    requirement = "openvino onnx"
    #: latency: PERFORMANCE_HINT=LATENCY, one reused infer request with shared input memory;
    #: throughput: PERFORMANCE_HINT=THROUGHPUT, same call pattern;
    #: async: THROUGHPUT hint, the batch split across the compiled model's optimal number of
    #: infer requests run asynchronously
    variants = ("latency", "throughput", "async")

    def _import(self) -> Any:
        # `import openvino` also imports its model-conversion API (openvino.tools.ovc), whose
        # telemetry forks a process to send an event on first use. benchlib does not convert
        # models, so that optional import is skipped: no extra process competes for the CPU.
        skip = _SkipModule("openvino.tools.ovc")
        sys.meta_path.insert(0, skip)
        try:
            import openvino
        finally:
            sys.meta_path.remove(skip)
        return openvino

    def _build(self) -> None:
        ov = self._framework
        self.model_path = ensure_onnx_file(self.spec)
        core = ov.Core()
        config: dict[str, Any] = {
            "PERFORMANCE_HINT": "LATENCY" if self.variant == "latency" else "THROUGHPUT",
            # Without this, CPUs with bf16/fp16 units may silently run in reduced precision.
            "INFERENCE_PRECISION_HINT": "f32",
        }
        if self.threads is not None:
            config["INFERENCE_NUM_THREADS"] = self.threads
        self._compiled = core.compile_model(core.read_model(str(self.model_path)), "CPU", config)
        self._request = self._compiled.create_infer_request()
        if self.variant == "async":
            self._queue = ov.AsyncInferQueue(self._compiled)

    def _make_predictor(self) -> Predictor:
        if self.variant == "async":
            return self._async_predictor()
        request = self._request

        def predict(inputs: np.ndarray) -> np.ndarray:
            # share_inputs: wrap the NumPy buffer instead of copying it; the output view is
            # copied because the next call overwrites the request's output tensor.
            request.infer({0: inputs}, share_inputs=True, share_outputs=True)
            return request.get_output_tensor(0).data.copy()

        return predict

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
                queue.start_async({0: chunk}, index)
            queue.wait_all()
            result = np.concatenate([outputs[i] for i in range(len(chunks))])
            outputs.clear()
            return result

        return predict

    def version(self) -> str:
        self.import_framework()
        return self._framework.get_version()

    def thread_settings(self) -> dict[str, Any]:
        compiled = self._compiled
        settings: dict[str, Any] = {"requested": self.threads}
        for key in ("INFERENCE_NUM_THREADS", "PERFORMANCE_HINT", "NUM_STREAMS", "OPTIMAL_NUMBER_OF_INFER_REQUESTS"):
            try:
                settings[key.lower()] = str(compiled.get_property(key))
            except Exception:  # noqa: BLE001 - a property the plugin does not report
                settings[key.lower()] = None
        return settings
