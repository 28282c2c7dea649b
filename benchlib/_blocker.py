"""Make frameworks unimportable on purpose, to test how benchlib copes when one is missing.

Set ``BENCHLIB_BLOCK_IMPORTS="tensorflow,jax"`` and importing those top-level packages raises
``ImportError`` in this process and in every child process it starts.
"""

from __future__ import annotations

import importlib.abc
import os
import sys

BLOCK_ENV = "BENCHLIB_BLOCK_IMPORTS"


class _Blocker(importlib.abc.MetaPathFinder):
    def __init__(self, names: frozenset[str]) -> None:
        self.names = names

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001 - importlib protocol
        if fullname.split(".")[0] in self.names:
            raise ImportError(f"import of {fullname!r} blocked by {BLOCK_ENV}")
        return None


def install_from_env() -> None:
    """Install the blocker if ``BENCHLIB_BLOCK_IMPORTS`` names any package."""
    names = frozenset(n.strip() for n in os.environ.get(BLOCK_ENV, "").split(",") if n.strip())
    if names and not any(isinstance(f, _Blocker) for f in sys.meta_path):
        sys.meta_path.insert(0, _Blocker(names))
