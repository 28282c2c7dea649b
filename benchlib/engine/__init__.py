"""The measurement engine: cases, isolated runs, statistics."""

from benchlib.engine.case import RunCase

__all__ = ["RunCase"]
