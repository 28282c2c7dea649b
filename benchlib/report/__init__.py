"""Tables (and later charts) from stored results."""

from benchlib.report.tables import comparison_table, to_markdown

__all__ = ["comparison_table", "to_markdown"]
