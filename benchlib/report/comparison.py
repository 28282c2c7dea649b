"""The comparison notebook's selections: one configuration chosen explicitly, the others beside it.

The article compared the frameworks at batch 1000, each in its default variant with its default
threads. :class:`Configuration` names such a choice, says it in a sentence above the tables, and
selects exactly one record per framework for it (the newest of each configuration, via
:func:`benchlib.report.tables.one_per_case`). Records of other configurations (other variants,
other thread counts) are shown in their own tables with the columns that tell them apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from benchlib.report.tables import one_per_case, single_call_rows

#: Columns of the other-configurations tables, in order.
OTHER_COLUMNS = ["backend", "variant", "threads", "p50_ms", "p50_halfwidth", "p99_ms", "cpu_percent", "framework_mb",
                 "note"]


def default_variants() -> dict[str, str]:
    """Each installed backend's default variant (the first it offers)."""
    from benchlib.backends.registry import BACKEND_NAMES, backend_variants, missing_requirement

    return {name: backend_variants(name)[0] for name in BACKEND_NAMES if missing_requirement(name) is None}


def threads_text(value: Any) -> str:
    """A stored thread count as text: "default" for the framework's own, else the number."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "default":
        return "default"
    return str(int(value))


def is_default_variant(frame: pd.DataFrame) -> pd.Series:
    """Per row: whether the record is its backend's default variant (a record without variant counts)."""
    defaults = default_variants()
    variant = frame["variant"] if "variant" in frame else pd.Series(None, index=frame.index)
    return pd.Series([v is None or (isinstance(v, float) and math.isnan(v)) or defaults.get(b) == v
                      for b, v in zip(frame["backend"], variant, strict=True)], index=frame.index, dtype=bool)


@dataclass(frozen=True)
class Configuration:
    """What the article-shaped comparison compares: one batch size, each framework's default variant,
    one thread setting (``None``: the framework's default)."""

    batch_size: int = 1000
    threads: int | None = None

    @classmethod
    def of(cls, batch_size: int, threads: int | str | None) -> Configuration:
        """From notebook parameters (``threads`` as in docs/threads.md: "default", "cores" or N; as stored in
        records: None for the framework's default, else the count)."""
        from benchlib.engine.params import check_batch_size, check_threads

        return cls(batch_size=check_batch_size(batch_size), threads=check_threads(threads))

    def describe(self) -> str:
        threads = "the framework's default threads" if self.threads is None else f"{self.threads} thread(s)"
        return f"batch size {self.batch_size}, each framework's default variant, {threads}"

    def _threads_match(self, frame: pd.DataFrame) -> pd.Series:
        threads = pd.to_numeric(frame["threads"], errors="coerce") if "threads" in frame else \
            pd.Series(float("nan"), index=frame.index)
        return threads.isna() if self.threads is None else threads.eq(self.threads)

    def rows(self, frame: pd.DataFrame, all_batches: bool = False) -> pd.DataFrame:
        """The newest record per framework in this configuration (at every batch size with ``all_batches``).

        Single-call records only: a LoadGen scenario record is never one of the compared rows.
        """
        frame = single_call_rows(frame)
        if frame is None or frame.empty:
            return frame
        data = one_per_case(frame)
        chosen = data[is_default_variant(data) & self._threads_match(data)]
        if not all_batches:
            chosen = chosen[chosen["batch_size"] == self.batch_size]
        return chosen

    def others(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Records at this batch size in any other configuration (another variant or thread setting)."""
        frame = single_call_rows(frame)
        if frame is None or frame.empty:
            return frame
        data = one_per_case(frame)
        data = data[data["batch_size"] == self.batch_size]
        return data[~(is_default_variant(data) & self._threads_match(data))]

    def missing_sentence(self, frame: pd.DataFrame) -> str | None:
        """Why the configuration has no rows, naming the thread settings that do have records (or None)."""
        if frame is None or frame.empty:
            return "No engine records were found; run the framework notebooks first."
        if not self.rows(frame).empty:
            return None
        data = one_per_case(single_call_rows(frame))
        at_batch = data[(data["batch_size"] == self.batch_size) & is_default_variant(data)]
        if at_batch.empty:
            return (f"No record at batch size {self.batch_size} in the default variant; the framework notebooks "
                    f"measure the batch sizes in their `batch_sizes` parameter.")
        found = sorted({threads_text(t) for t in at_batch["threads"]})
        return (f"No record with threads={threads_text(self.threads)} at batch size {self.batch_size}; records "
                f"exist for threads {', '.join(found)}: set this notebook's `threads` parameter to one of them, "
                f"or run the framework notebooks with threads=\"{threads_text(self.threads)}\".")


def other_configuration_tables(frame: pd.DataFrame, configuration: Configuration) -> dict[str, pd.DataFrame]:
    """The other configurations at the comparison's batch size, one table per thread setting.

    Each row is one framework/variant: p50, p99, CPU, framework memory and a note; the ``variant``
    and ``threads`` columns say what differs from the chosen configuration.
    """
    from benchlib.report.tables import comparison_table

    others = configuration.others(frame)
    if others is None or others.empty:
        return {}
    table = comparison_table(others)
    table = table[table["status"].eq("ok")] if "status" in table else table
    tables = {}
    for threads, part in table.groupby(table["threads"].map(threads_text), sort=True):
        part = part.sort_values(["p50_ms", "backend"], na_position="last")
        tables[f"threads {threads}"] = part[[c for c in OTHER_COLUMNS if c in part]].reset_index(drop=True)
    return tables


def article_display(table: pd.DataFrame) -> Any:
    """One of the article-shaped tables as people read it: the baseline row marked, empty cells explained."""
    from benchlib.report.display import people_frame, people_table

    baseline = table.attrs.get("baseline")
    shown = table.copy()
    relative = [c for c in shown.columns if str(c).startswith("Relative")]
    # a missing half-width is a dash (no interval), not "not measured"
    value_columns = [c for c in shown.columns if c not in ("Framework", "p50_halfwidth") and c not in relative]
    base_row = shown[shown["Framework"] == baseline] if baseline else shown.iloc[0:0]
    base_missing = base_row.empty or base_row[value_columns].isna().all(axis=None)
    for column in relative:
        texts = people_frame(shown[[column]]).iloc[:, 0].tolist()
        cells = []
        for framework, text, value in zip(shown["Framework"], texts, shown[column], strict=True):
            if framework == baseline and not base_missing:
                cells.append(f"{text} (baseline)")
            elif pd.isna(value):
                cells.append(f"baseline {baseline} not measured" if base_missing else "not measured")
            else:
                cells.append(text)
        shown[column] = cells
    return people_table(shown, kinds={c: "text" for c in relative}, empty={c: "not measured" for c in value_columns},
                        right=tuple(relative))
