"""Checks shared by notebook parameters and the CLI: each refusal names the parameter, the value given
and what is allowed, before any run starts."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from benchlib.backends.registry import BACKEND_NAMES
from benchlib.engine.case import (
    MAX_BATCH_SIZE,
    MAX_CALLS,
    MAX_SECONDS,
    MAX_THREADS,
    check_positive_float,
    check_positive_int,
)

MAX_NUM_RUNS = 1_000_000


def check_backend(name: str, value: object) -> str:
    if value not in BACKEND_NAMES:
        raise ValueError(f"{name}={value!r} is unknown; allowed: {', '.join(BACKEND_NAMES)}")
    return value  # type: ignore[return-value]


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


def once_each(name: str, values: list[object]) -> list[object]:
    """``values`` without repeats, in order; repeats are named in a note (each case runs once anyway)."""
    unique = list(dict.fromkeys(values))
    if len(unique) < len(values):
        repeated = ", ".join(repr(v) for v in unique if values.count(v) > 1)
        print(f"note: {name} lists {repeated} more than once; each case runs once")
    return unique


def check_backends(name: str, values: object) -> list[str]:
    """A list of backend names (a single name becomes a list of one), each known, each once."""
    if values is None:
        allowed = ", ".join(BACKEND_NAMES)
        raise ValueError(f"{name}={values!r} is invalid; allowed: a list of backend names from {allowed}")
    return once_each(name, [check_backend(name, value) for value in as_list(name, values)])  # type: ignore[return-value]


def check_int_list(name: str, values: object, maximum: int) -> list[int]:
    """A non-empty list of integers from 1 to ``maximum`` (a single integer becomes a list of one), each once."""
    items = as_list(name, values) if values is not None else []
    if not items:
        raise ValueError(f"{name}={values!r} is invalid; allowed: a non-empty list of integers from 1 to {maximum}")
    return once_each(name, [check_positive_int(name, value, maximum) for value in items])  # type: ignore[return-value]


def check_variants(name: str, values: object) -> list[str]:
    """Variant names (a single name becomes a list of one; an empty list means each backend's default)."""
    items = as_list(name, values) if values is not None else []
    for value in items:
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name}={values!r} is invalid; allowed: a list of variant names, e.g. ['default']")
    return once_each(name, items)  # type: ignore[return-value]


def check_threads(name: str, value: object) -> int | str | None:
    """A thread setting (docs/threads.md): ``None``/"default", ``"cores"`` or a positive int, normalised.

    More threads than usable cores is allowed here; the run warns about it.
    """
    from benchlib.engine.grid import CORES, resolve_threads

    if isinstance(value, str) and value.strip().lower() == CORES:
        return CORES
    return resolve_threads(value, name)


def check_writable_dir(name: str, value: object) -> Path:
    """Create the folder if needed and prove it is writable with a real file."""
    if not isinstance(value, str | os.PathLike) or not str(value):
        raise ValueError(f"{name}={value!r} is invalid; allowed: a path to a writable folder")
    path = Path(value)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise ValueError(f"{name}={str(value)!r} is not a writable folder ({exc.strerror}); "
                         f"allowed: a path to a folder you can write to") from None
    return path


#: parameter name -> checker, shared by every notebook (same meaning, same name)
CHECKS = {
    "backend": check_backend,
    "backends": check_backends,
    "variants": check_variants,
    "batch_sizes": lambda n, v: check_int_list(n, v, MAX_BATCH_SIZE),
    "batch_size": lambda n, v: check_positive_int(n, v, MAX_BATCH_SIZE),
    "threads": check_threads,
    "threads_list": lambda n, v: check_int_list(n, v, MAX_THREADS),
    "min_time_s": lambda n, v: check_positive_float(n, v, MAX_SECONDS, allow_zero=True),
    "warmup_time_s": lambda n, v: check_positive_float(n, v, MAX_SECONDS, allow_zero=True),
    "timeout_s": lambda n, v: check_positive_float(n, v, MAX_SECONDS),
    "min_calls": lambda n, v: check_positive_int(n, v, MAX_CALLS),
    "num_runs": lambda n, v: check_positive_int(n, v, MAX_NUM_RUNS),
    "results_dir": check_writable_dir,
    "figures_dir": check_writable_dir,
    "tables_dir": check_writable_dir,
}


def check_parameters(**parameters: object) -> dict[str, object]:
    """Validate notebook parameters by name; unknown names are returned unchanged.

    Returns the checked values (paths as ``Path``). Raises ``ValueError`` for the first bad one.
    """
    checked = {}
    for name, value in parameters.items():
        check = CHECKS.get(name)
        checked[name] = check(name, value) if check else value
    return checked
