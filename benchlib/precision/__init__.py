"""Numeric precision of a case: fp32 (the default), bf16, and INT8 quantised dynamically or statically.

Every backend declares the precisions it has in a small table (``Backend.precisions``: precision →
how it is applied); a precision missing from a backend's table is *skipped* with the reason
(:class:`~benchlib.errors.UnsupportedPrecisionError`), never an error. The calibration set (static
INT8) and the evaluation set (accuracy of every reduced-precision record) are drawn from the model's
own input generator with fixed seeds, so every framework calibrates and is judged on the same
inputs, and the two sets never coincide. A user's model (an ONNX file or a factory's export) is fed named arrays
(a dict) instead of one array; the helpers below take rows of either. See docs/precision.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchlib.errors import UnsupportedPrecisionError

#: fp32 first: the default and the reference every reduced precision is compared with.
PRECISIONS = ("fp32", "bf16", "int8-dynamic", "int8-static")
DEFAULT_PRECISION = "fp32"
#: Seeds of the two input sets (far from the seeds of timed batches, 0, 1, ...).
CALIBRATION_SEED = 1_000_003
EVALUATION_SEED = 2_000_003
#: Calibration inputs for static INT8 (a case's ``extra["calibration_size"]`` overrides it).
CALIBRATION_SIZE = 256
#: Evaluation inputs for the accuracy of a reduced-precision record (``extra["evaluation_size"]``).
EVALUATION_SIZE = 1000
#: The same for a user's model: its reference is ONNX's reference evaluator, which runs op by op in
#: NumPy, far slower per row than the zoo's float64 reference (and it runs after the timed loop, in the
#: case's time budget).
USER_EVALUATION_SIZE = 100
#: Largest absolute error against the float64 reference accepted per reduced precision (a
#: probability output, so the error is bounded by 1). bf16 keeps 8 bits of mantissa (relative
#: rounding 2^-9 per operation); INT8 has 256 levels per tensor. fp32 uses the model's own tolerance.
TOLERANCES = {"bf16": 0.05, "int8-dynamic": 0.1, "int8-static": 0.1}


def require(backend: str, precision: str, table: dict[str, str], reasons: dict[str, str] | None = None) -> str:
    """How ``backend`` applies ``precision`` (its table's entry).

    Raises :class:`UnsupportedPrecisionError` for a precision missing from ``table``, with the
    backend's reason from ``reasons`` where it gives one. The name itself was checked where it entered
    (:func:`benchlib.engine.params.check_precision`); one no backend knows is missing from every table.
    """
    if precision not in table:
        why = f": {reasons[precision]}" if reasons and precision in reasons else ""
        raise UnsupportedPrecisionError(f"precision={precision!r} is not available for backend {backend!r}{why}; "
                                        f"it has: {', '.join(table)}")
    return table[precision]


def tolerance_for(precision: str, model_tolerance: float) -> float:
    """The largest accepted absolute error at ``precision`` (the model's own at fp32)."""
    return model_tolerance if precision == DEFAULT_PRECISION else max(model_tolerance, TOLERANCES[precision])


def _size(extra: dict[str, Any] | None, key: str, default: int) -> int:
    value = (extra or {}).get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1_000_000:
        raise ValueError(f"{key}={value!r} is invalid; allowed: an integer from 1 to 1000000")
    return value


def calibration_size(extra: dict[str, Any] | None = None) -> int:
    """Calibration inputs for a case (``extra["calibration_size"]`` or :data:`CALIBRATION_SIZE`)."""
    return _size(extra, "calibration_size", CALIBRATION_SIZE)


def _is_user_case(extra: dict[str, Any] | None) -> bool:
    """Whether a case's ``extra`` names a user's model (an ONNX file's hash or a factory's export)."""
    from benchlib.models.torch_factory import ERROR_KEY, ONNX_KEY
    from benchlib.models.user import SHA_KEY

    return any(key in (extra or {}) for key in (SHA_KEY, ONNX_KEY, ERROR_KEY))


def evaluation_size(extra: dict[str, Any] | None = None) -> int:
    """Evaluation inputs for a case (``extra["evaluation_size"]``, else :data:`EVALUATION_SIZE`, or
    :data:`USER_EVALUATION_SIZE` for a user's model)."""
    return _size(extra, "evaluation_size", USER_EVALUATION_SIZE if _is_user_case(extra) else EVALUATION_SIZE)


def draw_inputs(spec: Any, size: int, seed: int) -> np.ndarray | dict[str, np.ndarray]:
    """``size`` seeded inputs of ``spec``: one array (a zoo model) or a dict of named arrays (a user's model).

    A graph with a fixed batch dimension B runs only B rows at a time, so it gets whole batches
    (``size`` rounded up to a multiple of B), each drawn from its own seed.
    """
    fixed = getattr(spec, "fixed_batch", None)
    if not fixed:
        return spec.random_input(size, seed)
    parts = [spec.random_input(fixed, seed + k) for k in range(-(-size // fixed))]
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def drawn_from(spec: Any) -> dict[str, Any]:
    """What a user's model's calibration and evaluation inputs are (in a record's ``calibration``): seeded random
    inputs within each input's range (``--input-range``, else the default: floats in [0, 1), ids below the rows
    of the table they index), each range listed. A zoo model's come from its own generator: nothing added."""
    drawn = getattr(spec, "drawn_ranges", None)
    if drawn is None:
        return {}
    ranges = {name: [low, high] for name, (low, high) in drawn().items()}
    listed = ", ".join(f"{name} [{low:g}, {high:g})" for name, (low, high) in ranges.items())
    return {"inputs": f"seeded random inputs within the model's input ranges: {listed}", "input_ranges": ranges}


def calibration_set(spec: Any, size: int = CALIBRATION_SIZE) -> np.ndarray | dict[str, np.ndarray]:
    """The model's seeded calibration inputs, shared by every framework that calibrates."""
    return draw_inputs(spec, size, CALIBRATION_SEED)


def evaluation_set(spec: Any, size: int = EVALUATION_SIZE) -> np.ndarray | dict[str, np.ndarray]:
    """The model's seeded evaluation inputs (a different seed from calibration)."""
    return draw_inputs(spec, size, EVALUATION_SEED)


def row_count(inputs: np.ndarray | dict[str, np.ndarray]) -> int:
    """Rows of an input set: of its array, or of every named array (they share the batch axis)."""
    return len(next(iter(inputs.values()))) if isinstance(inputs, dict) else len(inputs)


def take_rows(inputs: np.ndarray | dict[str, np.ndarray], start: int, stop: int) -> np.ndarray | dict[str, np.ndarray]:
    """Rows ``start:stop`` of an input set (of each named array for a user's model)."""
    if isinstance(inputs, dict):
        return {name: array[start:stop] for name, array in inputs.items()}
    return inputs[start:stop]


def feed_rows(spec: Any, rows: int) -> int:
    """Rows per call when feeding a set to a framework: ``rows``, or a fixed-batch graph's own batch."""
    return getattr(spec, "fixed_batch", None) or rows
