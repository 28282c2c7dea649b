"""Prove that every backend computes the spec's function: compare with a float64 reference.

Each model states its own tolerance (:attr:`~benchlib.models.spec.ModelSpec.tolerance`, with the
reason); a backend passes a model when its largest absolute error over every verification batch
size is within it. The reference is computed once per model and batch, and shared by the backends.
A user's model (an ONNX file or a factory's export, :mod:`benchlib.models.user`) is checked output by
output against ONNX's reference evaluator or its fallback, relative to each output's magnitude
(:func:`verify_user_model`).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from benchlib.backends.registry import (
    BACKEND_NAMES,
    backend_variants,
    create_backend,
    create_model_backend,
    missing_requirement,
)
from benchlib.engine.outcome import failure_of
from benchlib.errors import (
    OnnxModelError,
    ReferenceUnavailableError,
)
from benchlib.models.onnx_model import RELATIVE_TOLERANCE, OnnxModel
from benchlib.models.output_check import error_problem, worst_abs_error
from benchlib.models.reference import reference_forward
from benchlib.models.reference_check import NUMPY_FLOAT64, relative_error
from benchlib.models.spec import ModelSpec
from benchlib.models.user import RANGES_KEY, SHAPES_KEY, VERIFY_BATCH_SIZES, is_user_model, load_model, memory_refusal

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
    #: a user model's two FLOP counts (benchlib's and onnx-tool's) more than 2x apart, or only one made: why
    flops_note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def _not_run(exc: BaseException, **result: object) -> VerifyResult:
    """The result of a backend that raised ``exc``: skipped or failed, as a record would be
    (:func:`benchlib.engine.outcome.failure_of`)."""
    status, reason = failure_of(exc)
    return VerifyResult(max_abs_err=None, ok=False, status="skipped" if status == "skipped" else "fail",
                        reason=reason, **result)  # type: ignore[arg-type]


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
            worst = max(worst, worst_abs_error([outputs], reference))
    except Exception as exc:  # noqa: BLE001 - one broken backend must not hide the others
        return _not_run(exc, version=version, seconds=time.perf_counter() - started, **result)
    problem = error_problem(worst, tolerance)
    ok, reason = problem is None, problem or ""
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
    from benchlib.models.zoo import MODELS, get_model

    results = []
    for model in models or list(MODELS):
        if is_user_model(model):  # an ONNX file or a factory: each backend's default variant, every output
            results += verify_named_model(model, backends, threads=threads, seed=seed, input_shapes=input_shapes,
                                          input_ranges=input_ranges)
            continue
        results += verify_all(get_model(model), backends, threads=threads, seed=seed, variants=variants)
    return results


def verify_user_model(model: OnnxModel, backends: Sequence[str] | None = None, threads: int | None = None,
                      seed: int | None = None, batch_sizes: Sequence[int] = VERIFY_BATCH_SIZES) -> list[VerifyResult]:
    """Each backend's outputs (every output) against the reference evaluator, relative to its magnitude.

    A batch that will not fit in memory is refused (:class:`OnnxModelError`, with the estimate)
    before any input is drawn. A reference evaluator that raises is replaced by the fallback of
    :mod:`benchlib.models.reference_check` (each result names it in ``reference``); when that
    cannot run either, no backend passes: each result says the model is not verified, and why.
    """
    sizes = (model.fixed_batch,) if model.fixed_batch else tuple(batch_sizes)
    problem = memory_refusal(model, sizes)
    if problem:
        raise OnnxModelError(problem)
    rng = np.random.default_rng(seed)
    names = list(backends or BACKEND_NAMES)
    label = {"batch_sizes": sizes, "model": model.factory or str(model.path), "tolerance": model.tolerance,
             "flops_note": model.flops_disagreement() or ""}
    try:  # An op without a schema stops the reference evaluator too; every backend then skips, naming it.
        drawn = [] if model.unknown_ops else [model.random_input(b, int(rng.integers(2**31))) for b in sizes]
        checked = [(feeds, model.reference_check(feeds)) for feeds in drawn]
    except ReferenceUnavailableError as exc:  # neither the evaluator nor the fallback: nothing verifies it
        return [VerifyResult(backend=name, version=None, max_abs_err=None, ok=False, status="fail",
                             reason=f"{NOT_VERIFIED}: {exc}", reference=None, **label) for name in names]
    except Exception as exc:  # noqa: BLE001 - the user's graph: no backend can be checked against it
        reason = "the reference check failed: " + traceback.format_exception_only(exc)[-1].strip()
        return [VerifyResult(backend=name, version=None, max_abs_err=None, ok=False, status="fail", reason=reason,
                             reference=None, **label) for name in names]
    cases = [(feeds, reference.outputs) for feeds, reference in checked]
    # the method(s) the batches were checked with, and why the evaluator was not used (both per batch, once each)
    label["reference"] = ", ".join(dict.fromkeys(r.method for _, r in checked)) or None
    label["reference_reason"] = "; ".join(dict.fromkeys(r.reason for _, r in checked if r.reason))
    results = []
    for name in names:
        common = {"backend": name, **label}
        version, started = None, time.perf_counter()
        try:
            backend = create_model_backend(name, model, threads=threads)
            if backend.variant != backend_variants(name)[0]:  # another path than the framework's own (Keras on PyTorch)
                common["variant"] = backend.variant
            version = backend.version()
            predict = backend.raw_predictor()
            worst = 0.0
            for feeds, reference in cases:
                outputs = predict(feeds)
                if len(outputs) != len(reference):
                    raise ValueError(f"{len(outputs)} outputs returned; expected {len(reference)}")
                worst = max([worst, *(relative_error(o, r) for o, r in zip(outputs, reference, strict=True))])
        except Exception as exc:  # noqa: BLE001 - one broken backend must not hide the others
            results.append(_not_run(exc, version=version, seconds=time.perf_counter() - started, **common))
            continue
        ok = worst <= model.tolerance
        results.append(VerifyResult(version=version, max_abs_err=worst, ok=ok, status="pass" if ok else "fail",
                                    reason="" if ok else f"max relative error {worst:.3g} > tolerance "
                                                         f"{model.tolerance:g}",
                                    seconds=time.perf_counter() - started, **common))
    return results


def flops_notes(results: Sequence[VerifyResult]) -> list[str]:
    """One line per model whose FLOP counts disagree (``flops_note``), under a ``FLOPs:`` heading; [] if none."""
    notes = {r.model: r.flops_note for r in results if r.flops_note}
    return ["", "FLOPs:", *(f"  {model}: {note}" for model, note in notes.items())] if notes else []


def verify_named_model(name: str, backends: Sequence[str] | None = None, threads: int | None = None,
                       seed: int | None = None, input_shapes: str | None = None,
                       input_ranges: str | None = None) -> list[VerifyResult]:
    """:func:`verify_user_model` on an ONNX path or a factory; a factory that raises fails every backend."""
    try:
        settings = {key: value for key, value in ((SHAPES_KEY, input_shapes), (RANGES_KEY, input_ranges)) if value}
        model = load_model(name, settings)
    except OnnxModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - the factory's own error, reported per backend
        reason = "factory raised: " + traceback.format_exception_only(exc)[-1].strip()
        return [VerifyResult(backend=b, version=None, max_abs_err=None, ok=False, status="fail", reason=reason,
                             batch_sizes=(), model=name, tolerance=RELATIVE_TOLERANCE, reference=None)
                for b in backends or BACKEND_NAMES]
    return verify_user_model(model, backends, threads=threads, seed=seed)
