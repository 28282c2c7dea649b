"""Which sweep case is fastest at a batch size: the one rule for "faster" in the sweep's sentences and tables.

The rule is :func:`benchlib.studies.compare.compare_records` (the 95% interval over rounds of the time
ratio). The case with the lowest median is named the fastest only when the rule calls it faster than
every other candidate; the cases the rule cannot separate from it are named as tied, each with its
ratio and interval; against a record measured without rounds the order is one measurement with no
interval between rounds, so no fastest is named and the sentence says why. Nothing here ranks by
medians alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from benchlib.engine.round_stats import Comparison
from benchlib.studies.compare import (
    CANNOT_TELL,
    FASTER,
    HALFWIDTH_FIELD,
    ROUND_COLUMNS,
    TIE,
    compare_records,
    has_rounds,
)

#: The round data a sweep row keeps beside its median (``p50_ms``), as :func:`compare_records` reads it.
ROUND_FIELDS = tuple(c for c in ROUND_COLUMNS if c not in ("latency_ms.p50", HALFWIDTH_FIELD))
#: What the sentence says when a record without rounds stands in the way of a verdict.
ONE_MEASUREMENT = "the order is one measurement with no interval between rounds"


def case_record(row: pd.Series) -> dict[str, Any]:
    """A sweep row as :func:`compare_records` reads it: its median and its rounds (none when the frame has none)."""
    record = {name: row.get(name) for name in ROUND_FIELDS}
    record["latency_ms.p50"] = row["p50_ms"]
    return record


def case_name(row: pd.Series) -> str:
    """``backend/variant``: how the sweep's sentences and tables name a case."""
    return f"{row['backend']}/{row['variant']}"


@dataclass(frozen=True)
class Lead:
    """The candidate with the lowest median and the rule's comparison of it with every other candidate."""

    top: pd.Series
    against: tuple[tuple[pd.Series, Comparison], ...]  # lowest median first; each comparison is top vs that row

    @property
    def clear(self) -> bool:
        """Whether the rule calls the top faster than every other candidate (and there is another)."""
        return bool(self.against) and all(c.verdict == FASTER for _, c in self.against)

    def where(self, verdict: str) -> list[tuple[pd.Series, Comparison]]:
        """The other candidates whose comparison with the top has ``verdict``."""
        return [(row, c) for row, c in self.against if c.verdict == verdict]


def lead(rows: pd.DataFrame) -> Lead | None:
    """The rule's verdicts for the lowest median of ``rows`` (sweep rows with a finite ``p50_ms``); None if empty."""
    if rows.empty:
        return None
    ordered = rows.sort_values("p50_ms", kind="stable")
    top = ordered.iloc[0]
    record = case_record(top)
    against = tuple((row, compare_records(record, case_record(row), names=(case_name(top), case_name(row))))
                    for _, row in ordered.iloc[1:].iterrows())
    return Lead(top, against)


def _join(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def interval_text(comparison: Comparison) -> str:
    """The 95% interval of the other case's time over the top's (the comparison is the top's over the other's)."""
    paired = "paired " if comparison.paired else ""
    return (f"95% interval {1 / comparison.high:.2f}–{1 / comparison.low:.2f} over {comparison.rounds} "
            f"{paired}rounds")


def ratio_text(comparison: Comparison) -> str:
    """``ratio 1.03, 95% interval 0.97–1.09 over 11 paired rounds``: the other case's time over the top's."""
    return f"ratio {1 / comparison.ratio:.2f}, {interval_text(comparison)}"


def _unknown_clause(top: pd.Series, unknown: list[tuple[pd.Series, Comparison]]) -> str:
    """Why no verdict against ``unknown``: one measurement (no rounds), or the rule's own reason."""
    names = _join([f"{case_name(row)} ({row['p50_ms'] / top['p50_ms']:.2f}× its median)" for row, _ in unknown])
    if all(not has_rounds(case_record(top)) or not has_rounds(case_record(row)) for row, _ in unknown):
        return f"against {names} {ONE_MEASUREMENT} (measured without interleaved rounds)"
    return f"the one rule cannot tell it from {names} ({unknown[0][1].reason})"


def _slowest_clause(lead_: Lead, rows: pd.DataFrame, named: set[str]) -> str:
    """The slowest framework's best variant, by how much the rule puts it behind the top; "" when not apart."""
    best = rows.sort_values("p50_ms", kind="stable").drop_duplicates("backend")
    if len(best) < 2 or best.iloc[-1]["backend"] == lead_.top["backend"]:
        return ""
    slowest = best.iloc[-1]
    comparison = next((c for row, c in lead_.against if row.name == slowest.name), None)
    if comparison is None or comparison.verdict != FASTER or case_name(slowest) in named:
        return ""
    return (f"; the slowest framework's best, {case_name(slowest)}, takes {1 / comparison.ratio:.1f}× as long "
            f"({interval_text(comparison)})")


def batch_sentence(batch: int, rows: pd.DataFrame) -> str | None:
    """Who is fastest at ``batch`` among ``rows`` (every ok case there, one thread count) by the one rule.

    A fastest is named only when the rule calls it faster than every other case, with the ratio and
    interval of the next; otherwise the tied cases are named with their ratios and the cases without
    rounds are named as one measurement. None when ``rows`` is empty.
    """
    found = lead(rows)
    if found is None:
        return None
    top = found.top
    pct = f", {top['pct_of_peak']:.0f}% of peak" if pd.notna(top.get("pct_of_peak")) else ""
    figures = f"p50 {top['p50_ms'] * 1e3:.1f} µs{pct}"
    if not found.against:
        return f"At batch {batch} only {case_name(top)} was measured ({figures})."
    if found.clear:
        runner, versus = found.against[0]
        text = (f"At batch {batch} the fastest is {case_name(top)} ({figures}): the one rule for \"faster\" calls it "
                f"faster than each of the other {len(found.against)} case(s); the next, {case_name(runner)}, takes "
                f"{1 / versus.ratio:.2f}× as long ({interval_text(versus)})")
        return text + _slowest_clause(found, rows, {case_name(runner)}) + "."
    tied, unknown = found.where(TIE), found.where(CANNOT_TELL)
    over = f"time over {case_name(top)}'s: " + "; ".join(f"{case_name(row)} {ratio_text(c)}" for row, c in tied)
    if not unknown:
        text = (f"{_join([case_name(top), *(case_name(row) for row, _ in tied)])} are tied at batch {batch} "
                f"({over}): the interval includes 1, so no fastest is named; {case_name(top)}'s median is the "
                f"lowest ({figures})")
    else:
        text = f"At batch {batch} {case_name(top)} has the lowest median ({figures})"
        if tied:
            text += f"; it is tied with {_join([case_name(row) for row, _ in tied])} ({over})"
        text += f"; {_unknown_clause(top, unknown)}, so no fastest is named"
    named = {case_name(row) for row, _ in tied + unknown}
    return text + _slowest_clause(found, rows, named) + "."


def variant_verdict(rows: pd.DataFrame) -> str:
    """One backend's variants at one batch: whether the rule calls the lowest median faster than the others."""
    found = lead(rows)
    if found is None or not found.against:
        return "only variant"
    if found.clear:
        return f"faster than the other {len(found.against)} variant(s)"
    parts = []
    if found.where(TIE):
        parts.append(f"tied with {_join([str(row['variant']) for row, _ in found.where(TIE)])}")
    if found.where(CANNOT_TELL):
        parts.append(f"cannot tell from {_join([str(row['variant']) for row, _ in found.where(CANNOT_TELL)])} "
                     "(no interval between rounds)")
    return "; ".join(parts)
