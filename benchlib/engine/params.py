"""Every parameter of a run, checked once, where it enters: one function per parameter.

The CLI's argparse types (:mod:`benchlib.cli.common`), the notebooks' :func:`check_parameters` and
the Python API (:func:`benchlib.engine.grid.case_grid`, the studies' configs, a hand-made
:class:`~benchlib.engine.case.RunCase`) all call the functions below, so a parameter has one meaning,
one set of allowed values and one refusal: a ``ValueError`` naming the parameter, the value and what
is allowed (the CLI turns it into exit status 2). What they return is typed and already valid: a
thread setting is the count it means, a list parameter is a :class:`Checked` tuple without repeats,
which the list checks return as they are. Nothing downstream checks it again, a case's child
process included (:meth:`RunCase.from_dict` with ``checked=True``).

The ``BENCHLIB_*`` environment variables are parameters too: :mod:`benchlib.engine.env_params`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from benchlib.backends.registry import BACKEND_NAMES
from benchlib.engine.checked import (
    BackendNames,
    BatchSizes,
    C,
    ModelNames,
    Precisions,
    Scenarios,
    ThreadCounts,
    ThreadSettings,
    VariantNames,
)
from benchlib.models.zoo import MODELS
from benchlib.precision import PRECISIONS
from benchlib.scenarios.settings import LOADGEN_SCENARIOS
from benchlib.system.files import prove_writable

#: Upper bounds that catch typos (batch 10**9) before a run starts.
MAX_BATCH_SIZE = 1_000_000
MAX_THREADS = 1024
MAX_SECONDS = 24 * 3600.0
MAX_CALLS = 10_000_000
MAX_NUM_RUNS = 1_000_000
#: Spellings of "the framework's own default thread count" (docs/threads.md).
DEFAULT_THREADS = ("default",)
#: The spelling of "one thread per usable core".
CORES = "cores"
#: How a case is run: "single" is the engine's timed loop (one call at a time, each waiting for the
#: last); the others are MLPerf LoadGen's scenarios, run by benchlib.scenarios (docs/scenarios.md).
SCENARIOS = ("single", *LOADGEN_SCENARIOS)


def as_list(name: str, values: object) -> list[object]:
    """``values`` as a list: a single value (text, number) becomes a list of one, never a list of characters.

    Papermill passes ``-p backends numpy`` as the text ``"numpy"``; iterating it would give letters.
    A mapping is refused, naming the parameter.
    """
    if isinstance(values, str | bytes | int | float) or values is None:
        return [values]
    if isinstance(values, dict) or not isinstance(values, Iterable):
        raise ValueError(f"{name}={values!r} is invalid; allowed: a list (or a single value)")
    return list(values)


def _checked_list(kind: type[C], name: str, values: object, check: Callable[[object, str], Any], allowed: str,
                  empty: bool = False) -> C:
    """``values`` (a single value becomes a list of one) through ``check``, each once, as ``kind``;
    ``empty``: an empty list is allowed (it means a default)."""
    if isinstance(values, kind):
        return values  # checked where it entered
    items = as_list(name, values) if values is not None else []
    if not items and not (empty and values is not None):
        raise ValueError(f"{name}={values!r} is invalid; allowed: a non-empty list of {allowed}")
    return kind.of(name, [check(value, name) for value in items])


# -- numbers -----------------------------------------------------------------------------------------

def check_positive_int(name: str, value: object, maximum: int) -> int:
    """Return ``value`` if it is an int in [1, maximum], else raise ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise ValueError(f"{name}={value!r} is invalid; allowed: an integer from 1 to {maximum}")
    return value


