"""Prove that every backend computes the spec's function: compare with a float64 reference.

Each model states its own tolerance (:attr:`~benchlib.models.spec.ModelSpec.tolerance`, with the
reason); a backend passes a model when its largest absolute error over every verification batch
size is within it. The reference is computed once per model and batch, and shared by the backends.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from benchlib.backends.base import UnsupportedVariantError
from benchlib.backends.registry import BACKEND_NAMES, backend_variants, create_backend, missing_requirement
from benchlib.models.reference import reference_forward
from benchlib.models.reference_check import NUMPY_FLOAT64
from benchlib.models.spec import ModelSpec, UnsupportedLayerError

#: fnn's verification batch sizes (each model states its own in ``verify_batch_sizes``).
BATCH_SIZES = (1, 7, 1000)

#: (inputs, float64 reference outputs) per batch size
Cases = list[tuple[np.ndarray, np.ndarray]]
#: How the reason of a model no check could run begins (its results fail: nothing was compared).
NOT_VERIFIED = "not verified"


@dataclass
class VerifyResult:
    """Outcome of verifying one backend on one model."""

    backend: str
    version: str | None
    max_abs_err: float | None
    ok: bool
    status: str  # "pass", "fail", "skipped"
    reason: str = ""
    batch_sizes: tuple[int, ...] = BATCH_SIZES
    model: str = "fnn"
    tolerance: float | None = None
    seconds: float | None = None  # build and calls, excluding the reference
    variant: str | None = None  # None: the backend's default
    #: what the outputs were compared with (benchlib.models.reference_check.METHODS); None: nothing could run
    reference: str | None = NUMPY_FLOAT64
    reference_reason: str = ""  # why not the first choice (ONNX's reference evaluator), or ""

    def to_dict(self) -> dict:
        return asdict(self)


def max_abs_error(outputs: np.ndarray, reference: np.ndarray) -> float:
    """Largest absolute difference, with a shape mismatch counted as infinitely wrong."""
    if outputs.shape != reference.shape:
        return float("inf")
    return float(np.max(np.abs(outputs.astype(np.float64) - reference)))


def reference_cases(spec: ModelSpec, batch_sizes: Sequence[int], seed: int | None = None) -> Cases:
    """Random inputs of each batch size (drawn from ``seed``) with their float64 reference outputs."""
    rng = np.random.default_rng(seed)
    cases = []
    for batch in batch_sizes:
        inputs = spec.random_input(batch, seed=int(rng.integers(2**31)))
        cases.append((inputs, reference_forward(spec, inputs)))
    return cases


def verify_backend(
    name: str,
    spec: ModelSpec,
    batch_sizes: Sequence[int] | None = None,
    threads: int | None = None,
    variant: str | None = None,
    tolerance: float | None = None,
    seed: int | None = None,
    cases: Cases | None = None,
) -> VerifyResult:
    """Build backend ``name`` and compare its outputs on random inputs with the reference.

    ``batch_sizes`` and ``tolerance`` default to the model's own; ``cases`` (from
    :func:`reference_cases`) lets several backends share one reference computation.
    """
    tolerance = spec.tolerance if tolerance is None else tolerance
    if cases is None:
        cases = reference_cases(spec, batch_sizes or spec.verify_batch_sizes, seed)
    sizes = tuple(inputs.shape[0] for inputs, _ in cases)
    result = {"backend": name, "batch_sizes": sizes, "model": spec.name, "tolerance": tolerance, "variant": variant}
    requirement = missing_requirement(name)
    if requirement is not None:
        return VerifyResult(version=None, max_abs_err=None, ok=False, status="skipped",
                            reason=f"not installed: pip install {requirement}", **result)
    version = None
    started = time.perf_counter()
    try:
        backend = create_backend(name, spec, threads=threads, variant=variant)
        version = backend.version()
        predict = backend.predictor()
        worst = 0.0
        for inputs, reference in cases:
            outputs = predict(inputs)
            if not isinstance(outputs, np.ndarray) or outputs.dtype != np.float32:
                raise TypeError(f"predictor returned {type(outputs).__name__} "
                                f"{getattr(outputs, 'dtype', '')}, expected a float32 numpy array")
            worst = max(worst, max_abs_error(outputs, reference))
    except (UnsupportedLayerError, UnsupportedVariantError) as exc:
        return VerifyResult(version=version, max_abs_err=None, ok=False, status="skipped",
                            reason=f"unsupported: {exc}", seconds=time.perf_counter() - started, **result)
    except Exception as exc:  # noqa: BLE001 - one broken backend must not hide the others
        last = traceback.format_exception_only(exc)[-1].strip()
        return VerifyResult(version=version, max_abs_err=None, ok=False, status="fail", reason=last,
                            seconds=time.perf_counter() - started, **result)
    ok = worst <= tolerance
    reason = "" if ok else f"max abs error {worst:.3g} > tolerance {tolerance:g}"
    return VerifyResult(version=version, max_abs_err=worst, ok=ok, status="pass" if ok else "fail", reason=reason,
                        seconds=time.perf_counter() - started, **result)


def _variants(name: str, variants: Sequence[str] | str | None) -> list[str | None]:
    """None: the default variant; "all": every variant of the backend; a list: those it offers."""
    if variants is None or missing_requirement(name) is not None:
        return [None]
    offered = backend_variants(name)
    return list(offered) if variants == "all" else [v for v in variants if v in offered]


def verify_all(
    spec: ModelSpec,
    backends: list[str] | None = None,
    batch_sizes: Sequence[int] | None = None,
    threads: int | None = None,
    tolerance: float | None = None,
    seed: int | None = None,
    variants: Sequence[str] | str | None = None,
) -> list[VerifyResult]:
    """Verify each named backend (default: all known) on one model, sharing one reference;
    missing frameworks come back as skipped. ``variants``: None (each backend's default), "all"
    or a list of names (each backend runs those it offers)."""
    cases = reference_cases(spec, batch_sizes or spec.verify_batch_sizes, seed)
    return [verify_backend(name, spec, threads=threads, variant=variant, tolerance=tolerance, cases=cases)
            for name in (backends or list(BACKEND_NAMES)) for variant in _variants(name, variants)]


def verify_models(
    models: Sequence[str] | None = None,
    backends: list[str] | None = None,
    threads: int | None = None,
    seed: int | None = None,
    variants: Sequence[str] | str | None = None,
    input_shapes: str | None = None,
    input_ranges: str | None = None,
) -> list[VerifyResult]:
    """Verify every backend on every named model (default: all), each at the model's own batch sizes
    and tolerance; results in model order, then backend order. A path to an ONNX file is checked
    against ONNX's reference evaluator (``input_shapes``: its dynamic dimensions, ``NAME=d1,d2;...``;
    ``input_ranges``: the values drawn, ``NAME=LOW:HIGH;...``)."""
    from benchlib.models.user import is_user_model, verify_named_model
    from benchlib.models.zoo import MODELS, get_model

    results = []
    for model in models or list(MODELS):
        if is_user_model(model):  # an ONNX file or a factory: each backend's default variant, every output
            results += verify_named_model(model, backends, threads=threads, seed=seed, input_shapes=input_shapes,
                                          input_ranges=input_ranges)
            continue
        results += verify_all(get_model(model), backends, threads=threads, seed=seed, variants=variants)
    return results
