"""ONNX Runtime backend: an InferenceSession on the spec's ONNX file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchlib.backends.base import Backend, Predictor
from benchlib.models.onnx_export import INPUT_NAME, OUTPUT_NAME, ensure_onnx_file
from benchlib.precision.onnx_quant import METHODS as QUANTISERS
from benchlib.precision.onnx_quant import ensure_quantized

GRAPH_LEVELS = {"all": "ORT_ENABLE_ALL", "extended": "ORT_ENABLE_EXTENDED", "basic": "ORT_ENABLE_BASIC",
                "disabled": "ORT_DISABLE_ALL"}


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"
    module = "onnxruntime"
    requirement = "onnxruntime onnx"
    #: default: ORT_ENABLE_ALL, sequential execution; opt-*: other graph optimisation levels;
    #: parallel: ORT_PARALLEL execution mode with inter-op threads
    variants = ("default", "opt-extended", "opt-basic", "opt-disabled", "parallel")
    #: INT8 files made by ONNX Runtime's own quantiser (benchlib.precision.onnx_quant)
    precisions = {"fp32": "the exported float32 ONNX file", **QUANTISERS}
    precision_skips = {"bf16": "the CPU execution provider has no bfloat16 MatMul/Gemm kernels (its bf16 fast-math "
                               "GEMM, mlas.enable_gemm_fastmath_arm64_bfloat16, exists only on Arm64)"}

    def _import(self) -> Any:
        import onnxruntime

        return onnxruntime

    def onnx_file(self) -> Path:
        """The ONNX file to load: the spec's export (a user model's backend returns its own file)."""
        return ensure_onnx_file(self.spec)

    def _build(self) -> None:
        ort = self._framework
        self.model_path = self.onnx_file()
        if self.precision != "fp32":  # quantised once, cached in outputs/models/ by the source's content hash
            # (never beside the source: a user's file is only read)
            self.model_path = ensure_quantized(self.spec, self.model_path, self.precision, self.calibration_size)
        options = ort.SessionOptions()
        level = self.variant.removeprefix("opt-") if self.variant.startswith("opt-") else "all"
        options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, GRAPH_LEVELS[level])
        if self.threads is not None:
            options.intra_op_num_threads = self.threads
        if self.variant == "parallel":
            options.execution_mode = ort.ExecutionMode.ORT_PARALLEL
            options.inter_op_num_threads = self.threads or 0
        else:
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            options.inter_op_num_threads = 1
        self._options = options
        self._session = ort.InferenceSession(
            str(self.model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )

    def _make_predictor(self) -> Predictor:
        run = self._session.run
        outputs = [OUTPUT_NAME]

        def predict(inputs: np.ndarray) -> np.ndarray:
            return run(outputs, {INPUT_NAME: inputs})[0]

        return predict

    def thread_settings(self) -> dict[str, Any]:
        return {
            "requested": self.threads,
            "intra_op": self._options.intra_op_num_threads,
            "inter_op": self._options.inter_op_num_threads,
            "graph_optimization_level": str(self._options.graph_optimization_level),
        }
