"""The measurement engine: cases, isolated runs, statistics.

Names are resolved lazily, so that ``python -m benchlib.system.child`` (a child process) does not
import the launcher, and the launcher not itself, before the child module runs.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RunCase", "case_grid", "run_case", "run_cases"]

_WHERE = {"RunCase": "benchlib.engine.case", "case_grid": "benchlib.engine.grid",
          "run_case": "benchlib.engine.launcher", "run_cases": "benchlib.engine.launcher"}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'benchlib.engine' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_WHERE[name]), name)
