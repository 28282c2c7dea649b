"""How a run's outcome becomes record fields: an exception's status and reason, the output check's verdict.

One path for every harness: the engine's timed loop and LoadGen's scenarios (both in
:mod:`benchlib.engine.worker`) and ``verify`` (:mod:`benchlib.studies.verify`). A missing framework,
or a variant, precision, layer kind or scenario a backend does not have, is ``skipped`` with the
reason; any other exception is ``failed`` with its last line (and the traceback in the record).
"""

from __future__ import annotations

import traceback
from typing import Any

from benchlib.errors import BackendUnavailableError, UnsupportedLayerError, UnsupportedVariantError
from benchlib.models.output_check import Check, error_problem
from benchlib.results.schema import failed_record
from benchlib.scenarios.strategies import ScenarioUnsupportedError

#: Errors that mean "this backend cannot run this case", recorded as skipped (the layer error names the kind).
UNSUPPORTED = (UnsupportedVariantError, UnsupportedLayerError, ScenarioUnsupportedError)


def failure_of(exc: BaseException) -> tuple[str, str]:
    """``(status, reason)`` of a run that raised ``exc``: ``skipped`` or ``failed``, and why."""
    if isinstance(exc, BackendUnavailableError):
        return "skipped", f"not installed: pip install {exc.requirement}"
    if isinstance(exc, UNSUPPORTED):
        return "skipped", f"unsupported: {exc}"
    return "failed", traceback.format_exception_only(exc)[-1].strip()


def failure_record(case: Any, exc: BaseException, **fields: Any) -> dict[str, Any]:
    """The ``skipped`` or ``failed`` record of ``case`` after ``exc`` (a failure keeps its traceback).

    Called inside the ``except`` block, where the traceback is still the current one.
    """
    status, reason = failure_of(exc)
    if status == "failed":
        fields["traceback"] = "".join(traceback.format_exception(exc))
    return failed_record(case, status, reason, **fields)


def output_fields(check: Check, tolerance: float, precision: str, warnings: list[str]) -> dict[str, Any]:
    """The record's ``reference``, ``max_abs_err``, ``tolerance`` and ``outputs_valid`` from one output check.

    A check that could not run leaves the outputs unverified (``outputs_valid`` null) and says why in
    ``warnings``; an error above the tolerance says so too (naming a reduced precision).
    """
    err, method, reason = check
    valid = None if err is None else error_problem(err, tolerance) is None
    if err is None:
        warnings.append(f"outputs not verified: {reason}")
    elif not valid:
        warnings.append(f"outputs invalid: {error_problem(err, tolerance)}"
                        f"{'' if precision == 'fp32' else ' (' + precision + ')'}")
    return {"reference": {"method": method, "reason": reason}, "max_abs_err": err, "tolerance": tolerance,
            "outputs_valid": valid}
