"""The ``BENCHLIB_*`` environment variables, checked like the options they stand for.

Every variable benchlib reads has a check in :data:`ENV_CHECKS`; :func:`check_environment` runs them
all. The CLI refuses a bad one with exit status 2, a notebook's
:func:`~benchlib.engine.params.check_parameters` with a ``ValueError``; each refusal names the
variable, its value and what is allowed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path


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
