"""INT8 ONNX files made by ONNX Runtime's quantiser from a model's ONNX file, cached by its content hash.

* ``int8-dynamic``: ``quantize_dynamic`` (weights INT8 ahead of time, activations quantised per call
  from their observed range; MatMul/Gemm become MatMulInteger/DynamicQuantizeLinear).
* ``int8-static``: ``quantize_static`` in the QDQ format (QuantizeLinear/DequantizeLinear pairs that
  the runtime fuses into integer kernels), activation ranges calibrated (MinMax) on the model's
  seeded calibration set. Activations are unsigned 8-bit, weights signed (U8S8): the AVX2 fast path
  (``VPMADDUBSW``) on CPUs without VNNI.

A file lands under benchlib's models folder (``outputs/models/``, see :mod:`benchlib.system.paths`), never
beside its source, which may be a user's file that benchlib only reads. It is named by the source's
name and the SHA-256 of its content (with any external data), the precision, the calibration size and
seed, and the ONNX Runtime version, so it is made once per machine and never reused across a changed
model, calibration or quantiser. The quantiser is handed the model in memory: given a path, ONNX
Runtime writes a shape-inferred copy beside it. (OpenVINO quantises with NNCF:
benchlib.precision.openvino_quant.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchlib.precision import CALIBRATION_SEED, calibration_set, feed_rows, row_count, take_rows
from benchlib.system.files import atomic_path

#: How each INT8 precision is made (recorded in the record's ``precision_path``).
METHODS = {
    "int8-dynamic": "onnxruntime.quantization.quantize_dynamic (weights QInt8)",
    "int8-static": "onnxruntime.quantization.quantize_static, QDQ, MinMax calibration, activations QUInt8, "
                   "weights QInt8",
}


def quantized_path(source_sha256: str, stem: str, precision: str, calibration: int, version: str) -> Path:
    """Where the quantised file for ``precision`` of a source with content hash ``source_sha256`` lives."""
    from benchlib.system.paths import models_dir

    suffix = f"-cal{calibration}s{CALIBRATION_SEED}" if precision == "int8-static" else ""
    return models_dir() / f"{stem}-{source_sha256[:16]}-{precision}{suffix}-ort{version}.onnx"


def source_files(spec: Any, fp32_path: Path) -> list[Path]:
    """The files the quantiser reads: the ONNX file and its external data (a user's model may have some)."""
    return [fp32_path, *(fp32_path.parent / name for name in getattr(spec, "external_files", ()))]


class _Reader:
    """``CalibrationDataReader`` protocol over the calibration set, a few rows per call, fed by input name."""

    def __init__(self, inputs: np.ndarray | dict[str, np.ndarray], rows: int = 16) -> None:
        from benchlib.models.onnx_export import INPUT_NAME

        feeds = inputs if isinstance(inputs, dict) else {INPUT_NAME: inputs}  # a zoo export has one input
        self._batches = iter([take_rows(feeds, i, i + rows) for i in range(0, row_count(feeds), rows)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


def ensure_quantized(spec: Any, fp32_path: Path, precision: str, calibration: int) -> Path:
    """The INT8 file for ``precision``, made on first use; errors of the quantiser propagate (a failed record)."""
    import onnx
    import onnxruntime
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    from benchlib.models.onnx_model import file_digest

    if precision not in METHODS:
        raise ValueError(f"precision={precision!r} is invalid here; allowed: {', '.join(METHODS)}")
    files = source_files(spec, fp32_path)
    # A user's model was hashed (external data included) when it was loaded in this process: hashing a large
    # file again would land in every INT8 case's build time. A zoo export is small and hashed here.
    known = getattr(spec, "sha256", None) if Path(getattr(spec, "path", "")) == fp32_path else None
    digest = known or file_digest(files)
    path = quantized_path(digest, fp32_path.stem, precision, calibration, onnxruntime.__version__)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    # In memory (external data read from beside the file): a path would make the quantiser write beside it.
    model = onnx.load(str(fp32_path))
    # written whole under a temporary name and renamed: a concurrent reader never sees half a file
    with atomic_path(path, suffix=".onnx") as tmp:
        if precision == "int8-dynamic":
            quantize_dynamic(model, tmp, weight_type=QuantType.QInt8)
        else:
            reader = _Reader(calibration_set(spec, calibration), feed_rows(spec, 16))
            CalibrationDataReader.register(_Reader)
            quantize_static(model, tmp, reader, quant_format=QuantFormat.QDQ,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        if file_digest(files) != digest:  # the name would promise content the file no longer has
            raise RuntimeError(f"{fp32_path} changed while it was being quantised; allowed: a model file left "
                               "unchanged during the run")
    return path
