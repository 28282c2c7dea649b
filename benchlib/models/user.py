"""A user's model behind the same worker, verification and records as a zoo model.

A model is named four ways (docs/models.md): a zoo name (``fnn``), a path to an ONNX file
(``path/to/model.onnx``) or a factory: PyTorch's (``torch:package.module:function``, see
:mod:`benchlib.models.torch_factory`) or Keras's (``keras:package.module:function``, see
:mod:`benchlib.models.keras_factory`). :func:`load_model` turns any name into what the worker runs,
and :func:`case_extra` into what a case carries (the file's hash, the given shapes and ranges, a
factory's planned export). Which backends run a user model, and how, is
:func:`benchlib.backends.registry.create_model_backend`'s; checking them against the reference is
:func:`benchlib.studies.verify.verify_user_model`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from benchlib.errors import ModelNameError, OnnxModelError
from benchlib.models.onnx_model import OnnxModel, format_input_shapes, load_onnx_model
from benchlib.models.spec import ModelSpec

#: Prefixes of a factory name (``torch:package.module:function``, ``keras:package.module:function``).
FACTORY_PREFIXES = ("torch:", "keras:")
#: ``run``'s batch sizes for an ONNX file with a dynamic batch (``--batch-sizes`` chooses others).
USER_BATCH_SIZES = (1, 32)
#: ``verify``'s batch sizes for a user model with a dynamic batch (a fixed batch verifies at its own).
VERIFY_BATCH_SIZES = (1, 3)
#: Case ``extra`` keys a user model adds: the file's hash (two files of one name never share a case key),
#: the given dynamic input shapes and input value ranges.
SHA_KEY, SHAPES_KEY, RANGES_KEY = "model_sha256", "input_shape", "input_range"


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
        from benchlib.models.keras_factory import parse_keras_factory

        parse_keras_factory(name)  # the form only: importing it is the planning's (a child process's) work
        return
    if isinstance(name, str) and name.startswith("torch:"):
        from benchlib.models.torch_factory import parse_factory

        parse_factory(name)  # the form only: importing it is the planning's (a child process's) work
        return
    raise ModelNameError(f"model={name!r} is unknown; allowed: {', '.join(MODELS)}, a path to an .onnx file, "
                         "torch:package.module:function or keras:package.module:function")


def load_model(name: str, extra: Mapping[str, Any] | Sequence[tuple[str, Any]] = ()) -> ModelSpec | OnnxModel:
    """The zoo spec or the checked user model ``name`` stands for; ``extra`` is the case's (shapes, hash).

    A file whose hash differs from the planned one is refused: the results would mix two models.
    """
    from benchlib.models.zoo import get_model

    check_model_name(name)
    if not is_user_model(name):
        return get_model(name)
    settings = dict(extra)
    if is_keras_name(name):
        from benchlib.models.keras_model import load_keras_model

        model = load_keras_model(name, settings, settings.get(SHAPES_KEY))
        model.set_input_ranges(settings.get(RANGES_KEY))
        return model
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
    run's ``--timeout-s``; default 600 s).
    """
    if not is_user_model(name):
        return ()
    if input_ranges:  # checked against the model's inputs, then carried (and part of the case key)
        from benchlib.models.torch_factory import ERROR_KEY

        base = case_extra(name, input_shapes, timeout_s=timeout_s)
        if ERROR_KEY not in dict(base):  # a factory that raised fails in its cases, with its traceback
            load_model(name, dict(base) | {RANGES_KEY: input_ranges})
        return base + ((RANGES_KEY, input_ranges),)
    if is_keras_name(name):
        return _keras_extra(name, input_shapes, timeout_s)
    if is_factory_name(name):
        from benchlib.models.torch_factory import EXPORT_BATCH, PLAN_TIMEOUT_S, plan_factory

        check_model_name(name)  # the form is refused before any process starts
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
    """Whether ``name`` is a factory (``torch:...`` or ``keras:...``)."""
    return isinstance(name, str) and name.startswith(FACTORY_PREFIXES)


def is_keras_name(name: str) -> bool:
    """Whether ``name`` is a Keras factory (``keras:...``)."""
    return isinstance(name, str) and name.startswith("keras:")


def _keras_extra(name: str, input_shapes: str | Mapping[str, Any] | None,
                 timeout_s: float | None) -> tuple[tuple[str, Any], ...]:
    """A Keras factory's case ``extra``: its plan (made in a child process), or the error it raised."""
    from benchlib.models.keras_factory import PLAN_KEY, PLAN_TIMEOUT_S, parse_keras_factory, plan_keras, shapes_key
    from benchlib.models.onnx_model import parse_input_shapes
    from benchlib.models.torch_factory import ERROR_KEY, ONNX_KEY, WEIGHTS_KEY

    parse_keras_factory(name)  # the form is refused before any process starts
    shapes = parse_input_shapes(input_shapes)
    plan = plan_keras(name, shapes_key(shapes), PLAN_TIMEOUT_S if timeout_s is None else float(timeout_s))
    if not plan["ok"]:  # a factory that raised: its cases fail, each with the traceback
        return ((ERROR_KEY, plan["error"]),)
    given = ((SHAPES_KEY, format_input_shapes(shapes)),) if shapes else ()
    return ((ONNX_KEY, plan["onnx_file"]), (WEIGHTS_KEY, plan["weights_sha256"]), (PLAN_KEY, plan["plan_file"])) + given


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


def file_label(name: str) -> str:
    """``name`` as part of a file name (a chart per model): a zoo name as it is; a user's model by its file's stem
    or its function, with a short hash of the name, so that two files of one stem in different folders differ."""
    import hashlib
    import re
    from pathlib import Path

    if not is_user_model(name):
        return name
    if is_onnx_name(name):
        short, named = Path(name).stem, str(Path(name).resolve())
    else:
        prefix, _, target = name.partition(":")
        short, named = f"{prefix}-{target.rpartition(':')[2]}", name
    digest = hashlib.sha256(named.encode()).hexdigest()[:8]
    return f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', short).strip('-.') or 'model'}-{digest}"
