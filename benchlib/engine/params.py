"""Checks shared by notebook parameters and the CLI: each refusal names the parameter, the value given
and what is allowed, before any run starts.

The ``BENCHLIB_*`` environment variables are parameters too, and get the same checks as the options
they stand for (:data:`ENV_CHECKS`, :func:`check_environment`): the CLI refuses a bad one with exit
status 2, a notebook's :func:`check_parameters` with a ``ValueError``.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
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


def check_outputs_root(name: str, value: str) -> None:
    """``BENCHLIB_OUTPUTS``: a folder that is, or can be made, writable; checked without creating anything."""
    allowed = "allowed: unset or empty (the checkout's outputs/ folder), or a path to a folder you can write to"
    path = Path(value).absolute()
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is None or not existing.is_dir():
        what = "a file" if existing == path else f"inside {existing}, which is a file"
        raise ValueError(f"{name}={value!r} is {what}, not a folder; {allowed}")
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "" if existing == path else f" ({existing} cannot be written, so it cannot be made)"
        raise ValueError(f"{name}={value!r} is not a writable folder{where}; {allowed}")


def _check_choice(choices: tuple[str, ...], meaning: str) -> Callable[[str, str], None]:
    def check(name: str, value: str) -> None:
        if value not in choices:  # compared exactly where it is read
            raise ValueError(f"{name}={value!r} is invalid; allowed: unset, or {' or '.join(choices)} ({meaning})")

    return check


def _check_pid(name: str, value: str) -> None:
    if not re.fullmatch(r"[1-9][0-9]{0,9}", value):  # compared exactly with the parent's pid
        raise ValueError(f"{name}={value!r} is invalid; allowed: unset (benchlib sets it for the processes it "
                         "starts), or a process id: a positive integer")


def _check_owner(name: str, value: str) -> None:
    if not value.strip():
        raise ValueError(f"{name}={value!r} is invalid; allowed: unset (a fleet worker sets it beside "
                         "BENCHLIB_LOAD_BEFORE_BATCH), or the fleet run's name")


def _check_block_imports(name: str, value: str) -> None:
    from benchlib.system.blocker import blocked_names

    blocked_names(value)


def _check_batch_load(name: str, value: str) -> None:
    from benchlib.system.env import batch_start_load

    batch_start_load(value)


#: Every ``BENCHLIB_*`` environment variable benchlib reads → its check (an unset or empty one is not checked).
ENV_CHECKS: dict[str, Callable[[str, str], None]] = {
    "BENCHLIB_OUTPUTS": check_outputs_root,
    "BENCHLIB_BLOCK_IMPORTS": _check_block_imports,
    "BENCHLIB_LOAD_BEFORE_BATCH": _check_batch_load,
    "BENCHLIB_LOAD_BEFORE_BATCH_OWNER": _check_owner,
    "BENCHLIB_TEST_FAULTS": _check_choice(("0", "1"), "1 lets a case's test_fault inject a fault, for tests"),
    "BENCHLIB_LAUNCHER_PID": _check_pid,
}


def check_environment(environ: Mapping[str, str] | None = None) -> list[str]:
    """Check every ``BENCHLIB_*`` variable of ``environ`` (default: this process's environment).

    Raises ``ValueError`` naming the first bad variable, its value and what is allowed. Returns notes
    about ``BENCHLIB_*`` names benchlib does not read (a misspelt name has no effect).
    """
    environ = os.environ if environ is None else environ
    for name, check in ENV_CHECKS.items():
        value = environ.get(name)
        if value:
            check(name, value)
    # BENCHLIB_TEST_* other than these are the test suite's own (tests/conftest.py), not benchlib's
    unknown = sorted(n for n in environ if n.startswith("BENCHLIB_") and n not in ENV_CHECKS
                     and not n.startswith("BENCHLIB_TEST_"))
    return [f"{n} is not a variable benchlib reads, so it has no effect; known: {', '.join(ENV_CHECKS)}"
            for n in unknown]


def check_parameters(**parameters: object) -> dict[str, object]:
    """Validate notebook parameters by name, and the ``BENCHLIB_*`` environment variables; unknown names
    are returned unchanged.

    Returns the checked values (paths as ``Path``). Raises ``ValueError`` for the first bad one.
    """
    for note in check_environment():
        print(f"note: {note}")
    checked = {}
    for name, value in parameters.items():
        check = CHECKS.get(name)
        checked[name] = check(name, value) if check else value
    return checked
