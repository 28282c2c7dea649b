"""Make packages unimportable on purpose.

* To test how benchlib copes when a framework is missing: set ``BENCHLIB_BLOCK_IMPORTS="tensorflow,jax"``
  and importing those top-level packages raises ``ImportError`` in this process and in every child
  process it starts.
* To measure a framework alone (:func:`hidden_packages`): while a measuring process imports and builds
  it, the optional integrations it would load only because they happen to be installed beside it
  (TensorFlow loads JAX, scikit-learn, pandas and matplotlib when present) are hidden, as they would be
  absent from an environment holding that framework alone.
"""

from __future__ import annotations

import importlib.abc
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

BLOCK_ENV = "BENCHLIB_BLOCK_IMPORTS"


class _Blocker(importlib.abc.MetaPathFinder):
    def __init__(self, names: frozenset[str]) -> None:
        self.names = names

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001 - importlib protocol
        if fullname.split(".")[0] in self.names:
            raise ImportError(f"import of {fullname!r} blocked by {self.why}")
        return None

    why = BLOCK_ENV


class _Hider(_Blocker):
    why = "benchlib while it measures one framework alone"


@contextmanager
def hidden_packages(names: Iterable[str]) -> Iterator[None]:
    """Within the block, importing the top-level packages ``names`` raises ``ImportError``.

    A package already imported stays (Python finds it in ``sys.modules`` first); the code under
    measurement guards these imports (``try: import pandas except ImportError``), so it runs without them.
    """
    hider = _Hider(frozenset(names))
    if not hider.names:
        yield
        return
    sys.meta_path.insert(0, hider)
    try:
        yield
    finally:
        sys.meta_path.remove(hider)


def install_from_env() -> None:
    """Install the blocker if ``BENCHLIB_BLOCK_IMPORTS`` names any package."""
    names = frozenset(n.strip() for n in os.environ.get(BLOCK_ENV, "").split(",") if n.strip())
    if names and not any(isinstance(f, _Blocker) for f in sys.meta_path):
        sys.meta_path.insert(0, _Blocker(names))
