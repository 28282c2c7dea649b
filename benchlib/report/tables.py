"""Comparison tables from stored results (a DataFrame from :func:`benchlib.results.load`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from benchlib.studies.compare import ROUND_COLUMNS, has_rounds, tie_groups

#: Identity of a case in the table; the newest record of each wins.
CASE_COLUMNS = ["model", "backend", "variant", "precision", "batch_size", "threads"]

#: Output columns: source column in the flat frame → table header.
TABLE_COLUMNS = {
    "p50_ms": "latency_ms.p50",
    # relative half-width of the median's 95% interval over rounds, beside the median (empty without rounds)
    "p50_halfwidth": "rounds.interval.halfwidth",
    "p99_ms": "latency_ms.p99",
    "throughput_sps": "throughput_sps",
    "cpu_percent": "cpu_percent",
    # the one meaning of "framework memory" (benchlib.report.figures.MEMORY_DEFINITION)
    "framework_mb": "framework_mb",
}


def _col(df: pd.DataFrame, name: str) -> pd.Series:
    return df[name] if name in df.columns else pd.Series([None] * len(df), index=df.index, dtype=object)


#: The scenario of the engine's timed loop (one call at a time); any other is one of LoadGen's.
SINGLE = "single"


def scenario_mask(frame: pd.DataFrame) -> pd.Series:
    """Per row of a flat results frame: whether it is a LoadGen scenario record (not the engine's single calls).

    A record without a scenario (written before LoadGen's scenarios) ran one call at a time.
    """
    scenario = _col(frame, "scenario")
    return scenario.notna() & scenario.astype(str).ne(SINGLE)


def single_call_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``frame`` measured one call at a time; scenario records have their own table
    (:func:`benchlib.report.scenario_table.scenario_table`) and are never ranked with them."""
    if frame is None or frame.empty:
        return frame
    return frame[~scenario_mask(frame)]


def one_per_case(frame: pd.DataFrame) -> pd.DataFrame:
    """The newest row of each configuration (its case identity, per machine) in a flat results frame.

    A configuration is what was measured, not how long it was timed
    (:func:`benchlib.results.records.case_identities`): one re-run with other loop settings (a new
    ``case_key``) replaces its older record in every table, chart and count. Every summary (tables, charts,
    insights, counts) goes through here, so they agree on what was measured. A scenario record's configuration
    also includes the scenario's settings (``scenario_settings.*`` and its ``case_key``): two Server runs with
    different latency bounds stay two rows.
    """
    from benchlib.results.records import case_identities, latest_rows

    if frame is None or frame.empty:
        return frame
    if "precision" in frame.columns:  # records from before the precision dimension ran float32
        frame = frame.assign(precision=frame["precision"].where(frame["precision"].notna(), "fp32"))
    key = case_identities(frame)
    scenario = scenario_mask(frame)
    if scenario.any():
        settings = [c for c in frame.columns if str(c).startswith("scenario_settings.")]
        # None and NaN both mean "not set"
        extra = frame[[*settings, *(["case_key"] if "case_key" in frame.columns else [])]].astype(object)
        extra = extra.where(extra.notna(), "").astype(str).agg("|".join, axis=1) if extra.shape[1] else ""
        key = key.where(~scenario, key + "|" + extra)
    chosen = latest_rows(frame.assign(_summary_key=key), identity=["_summary_key"])
    return chosen.drop(columns="_summary_key")


#: A record whose outputs no check could verify has ``outputs_valid`` null and the reason in this column.
UNVERIFIED_REASON = "reference.reason"


def unverified_mask(frame: pd.DataFrame) -> pd.Series:
    """Per row of a flat results frame: whether no reference check could run (outputs neither valid nor invalid).

    Such a record has ``outputs_valid`` null and ``reference.reason`` saying why (benchlib.models.reference_check);
    a null ``outputs_valid`` without that reason (a failed run, a record from before the check was recorded) is
    not this.
    """
    valid = _col(frame, "outputs_valid").astype(object)
    unchecked = ~valid.eq(True) & ~valid.eq(False)
    return unchecked & _col(frame, UNVERIFIED_REASON).notna()


def finite(values: pd.Series) -> pd.Series:
    """``values`` as numbers; text, ``None``, NaN and infinities become NaN (nothing to rank or compare)."""
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    return numbers.where(np.isfinite(numbers))


def error_text(value: Any) -> str:
    """A record's ``max_abs_err`` in a note; a NaN output is stored as null (JSON has no NaN), so null says both."""
    if value is None or value is pd.NA or (isinstance(value, float | np.floating) and math.isnan(value)):
        return "max abs err unknown: NaN outputs, or none recorded"
    if isinstance(value, int | float | np.number) and not isinstance(value, bool):
        return f"max abs err {float(value):.3g}"
    return f"max abs err {value}"


def number_text(value: Any) -> str:
    """A figure in a sentence or note: three significant figures, or what it is when it is not a number."""
    from benchlib.report.display import format_value

    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return "missing or NaN" if value is None or value is pd.NA else str(value)
    if math.isnan(value):  # a frame holds a record's null as NaN: the two cannot be told apart here
        return "missing or NaN"
    return format_value(float(value), "float")


def busy_machine(warnings: Any) -> bool:
    """Whether a record's ``warnings`` say other processes competed for the CPU during the run."""
    return isinstance(warnings, list | tuple) and any(str(w).startswith("busy machine") for w in warnings)


def tied_ranks(rows: pd.DataFrame, p50: pd.Series, groups: list[pd.Series]) -> pd.Series:
    """Rank by median within each group; a tie is shown as a tie.

    The one rule for "faster" (:func:`benchlib.studies.compare.tie_groups`): walking from the fastest, a
    row shares the current rank unless the rule says that rank's first (fastest) row is faster; a row
    without rounds (one round: "cannot tell") ties. Tied ranks read ``"1="``; rows without a median
    (``p50`` NaN: failed, invalid) get ``""``. ``rows`` are flat rows holding the round data
    (:data:`benchlib.studies.compare.ROUND_COLUMNS`).
    """
    ranks = pd.Series("", index=p50.index, dtype=object)
    valid = p50.dropna()
    for _, part in valid.groupby([g.loc[valid.index] for g in groups], sort=False):
        order = list(part.sort_values(kind="stable").index)
        # the frame's p50 decides the order (it is what the table shows), the records' rounds the ties
        records = [{**rows.loc[index].to_dict(), "latency_ms.p50": float(part[index])} for index in order]
        for members in tie_groups(records):
            number = min(members) + 1  # the leader's position: the group's fastest
            for member in members:
                ranks[order[member]] = f"{number}=" if len(members) > 1 else str(number)
    return ranks


def comparison_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per case: p50 and the half-width of its 95% interval over rounds, p99, throughput, CPU %,
    framework memory, p50 relative to the fastest.

    ``p50_halfwidth`` is the record's between-rounds half-width (``rounds.interval.halfwidth``), empty for
    a record measured without rounds (its within-process interval is never the number's precision).
    ``vs_fastest`` is p50 divided by the smallest p50 among ranked rows of the same model and
    batch size (1.00 = fastest); ``rank`` shows ties as ties (:func:`tied_ranks`); a ranked row without
    rounds says so in its note (it ties: one round cannot tell). Failed and skipped runs
    stay in the table with their status and reason, and without figures (they measured nothing).
    Runs whose outputs failed the reference check, runs no reference check could verify
    (:func:`unverified_mask`), and runs whose p50 is missing, NaN or infinite, are shown but not ranked,
    with a note. When a case was run more than once, the newest record is
    shown. Records from different machines are never one case: with more than one machine a
    ``machine`` column is shown and each machine is ranked on its own. LoadGen scenario records are
    left out (:func:`single_call_rows`); they have their own table.
    """
    columns = ["model", "backend", "variant", "precision", "batch_size", "threads", "status", *TABLE_COLUMNS,
               "rank", "vs_fastest", "note"]
    data = single_call_rows(df)
    if data is None or data.empty:
        return pd.DataFrame(columns=columns)
    data = data.copy()
    for col in CASE_COLUMNS + ["status", "error", "created", "outputs_valid", "max_abs_err", "noisy", "warnings",
                               UNVERIFIED_REASON]:
        data[col] = _col(data, col)
    data = one_per_case(data)
    machine = _col(data, "machine").fillna("").astype(str)
    if machine[machine != ""].nunique() > 1:
        columns.insert(0, "machine")
    data["precision"] = data["precision"].where(data["precision"].notna(), "fp32")  # older records: float32
    # the precision is a column of every table: a reduced precision is never ranked without it shown
    table = pd.DataFrame({col: data[col] for col in ["model", "backend", "variant", "precision", "batch_size",
                                                      "threads", "status"]})
    table.insert(0, "machine", machine.where(machine != "", "unknown"))
    ok = data["status"].eq("ok")
    for out, src in TABLE_COLUMNS.items():
        # an infinite figure is shown as such; a failed or skipped run shows none (it measured nothing)
        table[out] = pd.to_numeric(_col(data, src), errors="coerce").astype(float).where(ok)
    table["p50_halfwidth"] = finite(table["p50_halfwidth"])  # one round has no interval (inf): none shown
    invalid = data["outputs_valid"].astype(object).eq(False)
    unverified = unverified_mask(data)
    p50 = finite(table["p50_ms"])
    ranked = ok & ~invalid & ~unverified & p50.notna()
    fastest = p50.where(ranked).groupby([table["machine"], table["model"], table["batch_size"]]).transform("min")
    table["vs_fastest"] = (p50 / fastest).where(ranked)
    rounds = pd.DataFrame({c: _col(data, c) for c in ROUND_COLUMNS})
    table["rank"] = tied_ranks(rounds, p50.where(ranked), [table["machine"], table["model"], table["batch_size"]])
    one_round = pd.Series([not has_rounds(r) for _, r in rounds.iterrows()], index=rounds.index, dtype=bool)

    def note(row: pd.Series) -> str:
        if row["status"] != "ok":
            return str(row["error"] or "")
        parts = []
        if row["outputs_valid"] is False or row["outputs_valid"] == False:  # noqa: E712 - NumPy bools
            parts.append(f"outputs invalid ({error_text(row['max_abs_err'])}); not ranked")
        elif unverified[row.name]:
            # "not ranked" before the reason: a long reason is cut in narrow tables, the verdict must stay
            parts.append(f"outputs not verified; not ranked ({row[UNVERIFIED_REASON]})")
        elif pd.isna(p50[row.name]):
            parts.append("p50 not a finite number; not ranked")
        elif one_round[row.name] and str(table.at[row.name, "rank"]).endswith("="):
            parts.append("no rounds: cannot tell, so tied")
        if row["noisy"] is True or row["noisy"] == True:  # noqa: E712
            parts.append("noisy")
        if busy_machine(row["warnings"]):
            parts.append("busy machine")
        return "; ".join(parts)

    table["note"] = data.apply(note, axis=1)
    table["threads"] = table["threads"].astype(object).where(table["threads"].notna(), "default")
    order = {"ok": 0, "failed": 1, "skipped": 2}
    table = table.assign(_status=table["status"].map(order).fillna(3), _p50=p50)
    table = table.sort_values(["machine", "model", "batch_size", "_status", "_p50", "backend"], kind="stable",
                              na_position="last").drop(columns=["_status", "_p50"])
    return table[columns].reset_index(drop=True)


def _format(value: Any, column: str, precision: str = "people") -> str:
    """One Markdown cell: as people read it (:mod:`benchlib.report.display`), or every digit for exports."""
    from benchlib.report.display import column_kind, format_value

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if precision == "full":
        if isinstance(value, bool):
            return "yes" if value else "no"
        return repr(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return format_value(value, column_kind(column))
    return format_value(value, "text")


def to_markdown(df: pd.DataFrame, max_cell: int | None = 80, precision: str = "people") -> str:
    """A GitHub-flavoured Markdown table of ``df`` (numbers right-aligned; no extra dependency).

    ``precision="people"`` writes numbers as the notebooks show them (three significant figures,
    thousands separators); ``"full"`` keeps every digit and every character (for exported files).
    """
    if precision not in ("people", "full"):
        raise ValueError(f"precision={precision!r} is invalid; allowed: 'people', 'full'")
    limit = None if precision == "full" else max_cell
    columns = [str(c) for c in df.columns]
    rows = [[_format(v, c, precision).replace("|", "\\|").replace("\n", " ")[:limit]
             for v, c in zip(row, columns, strict=True)]
            for row in df.itertuples(index=False, name=None)]
    numeric = [pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]) for c in df.columns]
    widths = [max([len(c), 3, *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.rjust(w) if num else cell.ljust(w)
                                 for cell, w, num in zip(cells, widths, numeric, strict=True)) + " |"

    separator = "| " + " | ".join(("-" * (w - 1) + ":") if num else "-" * w
                                  for w, num in zip(widths, numeric, strict=True)) + " |"
    return "\n".join([line(columns), separator, *(line(r) for r in rows)])
