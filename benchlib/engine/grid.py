"""The one case grid: backends × models × variants × threads × batch sizes → :class:`RunCase` list.

The CLI's ``run``, the sweeps, the framework notebooks, the article's corrected run and the
ablation's engine steps all build their cases here, so a new dimension of a case is added once.

``threads`` has one meaning everywhere (see docs/threads.md): ``None`` (or ``"default"``) leaves
the framework's default, ``"cores"`` means one thread per usable core (affinity and cgroup quota
respected; resolved to a number here, so the record says how many), and an integer N means N.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from benchlib.engine.case import RunCase, check_settings
from benchlib.engine.params import (
    check_backends,
    check_batch_sizes,
    check_models,
    check_precisions,
    check_scenarios,
    check_thread_counts,
)

#: ``variants`` value meaning every variant each backend offers.
ALL_VARIANTS = "all"

ThreadSetting = int | str | None


def _variants_for(backend: str, variants: Sequence[str] | str | None, omit_missing: bool) -> list[str | None]:
    from benchlib.backends.registry import backend_variants

    if variants is None:
        return [None]
    offered = backend_variants(backend)
    if variants == ALL_VARIANTS:
        return list(offered)
    chosen: list[str | None] = [v for v in variants if v in offered]
    return chosen if chosen or omit_missing else [None]


def case_grid(
    backends: Iterable[str],
    batch_sizes: Iterable[int],
    *,
    models: Iterable[str] = ("fnn",),
    threads: Iterable[ThreadSetting] = (None,),
    variants: Sequence[str] | str | None = None,
    omit_missing_variants: bool = False,
    scenarios: Iterable[str] = ("single",),
    precisions: Iterable[str] = ("fp32",),
    planned: Sequence[PlannedModel] = (),
    **settings: Any,
) -> list[RunCase]:
    """Every case of the cross product, in a stable order (backend, model, variant, precision, threads, batch,
    scenario).

    ``variants``: ``None`` runs each backend's default variant, ``"all"`` every variant it offers,
    a list the named variants each backend offers; a backend offering none of the named ones runs
    its default, or nothing with ``omit_missing_variants``. Duplicates in any list run once.
    ``scenarios``: ``"single"`` (the engine's timed loop) or LoadGen's SingleStream, MultiStream,
    Offline, Server (benchlib.scenarios; their settings go in ``extra``).
    ``models``: zoo names, paths to ``.onnx`` files or factories (``input_shapes="NAME=d1,d2;..."`` sizes their
    dynamic dimensions besides the batch, ``input_ranges="NAME=LOW:HIGH;..."`` the values drawn; a bad file
    raises ``ValueError`` before any case is made). ``planned``: user models already planned by
    :func:`plan_models` (a study's), whose case ``extra`` is taken as it is rather than planned again.
    ``precisions``: fp32, bf16, int8-dynamic, int8-static (benchlib.precision); every backend gets
    every one, and a backend without it records the case as skipped with the reason.
    ``settings`` are the remaining :class:`RunCase` fields (timing, protocol, seed, ...).
    """
    # Each dimension checked once, here or where it entered (a checked tuple is taken as it is); the cases
    # are then made from valid values and not checked again.
    names = check_backends(backends)
    chosen_models = check_models(models)
    counts = check_thread_counts(threads)
    sizes = check_batch_sizes(batch_sizes)
    modes = check_scenarios(scenarios)
    numeric = check_precisions(precisions)
    input_shapes, input_ranges = settings.pop("input_shapes", None), settings.pop("input_ranges", None)
    base_extra = tuple(settings.pop("extra", ()))
    check_settings(extra=base_extra, **settings)
    from benchlib.models.user import case_extra

    # A user model's file is checked once here and its hash goes into each case (and so its key): two
    # different files of one name never share results. ``input_shapes`` gives its dynamic dimensions.
    timeout_s = settings.get("timeout_s")  # a factory's planning (a child process) has the cases' timeout
    known = {plan.name: plan.extra for plan in planned}
    extras = {model: known[model] if model in known else case_extra(model, input_shapes, input_ranges,
                                                                        timeout_s=timeout_s)
              for model in chosen_models}
    _check_user_memory(extras, sizes)
    cases = []
    for backend in names:
        for model in chosen_models:
            if extras[model] or base_extra:
                settings["extra"] = tuple(sorted(dict(base_extra + extras[model]).items()))
            else:
                settings.pop("extra", None)
            for variant in dict.fromkeys(_variants_for(backend, variants, omit_missing_variants)):
                for precision in numeric:
                    for count in counts:
                        for batch in sizes:
                            for scenario in modes:
                                cases.append(RunCase.checked(backend=backend, model=model, batch_size=batch,
                                                             threads=count, variant=variant, scenario=scenario,
                                                             precision=precision, **settings))
    return cases


def _check_user_memory(extras: dict[str, tuple[tuple[str, Any], ...]], sizes: Sequence[int]) -> None:
    """Refuse (``ValueError`` with the estimate and the largest batch that fits) a user model's batch that
    will not fit in memory, from its declared shapes, before any case's process starts."""
    from benchlib.models.torch_factory import ERROR_KEY
    from benchlib.models.user import is_user_model, load_model, memory_refusal

    for model, extra in extras.items():
        if is_user_model(model) and ERROR_KEY not in dict(extra):
            problem = memory_refusal(load_model(model, extra), sizes)
            if problem:
                raise ValueError(problem)


@dataclass(frozen=True)
class PlannedModel:
    """A user's model as a study's cases carry it, checked and planned once (:func:`plan_models`)."""

    name: str
    #: its case ``extra`` (:func:`benchlib.models.user.case_extra`): the file's hash, the given shapes and ranges,
    #: a factory's export, or the error the factory raised (its cases then fail, each with the traceback)
    extra: tuple[tuple[str, Any], ...]
    fixed_batch: int | None = None  # a graph whose inputs fix the batch runs only this size

    def batch_sizes(self, asked: Sequence[int] | None) -> tuple[int, ...]:
        """The batch sizes a study measures it at: ``asked`` (one a fixed batch cannot take is recorded as skipped,
        with the reason, by the case's backend), else ``run``'s 1 and 32, or the fixed batch only."""
        from benchlib.models.user import USER_BATCH_SIZES

        if asked:
            return tuple(asked)
        return (self.fixed_batch,) if self.fixed_batch else USER_BATCH_SIZES


def plan_models(models: Iterable[str], batch_sizes: Sequence[int] | None = None, input_shapes: str | None = None,
                input_ranges: str | None = None, timeout_s: float | None = None) -> tuple[PlannedModel, ...]:
    """Each user model among ``models`` (checked names) read and checked, or planned (a factory built and exported
    in a child process killed after ``timeout_s``), once, for a study's :func:`case_grid` calls (``planned``).

    Refused (``ValueError`` naming ``models``, ``input_shapes`` or ``input_ranges``, the value and what is
    allowed) before any case runs: a missing or invalid file, a factory that does not resolve, shapes or ranges
    with zoo models only (they describe a user's model's inputs), and the largest batch a model will be measured
    at (:meth:`PlannedModel.batch_sizes` of ``batch_sizes``) when it will not fit in memory (from the declared
    shapes).
    """
    from benchlib.errors import OnnxModelError
    from benchlib.models.torch_factory import ERROR_KEY
    from benchlib.models.user import case_extra, is_user_model, load_model, memory_refusal

    users = [model for model in models if is_user_model(model)]
    given = [f"{name}={value!r}" for name, value in (("input_shapes", input_shapes), ("input_ranges", input_ranges))
             if value]
    if given and not users:
        raise ValueError(f"{' and '.join(given)} given with zoo models only, whose inputs are fixed; allowed: "
                         "without them, or with an ONNX file or a factory among the models")
    plans = []
    for model in users:
        try:
            extra = case_extra(model, input_shapes, input_ranges, timeout_s=timeout_s)
            loaded = None if ERROR_KEY in dict(extra) else load_model(model, extra)
        except OnnxModelError as exc:  # the models layer speaks as the CLI does; a study names its parameter
            message = str(exc)
            raise type(exc)("models=" + message[len("--models="):] if message.startswith("--models=")
                            else message) from None
        plan = PlannedModel(model, extra, getattr(loaded, "fixed_batch", None))
        problem = memory_refusal(loaded, plan.batch_sizes(batch_sizes))
        if problem:
            raise ValueError(f"models={model!r}: {problem}")
        plans.append(plan)
    return tuple(plans)
