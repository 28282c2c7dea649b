"""The one case grid: backends × models × variants × threads × batch sizes → :class:`RunCase` list.

The CLI's ``run``, the sweeps, the framework notebooks, the article's corrected run and the
ablation's engine steps all build their cases here, so a new dimension of a case is added once.

``threads`` has one meaning everywhere (see docs/threads.md): ``None`` (or ``"default"``) leaves
the framework's default, ``"cores"`` means one thread per usable core (affinity and cgroup quota
respected; resolved to a number here, so the record says how many), and an integer N means N.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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
    **settings: Any,
) -> list[RunCase]:
    """Every case of the cross product, in a stable order (backend, model, variant, precision, threads, batch,
    scenario).

    ``variants``: ``None`` runs each backend's default variant, ``"all"`` every variant it offers,
    a list the named variants each backend offers; a backend offering none of the named ones runs
    its default, or nothing with ``omit_missing_variants``. Duplicates in any list run once.
    ``scenarios``: ``"single"`` (the engine's timed loop) or LoadGen's SingleStream, MultiStream,
    Offline, Server (benchlib.scenarios; their settings go in ``extra``).
    ``models``: zoo names or paths to ``.onnx`` files (``input_shapes="NAME=d1,d2;..."`` sizes their
    dynamic dimensions besides the batch, ``input_ranges="NAME=LOW:HIGH;..."`` the values drawn; a bad file
    raises ``ValueError`` before any case is made).
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
    extras = {model: case_extra(model, input_shapes, input_ranges, timeout_s=timeout_s) for model in chosen_models}
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
