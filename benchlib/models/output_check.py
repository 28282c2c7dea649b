"""The one output check: a run's outputs against the model's reference, and the verdict on the error.

Every harness checks outputs this way: the engine's timed loop (the first and last call), LoadGen's
scenarios (a few finished batches) and ``verify`` (each backend at the model's batch sizes). A zoo
model's outputs are compared with its float64 NumPy forward pass (absolute error); a user's model
(named inputs, every output) with ONNX's reference evaluator or its fallback, relative to each
output's magnitude (:meth:`~benchlib.models.onnx_model.OnnxModel.output_check`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from benchlib.models.reference import reference_forward
from benchlib.models.reference_check import NUMPY_FLOAT64, max_abs_error

#: (worst error, reference method, why not the first choice). The error and method are None, with
#: the reason, when no check could run: the outputs are then unverified, not wrong.
Check = tuple[float | None, str | None, str | None]


def worst_abs_error(results: Iterable[Any], reference: np.ndarray) -> float:
    """Worst absolute error of ``results`` (each one call's output) against ``reference``.

    An output that is not a NumPy array, has another shape or holds a NaN counts as infinitely wrong.
    """
    worst = 0.0
    for out in results:
        if not isinstance(out, np.ndarray):
            return float("inf")
        err = max_abs_error(out, reference)
        worst = max(worst, err if np.isfinite(err) else float("inf"))
    return worst


def check_outputs(spec: Any, inputs: Any, results: Sequence[Any], fallback_fault: bool = False) -> Check:
    """Check ``results`` (outputs of calls on ``inputs``) against ``spec``'s reference.

    ``inputs`` is an array for a zoo model, named arrays (a dict) for a user's model, whose every
    result is the list of its outputs. ``fallback_fault`` (tests only) makes a user model's
    fallback reference raise.
    """
    if isinstance(inputs, dict):
        return spec.output_check(inputs, list(results), fallback_fault)
    return worst_abs_error(results, reference_forward(spec, inputs)), NUMPY_FLOAT64, None


def worst_check(checks: Iterable[Check]) -> Check:
    """One verdict for several checked batches: the worst error, or unverified if any batch could not be checked."""
    checks = list(checks)
    if not checks:
        return None, None, "no outputs to check"
    for err, method, reason in checks:
        if err is None:
            return None, method, reason
    methods = ", ".join(dict.fromkeys(str(method) for _, method, _ in checks))
    reasons = "; ".join(dict.fromkeys(reason for _, _, reason in checks if reason)) or None
    return max(err for err, _, _ in checks if err is not None), methods, reasons


def error_problem(err: float, tolerance: float) -> str | None:
    """Why an error fails the tolerance (``max abs error ... > tolerance ...``), or None when it is within."""
    return None if err <= tolerance else f"max abs error {err:.3g} > tolerance {tolerance:g}"
