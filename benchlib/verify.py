"""Prove that every backend computes the spec's function: compare with a float64 reference."""

from __future__ import annotations

import traceback
from dataclasses import asdict, dataclass

import numpy as np

from benchlib.backends.registry import BACKEND_NAMES, create_backend, missing_requirement
from benchlib.models.reference import reference_forward
from benchlib.models.spec import ModelSpec

#: Largest absolute difference from the float64 reference accepted for float32 inference.
TOLERANCE = 1e-5
BATCH_SIZES = (1, 7, 1000)


@dataclass
class VerifyResult:
    """Outcome of verifying one backend."""

    backend: str
    version: str | None
    max_abs_err: float | None
    ok: bool
    status: str  # "pass", "fail", "skipped"
    reason: str = ""
    batch_sizes: tuple[int, ...] = BATCH_SIZES

    def to_dict(self) -> dict:
        return asdict(self)


def max_abs_error(outputs: np.ndarray, reference: np.ndarray) -> float:
    """Largest absolute difference, with a shape mismatch counted as infinitely wrong."""
    if outputs.shape != reference.shape:
        return float("inf")
    return float(np.max(np.abs(outputs.astype(np.float64) - reference)))


def verify_backend(
    name: str,
    spec: ModelSpec,
    batch_sizes: tuple[int, ...] = BATCH_SIZES,
    threads: int | None = None,
    variant: str | None = None,
    tolerance: float = TOLERANCE,
    seed: int | None = None,
) -> VerifyResult:
    """Build backend ``name`` and compare its outputs on fresh random inputs with the reference."""
    requirement = missing_requirement(name)
    if requirement is not None:
        return VerifyResult(name, None, None, False, "skipped", f"not installed: pip install {requirement}",
                            tuple(batch_sizes))
    version = None
    try:
        backend = create_backend(name, spec, threads=threads, variant=variant)
        version = backend.version()
        predict = backend.predictor()
        rng = np.random.default_rng(seed)
        worst = 0.0
        for batch in batch_sizes:
            inputs = rng.random((batch, *spec.input_shape), dtype=np.float32)
            outputs = predict(inputs)
            if not isinstance(outputs, np.ndarray) or outputs.dtype != np.float32:
                raise TypeError(f"predictor returned {type(outputs).__name__} "
                                f"{getattr(outputs, 'dtype', '')}, expected a float32 numpy array")
            worst = max(worst, max_abs_error(outputs, reference_forward(spec, inputs)))
    except Exception as exc:  # noqa: BLE001 - one broken backend must not hide the others
        last = traceback.format_exception_only(exc)[-1].strip()
        return VerifyResult(name, version, None, False, "fail", last, tuple(batch_sizes))
    ok = worst <= tolerance
    reason = "" if ok else f"max abs error {worst:.3g} > tolerance {tolerance:g}"
    return VerifyResult(name, version, worst, ok, "pass" if ok else "fail", reason, tuple(batch_sizes))


def verify_all(
    spec: ModelSpec,
    backends: list[str] | None = None,
    batch_sizes: tuple[int, ...] = BATCH_SIZES,
    threads: int | None = None,
    tolerance: float = TOLERANCE,
) -> list[VerifyResult]:
    """Verify each named backend (default: all known); missing frameworks come back as skipped."""
    return [verify_backend(name, spec, batch_sizes, threads=threads, tolerance=tolerance)
            for name in (backends or list(BACKEND_NAMES))]