def check_positive_float(name: str, value: object, maximum: float, allow_zero: bool = False) -> float:
    """Return ``value`` as float if it is a finite number in (0, maximum] ([0, …] with allow_zero)."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    low_ok = ok and (value >= 0 if allow_zero else value > 0)  # type: ignore[operator]
    if not (low_ok and value <= maximum):  # type: ignore[operator]
        low = "0" if allow_zero else "more than 0"
        raise ValueError(f"{name}={value!r} is invalid; allowed: a number of seconds from {low} to {maximum:g}")
    return float(value)  # type: ignore[arg-type]


# -- the case's dimensions -------------------------------------------------------------------------

def check_backend(value: object, name: str = "backend") -> str:
    """A backend name from :data:`~benchlib.backends.registry.BACKEND_NAMES`."""
    if value not in BACKEND_NAMES:
        raise ValueError(f"{name}={value!r} is unknown; allowed: {', '.join(BACKEND_NAMES)}")
    return value  # type: ignore[return-value]


def check_backends(values: object, name: str = "backends") -> BackendNames:
    """Backend names (a single name becomes a list of one), each known, each once; an empty list is
    allowed (a notebook's "every installed one")."""
    return _checked_list(BackendNames, name, values, check_backend, f"backend names from {', '.join(BACKEND_NAMES)}",
                         empty=True)


def check_variants(values: object, name: str = "variants") -> VariantNames:
    """Variant names (a single name becomes a list of one; an empty list means each backend's default)."""
    if isinstance(values, VariantNames):
        return values
    items = as_list(name, values) if values is not None else []
    for value in items:
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name}={values!r} is invalid; allowed: a list of variant names, e.g. ['default']")
    return VariantNames.of(name, items)


