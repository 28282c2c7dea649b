"""A case's backend, made the one way for the engine's timed loop and for LoadGen's scenarios.

Any model (a zoo spec, a user's ONNX file, a PyTorch factory's export) gets its backend from
:func:`~benchlib.backends.registry.create_model_backend`, the case's numeric precision before the
build (a backend without it raises :class:`~benchlib.errors.UnsupportedPrecisionError`: skipped),
and is told which batch sizes this process measures. The record's precision fields come from the
backend as created and as built; the accuracy of a reduced precision is measured after the
measurement, never inside it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from benchlib.engine.case import RunCase


def new_backend(case: RunCase, spec: Any, threads: int | None, variant: str | None,
                batch_sizes: Sequence[int], fields: dict[str, Any]) -> Any:
    """A backend of ``case`` for ``spec`` at the case's precision, told it measures ``batch_sizes`` (not built).

    Its variant goes into the record's ``fields`` at once, so a record whose precision the backend
    refuses still names the variant.
    """
    from benchlib.backends.registry import create_model_backend
    from benchlib.precision import calibration_size

    backend = create_model_backend(case.backend, spec, threads=threads, variant=variant)
    fields["variant"] = backend.variant
    size = calibration_size(dict(case.extra)) if case.precision == "int8-static" else None
    backend.use_precision(case.precision, size)
    backend.prepare_for_measurement(tuple(batch_sizes))
    return backend


def precision_fields(backend: Any, case: RunCase, env: dict[str, Any]) -> dict[str, Any]:
    """The record's precision fields of a backend made by :func:`new_backend` (before its build); the calibration
    set says what it was drawn from (:func:`benchlib.precision.drawn_from`)."""
    from benchlib.precision import CALIBRATION_SEED, drawn_from
    from benchlib.precision.hardware import hardware_support

    size = backend.calibration_size if case.precision == "int8-static" else None
    return {"precision_path": backend.precision_path,
            "calibration": {"size": size, "seed": CALIBRATION_SEED, **drawn_from(backend.spec)} if size else None,
            "precision_hardware": hardware_support(case.precision, env.get("isa_flags") or [])}


def built_fields(backend: Any, fields: dict[str, Any]) -> None:
    """What the build established, into ``fields``: the framework's version and precision report, the
    precision as built (it may say more, e.g. NNCF's model type) and the model file the framework read."""
    fields["framework_version"] = backend.version()
    fields["precision_hardware"]["framework"] = backend.precision_report()  # e.g. OpenVINO's capabilities
    fields["precision_path"] = backend.precision_path
    path = getattr(backend, "model_path", None)  # ONNX Runtime and OpenVINO: the exported or quantised file
    fields["model_file"] = str(path) if path is not None else None


def precision_accuracy(predict: Callable[[Any], Any], spec: Any, case: RunCase) -> dict[str, Any]:
    """Accuracy of a reduced-precision predictor on the seeded evaluation set (benchlib.precision.accuracy)."""
    from benchlib.precision import evaluation_size
    from benchlib.precision.accuracy import evaluate

    tick = time.perf_counter_ns()
    accuracy = evaluate(predict, spec, case.batch_size, evaluation_size(dict(case.extra)))
    accuracy["seconds"] = (time.perf_counter_ns() - tick) / 1e9
    return accuracy


def accuracy_fields(predict: Callable[[Any], Any], spec: Any, case: RunCase, fields: dict[str, Any]) -> None:
    """At a reduced precision, its ``accuracy`` into ``fields`` (a warning when there is no reference)."""
    from benchlib.errors import ReferenceUnavailableError

    if case.precision == "fp32":
        return
    try:
        fields["accuracy"] = precision_accuracy(predict, spec, case)
    except ReferenceUnavailableError as exc:  # nothing to measure the accuracy against
        fields["warnings"].append(f"accuracy not evaluated: {exc}")
