"""Make packages unimportable on purpose.

* To test how benchlib copes when a framework is missing: set ``BENCHLIB_BLOCK_IMPORTS="tensorflow,jax"``
  and importing those top-level packages raises ``ImportError`` in this process and in every child
  process it starts. Only the frameworks and the optional components (:data:`BLOCKABLE`) can be
  blocked: benchlib's own requirements (NumPy, pandas, psutil, tqdm) cannot, as nothing would run
  without them;
  :func:`blocked_names` refuses anything else, naming the value and what is allowed.
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
#: Every framework a backend imports (``benchlib.backends.registry``), NumPy excepted.
FRAMEWORK_MODULES = ("torch", "tensorflow", "ai_edge_litert", "jax", "jaxlib", "onnxruntime", "onnx", "openvino")
#: Optional components whose absence benchlib reports as a skip: INT8 through NNCF and torchao, PyTorch's
#: ONNX exporter, LoadGen scenarios, the Dask fleet.
OPTIONAL_MODULES = ("nncf", "torchao", "onnxscript", "mlperf_loadgen", "distributed")
#: Top-level packages ``BENCHLIB_BLOCK_IMPORTS`` can block: what benchlib can run without.
BLOCKABLE = FRAMEWORK_MODULES + OPTIONAL_MODULES
#: benchlib's own requirements (pyproject's dependencies): blocking one would stop benchlib itself.
OWN_REQUIREMENTS = ("numpy", "pandas", "psutil", "tqdm", "benchlib")


def blocked_names(value: str | None) -> frozenset[str]:
    """The packages a ``BENCHLIB_BLOCK_IMPORTS`` value names (comma-separated); unset or empty: none.

    Raises ``ValueError`` naming the variable, the value and what is allowed for a package that is
    benchlib's own requirement or not a package benchlib can run without.
    """
    names = [n.strip() for n in (value or "").split(",") if n.strip()]
    allowed = f"allowed: unset, or comma-separated names from {', '.join(BLOCKABLE)}"
    for name in names:
        if name.split(".")[0] in OWN_REQUIREMENTS:
            raise ValueError(f"{BLOCK_ENV}={value!r} names {name!r}, which benchlib itself requires and cannot be "
                             f"blocked; {allowed}")
        if name not in BLOCKABLE:
            raise ValueError(f"{BLOCK_ENV}={value!r} names {name!r}, which is not a package benchlib can run "
                             f"without (a framework or an optional component, by its top-level name); {allowed}")
    return frozenset(names)


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
    """Install the blocker if ``BENCHLIB_BLOCK_IMPORTS`` names any package.

    Runs when benchlib is imported, so it never raises: only blockable names are blocked, and a bad
    value is refused by the CLI's and the notebooks' checks (:func:`blocked_names`), with its reason.
    """
    names = frozenset(n.strip() for n in os.environ.get(BLOCK_ENV, "").split(",") if n.strip() in BLOCKABLE)
    if names and not any(isinstance(f, _Blocker) for f in sys.meta_path):
        sys.meta_path.insert(0, _Blocker(names))