def check_thread_setting(value: object, name: str = "threads", explicit: bool = False) -> int | str | None:
    """A thread setting (docs/threads.md) in its one spelling: ``None`` or ``"default"`` → ``None`` (the
    framework's own default), ``"cores"`` → ``"cores"`` (one per usable core, counted on the machine that
    runs the case: :func:`thread_count`), an integer N (or its text) → N.

    ``explicit`` (a sweep): the framework's default is refused, since a sweep compares explicit thread
    counts, each against the peak measured with that count. More threads than usable cores is allowed
    here; the run warns about it.
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in DEFAULT_THREADS):
        if explicit:
            raise ValueError(f"{name}={value!r} is invalid in a sweep; allowed: integers or '{CORES}' (a sweep "
                             "compares explicit thread counts, each against the peak measured with that count)")
        return None
    if isinstance(value, str) and value.strip().lower() == CORES:
        return CORES
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_THREADS:
        default = "" if explicit else " or None/'default' (the framework's default)"
        raise ValueError(f"{name}={value!r} is invalid; allowed: an integer from 1 to {MAX_THREADS}, "
                         f"'{CORES}' (one per usable core){default}")
    return value


def thread_count(setting: int | str | None, usable: int | None = None) -> int | None:
    """The count a checked thread setting means: ``"cores"`` is ``usable`` (default: this machine's usable
    cores, affinity and cgroup quota respected, so the record says how many); ``None`` and N stay."""
    if setting != CORES:
        return setting  # type: ignore[return-value]
    if usable is None:
        from benchlib.system.env import usable_cores

        usable = int(usable_cores()["usable"] or 1)
    return usable


def check_threads(value: object, name: str = "threads", explicit: bool = False) -> int | None:
    """A thread setting (:func:`check_thread_setting`) as the count it means on this machine."""
    return thread_count(check_thread_setting(value, name, explicit))


def check_thread_settings(values: object, name: str = "threads", explicit: bool = False) -> ThreadSettings:
    """Thread settings (a single one becomes a list of one), each once, ``"cores"`` kept: what a fleet asks of
    every machine, each counting its own cores."""
    allowed = "integers or 'cores'" if explicit else "thread settings: integers, 'cores' or 'default'"
    if values is None and not explicit:
        values = [None]  # the framework's default
    return _checked_list(ThreadSettings, name, values, lambda v, n: check_thread_setting(v, n, explicit), allowed)


def check_thread_counts(values: object, name: str = "threads", explicit: bool = False) -> ThreadCounts:
    """Thread settings (a single one becomes a list of one) as counts on this machine, each once; checked
    settings (:class:`ThreadSettings`) are counted without a second check."""
    if isinstance(values, ThreadSettings):
        return ThreadCounts.of(name, [thread_count(setting) for setting in values])
    allowed = "integers or 'cores'" if explicit else "thread settings: integers, 'cores' or 'default'"
    if values is None and not explicit:
        values = [None]  # the framework's default
    return _checked_list(ThreadCounts, name, values, lambda v, n: check_threads(v, n, explicit), allowed)


def check_batch_size(value: object, name: str = "batch_size") -> int:
    """A batch size: an integer from 1 to :data:`MAX_BATCH_SIZE`."""
    return check_positive_int(name, value, MAX_BATCH_SIZE)


def check_batch_sizes(values: object, name: str = "batch_sizes") -> BatchSizes:
    """Batch sizes (a single one becomes a list of one), each once."""
    return _checked_list(BatchSizes, name, values, check_batch_size, f"integers from 1 to {MAX_BATCH_SIZE}")


def check_precision(value: object, name: str = "precision") -> str:
    """A numeric precision from :data:`benchlib.precision.PRECISIONS` (docs/precision.md)."""
    if not isinstance(value, str):
        raise ValueError(f"{name}={value!r} ({type(value).__name__}) is invalid; allowed: a precision name "
                         f"(text): {', '.join(PRECISIONS)}")
    if value not in PRECISIONS:
        raise ValueError(f"{name}={value!r} is unknown; allowed: {', '.join(PRECISIONS)}")
    return value


def check_precisions(values: object, name: str = "precisions") -> Precisions:
    """Numeric precisions (a single one becomes a list of one), each once."""
    return _checked_list(Precisions, name, values, check_precision, f"precision names from {', '.join(PRECISIONS)}")


#: What a study that measures zoo models only (a fleet, whose hosts would each need the user's file or factory;
#: the models notebook's matrix) says about the others.
ZOO_ONLY = "ONNX files and factories are measured by run, verify, sweep, scenarios and the precision notebook"
#: The forms of a user's model, as a refusal lists them.
USER_FORMS = "paths to .onnx files, torch:package.module:function or keras:package.module:function"


def check_model(value: object, name: str = "model", zoo_only: bool = False) -> str:
    """A model name: a zoo name, a path to an ``.onnx`` file, ``torch:package.module:function`` or
    ``keras:package.module:function`` (its form only: the case grid reads the file and plans a factory);
    ``zoo_only``: a zoo name (a fleet, the models notebook's matrix)."""
    if zoo_only:
        if value not in MODELS:
            raise ValueError(f"{name}={value!r} is invalid; allowed: {', '.join(MODELS)} ({ZOO_ONLY})")
        return value  # type: ignore[return-value]
    if not isinstance(value, str):
        raise ValueError(f"{name}={value!r} ({type(value).__name__}) is invalid; allowed: a model name (text)")
    from benchlib.errors import OnnxModelError
    from benchlib.models.user import check_model_name

    try:
        check_model_name(value)  # the three forms of a name, and the reasons a form is refused
    except OnnxModelError as exc:
        message = str(exc)
        for said in ("model=", "--models="):
            if message.startswith(said):
                message = f"{name}={message[len(said):]}"
        raise type(exc)(message) from None
    return value


def check_models(values: object, name: str = "models", zoo_only: bool = False) -> ModelNames:
    """Model names (a single name becomes a list of one), each once: one ONNX file named several ways
    (``m.onnx``, ``./m.onnx``, its absolute path) runs once, under the first spelling, with a note.

    Checked names are taken as they are; ``zoo_only`` still refuses a checked user model (a notebook's
    ``models`` takes any model, the study it goes to may take zoo models only)."""
    if isinstance(values, ModelNames) and not (zoo_only and any(value not in MODELS for value in values)):
        return values
    items = as_list(name, values) if values is not None else []
    allowed = f"names from {', '.join(MODELS)}" + (f" ({ZOO_ONLY})" if zoo_only else f", {USER_FORMS}")
    if not items:
        raise ValueError(f"{name}={values!r} is invalid; allowed: a non-empty list of {allowed}")
    if not zoo_only:
        return ModelNames.of(name, [check_model(value, name) for value in items])
    bad = [value for value in items if value not in MODELS]
    if bad:  # the value, then the list it came in
        shown = list(values) if isinstance(values, Sequence) and not isinstance(values, str) else values
        raise ValueError(f"{name}={bad[0]!r} is not a zoo model, so {name}={shown!r} is invalid; allowed: {allowed}")
    return ModelNames.of(name, items)


def check_scenario(value: object, name: str = "scenario", loadgen_only: bool = False) -> str:
    """A scenario (any letter case) as :data:`SCENARIOS` spells it; ``loadgen_only``: LoadGen's four only."""
    choices = LOADGEN_SCENARIOS if loadgen_only else SCENARIOS
    by_lower = {s.lower(): s for s in choices}
    if not isinstance(value, str) or value.lower() not in by_lower:
        raise ValueError(f"{name}={value!r} is unknown; allowed: {', '.join(choices)}")
    return by_lower[value.lower()]


def check_scenarios(values: object, name: str = "scenarios", loadgen_only: bool = False) -> Scenarios:
    """Scenarios (a single one becomes a list of one), each once."""
    choices = ", ".join(LOADGEN_SCENARIOS if loadgen_only else SCENARIOS)
    return _checked_list(Scenarios, name, values, lambda v, n: check_scenario(v, n, loadgen_only),
                         f"scenario names from {choices}")


# -- output folders ----------------------------------------------------------------------------------

def check_writable_dir(value: object, name: str = "folder", kind: str | None = None) -> Path:
    """A folder for outputs, created if needed and proven writable with a real file.

    ``kind`` (``results``, ``figures``, ``tables``): a notebook's ``<kind>_dir`` parameter, where ``""``
    is the repository's ``outputs/<kind>`` wherever papermill or JupyterLab was started
    (:func:`benchlib.system.paths.output_folder`); other paths are made absolute.
    """
    from benchlib.system.paths import output_folder

    allowed = (f'a folder path as text, or "" for the repository\'s outputs/{kind}' if kind else
               "a path to a writable folder")
    if kind is None and (not isinstance(value, str | os.PathLike) or not str(value)) or \
            kind is not None and value is not None and not isinstance(value, str | os.PathLike):
        raise ValueError(f"{name}={value!r} is invalid ({type(value).__name__}); allowed: {allowed}")
    try:
        path = output_folder(value, kind) if kind else Path(value)  # type: ignore[arg-type]
    except (ValueError, OSError) as exc:  # a NUL character, a home folder that cannot be found
        raise ValueError(f"{name}={value!r} is invalid ({exc}); allowed: {allowed}") from None
    try:
        prove_writable(path)
    except OSError as exc:
        raise ValueError(f"{name}={str(path)!r} is not a writable folder ({exc.strerror}); "
                         f"allowed: a path to a folder you can write to") from None
    return path


# -- a notebook's parameters, by name ----------------------------------------------------------------

def _seconds(allow_zero: bool) -> Callable[[object, str], float]:
    return lambda value, name: check_positive_float(name, value, MAX_SECONDS, allow_zero=allow_zero)


def _count(maximum: int) -> Callable[[object, str], int]:
    return lambda value, name: check_positive_int(name, value, maximum)


def _folder(kind: str) -> Callable[[object, str], Path]:
    return lambda value, name: check_writable_dir(value, name, kind)


def _target_ci(value: object, name: str) -> float:
    from benchlib.engine.timing import check_target_ci

    return check_target_ci(value, name)


#: parameter name -> its check ``(value, name)``, shared by every notebook (same meaning, same name)
CHECKS: dict[str, Callable[[object, str], object]] = {
    "backend": check_backend,
    "backends": check_backends,
    "variants": check_variants,
    "batch_sizes": check_batch_sizes,
    "batch_size": check_batch_size,
    "threads": check_threads,
    "threads_list": lambda value, name: check_thread_counts(value, name, explicit=True),
    "models": check_models,  # any model's form; a study taking zoo models only refuses the others itself
    "precisions": check_precisions,
    "scenarios": lambda value, name: check_scenarios(value, name, loadgen_only=True),
    "min_time_s": _seconds(allow_zero=True),
    "warmup_time_s": _seconds(allow_zero=True),
    "timeout_s": _seconds(allow_zero=False),
    "target_ci": _target_ci,
    "min_calls": _count(MAX_CALLS),
    "num_runs": _count(MAX_NUM_RUNS),
    "results_dir": _folder("results"),
    "figures_dir": _folder("figures"),
    "tables_dir": _folder("tables"),
}


def check_parameters(**parameters: object) -> dict[str, object]:
    """Validate notebook parameters by name, and the ``BENCHLIB_*`` environment variables; unknown names
    are returned unchanged.

    Returns the checked values (folders as absolute ``Path``, thread settings as counts, lists as
    :class:`Checked` tuples). Raises ``ValueError`` for the first bad one.
    """
    from benchlib.engine.env_params import check_environment

    for note in check_environment():
        print(f"note: {note}")
    checked = {}
    for name, value in parameters.items():
        check = CHECKS.get(name)
        checked[name] = check(value, name) if check else value
    return checked
