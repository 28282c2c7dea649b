"""A user's model behind the same worker, verification and records as a zoo model.

A model is named three ways (docs/models.md): a zoo name (``fnn``), a path to an ONNX file
(``path/to/model.onnx``) or a PyTorch factory (``torch:package.module:function``, see
:mod:`benchlib.models.torch_factory`). :func:`load_model` turns any name into what the worker runs;
:func:`create_model_backend` gives ONNX Runtime and OpenVINO backends that read the user's file (or
the factory's export) itself, PyTorch the factory's own module, and a reasoned skip for every
framework without a converter that installs here.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchlib.backends.base import Backend, BackendUnavailableError, UnsupportedVariantError
from benchlib.backends.onnxruntime import OnnxRuntimeBackend
from benchlib.backends.openvino import OpenVinoBackend
from benchlib.models.onnx_model import (
    RELATIVE_TOLERANCE,
    OnnxModel,
    OnnxModelError,
    format_input_shapes,
    load_onnx_model,
)
from benchlib.models.reference_check import relative_error
from benchlib.models.spec import ModelSpec

#: Prefixes of a factory name (``torch:package.module:function``).
FACTORY_PREFIXES = ("torch:", "keras:")
#: ``run``'s batch sizes for an ONNX file with a dynamic batch (``--batch-sizes`` chooses others).
USER_BATCH_SIZES = (1, 32)
#: ``verify``'s batch sizes for a user model with a dynamic batch (a fixed batch verifies at its own).
VERIFY_BATCH_SIZES = (1, 3)
#: The batch a factory's export is traced with (drawn before the factory's module is known to fit).
EXPORT_BATCH = 2
#: Why each framework without a native ONNX reader skips an ONNX model (checked against the pinned stack).
NO_CONVERTER = {
    "pytorch": "no ONNX-to-PyTorch converter installs with the pinned stack: onnx2torch 1.5.15 requires "
               "torchvision, which is not part of this environment (torch 2.13 CPU build)",
    "tensorflow": "no maintained ONNX-to-TensorFlow converter: onnx-tf 1.10.0 (the last release) requires "
                  "tensorflow-addons, which has reached end of life",
    "litert": "LiteRT's converter reads TensorFlow models (Keras, SavedModel), and no maintained ONNX-to-TensorFlow "
              "converter exists: onnx-tf 1.10.0 (the last release) requires tensorflow-addons, which has reached "
              "end of life",
    "jax": "no ONNX converter for jax installs with the pinned stack",
    "numpy": "the NumPy baseline builds only the zoo's layer kinds; an ONNX graph's NumPy run is the reference "
             "evaluator, which checks the others",
}
#: Case ``extra`` keys a user model adds: the file's hash (two files of one name never share a case key),
#: the given dynamic input shapes and input value ranges.
SHA_KEY, SHAPES_KEY, RANGES_KEY = "model_sha256", "input_shape", "input_range"
#: Why ``keras:`` factories are refused (checked with ``pip install --dry-run tf2onnx``).
KERAS_REFUSAL = ("not implemented: tf2onnx 1.17.0 would install beside the pinned onnx 1.23.2 and protobuf 7.36.2 "
                 "(pip install --dry-run), but it is not a benchlib dependency and its Keras 3 export is unchecked")


class ModelNameError(OnnxModelError):
    """A model name that is neither a zoo name, an ONNX path nor a supported factory."""


def is_onnx_name(name: str) -> bool:
    """Whether ``name`` names an ONNX file (it ends in ``.onnx``)."""
    return isinstance(name, str) and name.lower().endswith(".onnx")


def is_user_model(name: str) -> bool:
    """Whether ``name`` is an ONNX path or a factory rather than a zoo name."""
    return is_onnx_name(name) or (isinstance(name, str) and name.startswith(FACTORY_PREFIXES))


def check_model_name(name: str) -> None:
    """Refuse a name that is none of the three forms (syntax only; :func:`load_model` checks the file)."""
    from benchlib.models.zoo import MODELS

    if name in MODELS or is_onnx_name(name):
        return
    if isinstance(name, str) and name.startswith("keras:"):
        raise ModelNameError(f"model={name!r}: Keras factories are not supported: {KERAS_REFUSAL}; allowed: a zoo "
                             "name, a path to an .onnx file or torch:package.module:function")
    if isinstance(name, str) and name.startswith("torch:"):
        from benchlib.models.torch_factory import parse_factory

        parse_factory(name)  # the form only: importing it is the planning's (a child process's) work
        return
    raise ModelNameError(f"model={name!r} is unknown; allowed: {', '.join(MODELS)}, a path to an .onnx file or "
                         "torch:package.module:function")


def load_model(name: str, extra: Mapping[str, Any] | Sequence[tuple[str, Any]] = ()) -> ModelSpec | OnnxModel:
    """The zoo spec or the checked user model ``name`` stands for; ``extra`` is the case's (shapes, hash).

    A file whose hash differs from the planned one is refused: the results would mix two models.
    """
    from benchlib.models.zoo import get_model

    check_model_name(name)
    if not is_user_model(name):
        return get_model(name)
    settings = dict(extra)
    if is_factory_name(name):
        from benchlib.models.torch_factory import load_factory_model

        model = load_factory_model(name, settings, factory_input_shape(name, settings.get(SHAPES_KEY)))
        model.set_input_ranges(settings.get(RANGES_KEY))
        return model
    model = load_onnx_model(name, settings.get(SHAPES_KEY))
    model.set_input_ranges(settings.get(RANGES_KEY))
    planned = settings.get(SHA_KEY)
    if planned and planned != model.sha256:
        raise OnnxModelError(f"--models={name!r} changed since the run was planned (sha256 {model.sha256[:12]}, "
                             f"planned {planned[:12]}); allowed: an unchanged file (plan the run again)")
    return model


def case_extra(name: str, input_shapes: str | Mapping[str, Any] | None = None,
               input_ranges: str | None = None, timeout_s: float | None = None) -> tuple[tuple[str, Any], ...]:
    """The ``extra`` pairs a case of model ``name`` carries (none for a zoo model). Checks the file.

    A factory is planned (built and exported) in a child process killed after ``timeout_s`` (the
    run's ``--timeout``; default 600 s).
    """
    if not is_user_model(name):
        return ()
    if input_ranges:  # checked against the model's inputs, then carried (and part of the case key)
        from benchlib.models.torch_factory import ERROR_KEY

        base = case_extra(name, input_shapes, timeout_s=timeout_s)
        if ERROR_KEY not in dict(base):  # a factory that raised fails in its cases, with its traceback
            load_model(name, dict(base) | {RANGES_KEY: input_ranges})
        return base + ((RANGES_KEY, input_ranges),)
    if is_factory_name(name):
        from benchlib.models.torch_factory import PLAN_TIMEOUT_S, plan_factory

        check_model_name(name)  # keras: is refused with its reason before any process starts
        shape = factory_input_shape(name, input_shapes)
        if shape:  # the export's example input must fit before a process is started to draw it
            from benchlib.models.memory import input_memory_problem

            problem = input_memory_problem(name, shape, EXPORT_BATCH)
            if problem:
                raise ModelNameError(problem)
        planned = plan_factory(name, shape, PLAN_TIMEOUT_S if timeout_s is None else float(timeout_s))
        return planned + (((SHAPES_KEY, f"input={','.join(map(str, shape))}"),) if shape else ())
    model = load_model(name, {SHAPES_KEY: input_shapes} if input_shapes else {})
    pairs = [(SHA_KEY, model.sha256)]
    if model.input_shapes:
        pairs.append((SHAPES_KEY, format_input_shapes(model.input_shapes)))
    return tuple(pairs)


def is_factory_name(name: str) -> bool:
    """Whether ``name`` is a factory (``torch:...``)."""
    return isinstance(name, str) and name.startswith(FACTORY_PREFIXES)


def factory_input_shape(name: str, input_shapes: str | Mapping[str, Any] | None) -> tuple[int, ...] | None:
    """A factory's ``--input-shape input=d1,d2`` (its one input is named ``input``), or None."""
    from benchlib.models.onnx_model import parse_input_shapes

    shapes = parse_input_shapes(input_shapes)
    other = sorted(set(shapes) - {"input"})
    if other:
        raise ModelNameError(f"--input-shape names {other[0]!r}, which is not an input of {name}; allowed: input")
    return shapes.get("input")


def planned_model(name: str, input_shapes: str | None = None, input_ranges: str | None = None,
                  timeout_s: float | None = None) -> ModelSpec | OnnxModel | None:
    """The model as its cases will see it (a factory planned and exported), or None if the factory raised."""
    from benchlib.models.torch_factory import ERROR_KEY

    extra = dict(case_extra(name, input_shapes, input_ranges, timeout_s=timeout_s))
    return None if ERROR_KEY in extra else load_model(name, extra)


def memory_refusal(model: ModelSpec | OnnxModel | None, batch_sizes: Sequence[int],
                   available_bytes: int | None = None) -> str | None:
    """Why the largest of ``batch_sizes`` (a fixed batch: its own) of any model will not fit in memory, or None.

    Checked from the declared shapes before any process allocates the batch; ``None`` for a factory
    that raised while planning (``model`` None: its cases fail with its traceback).
    """
    from benchlib.models.memory import available_memory_bytes

    if model is None or not batch_sizes:
        return None
    fixed = getattr(model, "fixed_batch", None)
    largest = fixed or max(batch_sizes)
    return model.batch_memory_problem(largest, available_memory_bytes() if available_bytes is None
                                      else available_bytes)


def model_identity(model: ModelSpec | OnnxModel) -> dict[str, Any]:
    """Name, kind, hash, size, parameters and FLOPs of any model (a record's ``model_info``)."""
    if isinstance(model, OnnxModel):
        return model.identity()
    return {"name": model.name, "kind": "zoo", "content_hash": model.content_hash,
            "parameter_count": model.parameter_count(), "flops_per_sample": model.flops_per_sample(),
            "tolerance": model.tolerance, "tolerance_kind": "absolute"}


class _FixedBatch:
    """A model whose inputs fix the batch size measures only that size: any other is skipped with the reason."""

    def prepare_for_measurement(self, batch_sizes: Sequence[int] = ()) -> None:
        fixed = self.spec.fixed_batch  # type: ignore[attr-defined]
        other = [b for b in batch_sizes if fixed is not None and b != fixed]
        if other:
            name = self.spec.name  # type: ignore[attr-defined]
            raise UnsupportedVariantError(f"batch_size={other[0]} is not a batch size of {name}: its inputs fix the "
                                          f"batch dimension at {fixed} (running another would measure a reshaped "
                                          f"model); allowed: {fixed}")
        super().prepare_for_measurement(batch_sizes)  # type: ignore[misc]


class UserOnnxRuntimeBackend(_FixedBatch, OnnxRuntimeBackend):
    """ONNX Runtime on the user's file: every input fed by name, every output returned (a list)."""

    def onnx_file(self) -> Path:
        return self.spec.onnx_file

    def _make_predictor(self):  # -> Callable[[dict], list[np.ndarray]]
        run = self._session.run
        names = [o.name for o in self.spec.outputs]
        return lambda feeds: run(names, feeds)


class UserOpenVinoBackend(_FixedBatch, OpenVinoBackend):
    """OpenVINO on the user's file: one static-shape compiled model and request per batch size.

    A file whose batch dimension is static runs as it is, at that batch only: reshaping it to
    another batch size would measure (and verify) a model the user did not give.
    """

    def onnx_file(self) -> Path:
        return self.spec.onnx_file

    def _make_predictor(self):  # -> Callable[[dict], list[np.ndarray]]
        if self.variant == "async":
            raise UnsupportedVariantError("variant 'async' splits one input array across requests; a user "
                                          "model's inputs are several named arrays; allowed: latency, throughput")
        from benchlib.backends.openvino import check_static_batch

        requests: dict[int, Any] = {}
        names = [o.name for o in self.spec.outputs]

        def predict(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
            batch = next(iter(feeds.values())).shape[0]
            request = requests.get(batch)
            if request is None:  # a new batch size: reshape + compile (the cold call pays it)
                model = self._model.clone()
                check_static_batch(model, batch, self.spec.name)  # never reshaped to another batch size
                model.reshape({info.name: [batch, *info.shape] for info in self.spec.inputs})
                request = requests[batch] = self._core.compile_model(model, "CPU", self._config).create_infer_request()
            request.infer(feeds)
            return [request.get_tensor(name).data.copy() for name in names]

        return predict


def create_model_backend(name: str, model: ModelSpec | OnnxModel, threads: int | None = None,
                         variant: str | None = None) -> Backend:
    """Backend ``name`` for any model; a framework that cannot run it raises an error recorded as skipped."""
    from benchlib.backends.registry import create_backend, get_entry, missing_requirement

    if isinstance(model, ModelSpec):
        return create_backend(name, model, threads=threads, variant=variant)
    get_entry(name)  # an unknown backend name lists the valid ones
    if model.unknown_ops:
        raise UnsupportedVariantError(f"op(s) {', '.join(model.unknown_ops)} of {model.path.name} have no ONNX "
                                      f"schema: {name} cannot run them (nor can the reference evaluator)")
    classes = {"onnxruntime": UserOnnxRuntimeBackend, "openvino": UserOpenVinoBackend}
    if model.factory:
        from benchlib.models.torch_factory import TorchFactoryBackend

        classes["pytorch"] = TorchFactoryBackend  # the module itself, not its export
    if name not in classes:
        what = f"{model.factory}'s ONNX export" if model.factory else "an ONNX file"
        raise UnsupportedVariantError(f"{name} cannot run {what}: {NO_CONVERTER[name]}")
    requirement = missing_requirement(name)
    if requirement is not None:
        raise BackendUnavailableError(name, requirement)
    return classes[name](model, threads=threads, variant=variant)  # type: ignore[arg-type]


def verify_user_model(model: OnnxModel, backends: Sequence[str] | None = None, threads: int | None = None,
                      seed: int | None = None, batch_sizes: Sequence[int] = VERIFY_BATCH_SIZES) -> list:
    """Each backend's outputs (every output) against the reference evaluator, relative to its magnitude.

    A batch that will not fit in memory is refused (:class:`OnnxModelError`, with the estimate)
    before any input is drawn. A reference evaluator that raises is replaced by the fallback of
    :mod:`benchlib.models.reference_check` (each result names it in ``reference``); when that
    cannot run either, no backend passes: each result says the model is not verified, and why.
    """
    from benchlib.backends.registry import BACKEND_NAMES
    from benchlib.models.reference_check import ReferenceUnavailableError
    from benchlib.studies.verify import NOT_VERIFIED, VerifyResult

    sizes = (model.fixed_batch,) if model.fixed_batch else tuple(batch_sizes)
    problem = memory_refusal(model, sizes)
    if problem:
        raise OnnxModelError(problem)
    rng = np.random.default_rng(seed)
    names = list(backends or BACKEND_NAMES)
    label = {"batch_sizes": sizes, "model": model.factory or str(model.path), "tolerance": model.tolerance}
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
            version = backend.version()
            predict = backend.raw_predictor()
            worst = 0.0
            for feeds, reference in cases:
                outputs = predict(feeds)
                if len(outputs) != len(reference):
                    raise ValueError(f"{len(outputs)} outputs returned; expected {len(reference)}")
                worst = max([worst, *(relative_error(o, r) for o, r in zip(outputs, reference, strict=True))])
        except (UnsupportedVariantError, NotImplementedError, BackendUnavailableError) as exc:
            results.append(VerifyResult(version=version, max_abs_err=None, ok=False, status="skipped",
                                        reason=f"unsupported: {exc}", seconds=time.perf_counter() - started,
                                        **common))
            continue
        except Exception as exc:  # noqa: BLE001 - one broken backend must not hide the others
            results.append(VerifyResult(version=version, max_abs_err=None, ok=False, status="fail",
                                        reason=traceback.format_exception_only(exc)[-1].strip(),
                                        seconds=time.perf_counter() - started, **common))
            continue
        ok = worst <= model.tolerance
        results.append(VerifyResult(version=version, max_abs_err=worst, ok=ok, status="pass" if ok else "fail",
                                    reason="" if ok else f"max relative error {worst:.3g} > tolerance "
                                                         f"{model.tolerance:g}",
                                    seconds=time.perf_counter() - started, **common))
    return results



def verify_named_model(name: str, backends: Sequence[str] | None = None, threads: int | None = None,
                       seed: int | None = None, input_shapes: str | None = None,
                       input_ranges: str | None = None) -> list:
    """:func:`verify_user_model` on an ONNX path or a factory; a factory that raises fails every backend."""
    from benchlib.backends.registry import BACKEND_NAMES
    from benchlib.studies.verify import VerifyResult

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
