"""Calling a user's model factory (``torch:`` and ``keras:`` names): one import, one call, one set of errors."""

from __future__ import annotations

import contextlib
import importlib
import sys
from typing import Any

from benchlib.errors import FactoryError


def call_factory_function(name: str, module_name: str, function_name: str, returns: str) -> Any:
    """Import ``module_name``, call its ``function_name()`` and return what it built.

    The factory's prints go to stderr: stdout is benchlib's own (``verify --json`` prints pure JSON there).
    An import failure or a missing function raises :class:`FactoryError` naming the value (``name``) and
    what is allowed (a function of no arguments returning ``returns``); an exception raised by the factory
    itself propagates unchanged, so that its traceback reaches the record.
    """
    with contextlib.redirect_stdout(sys.stderr):
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # noqa: BLE001 - any import failure is the user's to fix
            raise FactoryError(f"--models={name!r}: module {module_name!r} does not import ({type(exc).__name__}: "
                               f"{exc}); allowed: a module importable from the current directory or sys.path"
                               ) from None
        function = getattr(module, function_name, None)
        if not callable(function):
            raise FactoryError(f"--models={name!r}: {module_name} has no function {function_name!r}; allowed: a "
                               f"function of no arguments returning {returns}")
        return function()
