"""The measurement engine: cases, isolated runs, statistics."""

from benchlib.engine.case import RunCase
from benchlib.engine.launcher import run_case, run_cases

__all__ = ["RunCase", "run_case", "run_cases"]
