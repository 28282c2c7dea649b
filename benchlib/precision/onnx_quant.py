"""INT8 ONNX files made by ONNX Runtime's quantiser from the spec's exported ONNX file, cached by hash.

* ``int8-dynamic``: ``quantize_dynamic`` (weights INT8 ahead of time, activations quantised per call
  from their observed range; MatMul/Gemm become MatMulInteger/DynamicQuantizeLinear).
* ``int8-static``: ``quantize_static`` in the QDQ format (QuantizeLinear/DequantizeLinear pairs that
  the runtime fuses into integer kernels), activation ranges calibrated (MinMax) on the model's
  seeded calibration set. Activations are unsigned 8-bit, weights signed (U8S8): the AVX2 fast path
  (``VPMADDUBSW``) on CPUs without VNNI.

A file lands under ``outputs/models/`` named by the fp32 file's name (spec and exporter hash), the
precision, the calibration size and seed, and the ONNX Runtime version, so it is made once per
machine and never reused across a changed spec, calibration or quantiser. (OpenVINO quantises with NNCF:
benchlib.precision.openvino_quant.)
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchlib.precision import CALIBRATION_SEED, calibration_set

#: How each INT8 precision is made (recorded in the record's ``precision_path``).
METHODS = {
    "int8-dynamic": "onnxruntime.quantization.quantize_dynamic (weights QInt8)",
    "int8-static": "onnxruntime.quantization.quantize_static, QDQ, MinMax calibration, activations QUInt8, "
                   "weights QInt8",
}


def quantized_path(fp32_path: Path, precision: str, calibration: int, version: str) -> Path:
    """Where the quantised file for ``precision`` lives (next to the fp32 file)."""
    suffix = f"-cal{calibration}s{CALIBRATION_SEED}" if precision == "int8-static" else ""
    return fp32_path.with_name(f"{fp32_path.stem}-{precision}{suffix}-ort{version}.onnx")


class _Reader:
    """``CalibrationDataReader`` protocol over the calibration set, a few rows per call."""

    def __init__(self, input_name: str, inputs: np.ndarray, rows: int = 16) -> None:
        self._batches = iter([{input_name: inputs[i:i + rows]} for i in range(0, len(inputs), rows)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


def ensure_quantized(spec: Any, fp32_path: Path, precision: str, calibration: int) -> Path:
    """The INT8 file for ``precision``, made on first use; errors of the quantiser propagate (a failed record)."""
    import onnxruntime
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    from benchlib.models.onnx_export import INPUT_NAME

    if precision not in METHODS:
        raise ValueError(f"precision={precision!r} is invalid here; allowed: {', '.join(METHODS)}")
    path = quantized_path(fp32_path, precision, calibration, onnxruntime.__version__)
    if path.exists():
        return path
    handle, tmp_name = tempfile.mkstemp(suffix=".onnx", dir=path.parent)
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        if precision == "int8-dynamic":
            quantize_dynamic(fp32_path, tmp, weight_type=QuantType.QInt8)
        else:
            reader = _Reader(INPUT_NAME, calibration_set(spec, calibration))
            CalibrationDataReader.register(_Reader)
            quantize_static(fp32_path, tmp, reader, quant_format=QuantFormat.QDQ,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        os.replace(tmp, path)  # atomic: a concurrent reader never sees half a file
    finally:
        tmp.unlink(missing_ok=True)
    return path
