"""The article's three tables, the comparison with its published figures and the corrected
measurement beside them (the explanations of the numbers are in :mod:`.article_explanations`).

Every ``*_table`` / ``*_comparison`` function computes and returns a DataFrame with numbers in
it; :func:`render_markdown` and :func:`write_tables` only render and write.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from benchlib.studies.article.records import ArticleRun, FrameworkResult
from benchlib.studies.article.settings import ARTICLE_ORDER, DISPLAY_NAMES
from benchlib.studies.compare import HALFWIDTH_FIELD

#: metric key → (article's value column title, relative column title, baseline backend)
METRICS: dict[str, tuple[str, str, str]] = {
    "latency_ms": ("Latency (ms)", "Relative Latency (vs. PyTorch)", "pytorch"),
    # the article took OpenVINO as the CPU baseline, unlike the other two tables
    "cpu_percent": ("CPU Usage (%)", "Relative CPU Usage", "openvino"),
    "memory_mb": ("Memory (MB)", "Relative Memory Usage (vs. PyTorch)", "pytorch"),
}
METRIC_TITLES = {"latency_ms": "Latency", "cpu_percent": "CPU usage", "memory_mb": "Memory"}
FRAME_COLUMNS = ["backend", "framework", "status", "error", "latency_ms", "cpu_percent", "memory_mb"]


# -- normalising inputs ---------------------------------------------------------------------------

def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    order = {name: i for i, name in enumerate(ARTICLE_ORDER)}
    frame = frame.assign(_order=frame["backend"].map(lambda b: order.get(b, len(order))))
    return frame.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)


def article_frame(source: ArticleRun | Iterable[FrameworkResult] | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per framework from the article protocol (a run, its results or its JSONL records).

    Columns: backend, framework (the article's name), status, error, latency_ms, cpu_percent,
    memory_mb, per_call_us, calls_per_run, wall_s, pid.
    """
    items = source.results if isinstance(source, ArticleRun) else list(source)
    rows = []
    for item in items:
        if isinstance(item, FrameworkResult):
            row = asdict(item)
            row["backend"] = row.pop("framework")
            row["per_call_us"] = item.per_call_us
        else:
            row = dict(item)
            latency = row.get("latency_ms")
            row["latency_ms"] = latency.get("mean") if isinstance(latency, Mapping) else latency
            if "latency_ms.mean" in row and row["latency_ms"] is None:
                row["latency_ms"] = row["latency_ms.mean"]
        row.setdefault("framework", DISPLAY_NAMES.get(row.get("backend", ""), row.get("backend")))
        row["framework"] = DISPLAY_NAMES.get(row["backend"], row["backend"])
        rows.append(row)
    frame = pd.DataFrame(rows)
    for column in [*FRAME_COLUMNS, "per_call_us", "calls_per_run", "wall_s", "pid"]:
        if column not in frame:
            frame[column] = None
    keep = [*FRAME_COLUMNS, "per_call_us", "calls_per_run", "wall_s", "pid"]
    frame = frame[keep].copy()
    for column in ("latency_ms", "cpu_percent", "memory_mb", "per_call_us", "wall_s"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return _ordered(frame)


def corrected_frame(records: pd.DataFrame | Iterable[Mapping[str, Any]], batch_size: int = 1000) -> pd.DataFrame:
    """One row per framework from the engine's records of the corrected measurement.

    ``latency_ms`` is the per-call median (p50) at ``batch_size``, ``cpu_percent`` the engine's
    process CPU time over the timed loop (percent of one core), ``memory_mb`` the peak RSS of
    the framework's own process; ``framework_mb`` is that peak minus the interpreter's baseline.
    """
    from benchlib.results import flatten

    if isinstance(records, pd.DataFrame):
        frame = records.copy()
    else:
        frame = pd.DataFrame([flatten(dict(r)) for r in records])
    if frame.empty:
        return pd.DataFrame(columns=[*FRAME_COLUMNS, "framework_mb", "latency_p99_ms", "p50_halfwidth", "outputs_valid",
                                     "pid"])
    if "batch_size" in frame:
        frame = frame[frame["batch_size"] == batch_size]
    frame = frame[frame["backend"].isin(ARTICLE_ORDER)]

    def column(name: str) -> pd.Series:
        return frame[name] if name in frame else pd.Series([None] * len(frame), index=frame.index)

    out = pd.DataFrame({
        "backend": frame["backend"],
        "framework": frame["backend"].map(DISPLAY_NAMES),
        "status": column("status"),
        "error": column("error"),
        "latency_ms": pd.to_numeric(column("latency_ms.p50"), errors="coerce"),
        # the relative half-width of that median's 95% interval over rounds (NaN without rounds: the article
        # protocol, fixed-time records; their within-process interval is never the number's precision)
        "p50_halfwidth": pd.to_numeric(column(HALFWIDTH_FIELD), errors="coerce"),
        "cpu_percent": pd.to_numeric(column("cpu_percent"), errors="coerce"),
        "memory_mb": pd.to_numeric(column("rss_peak_mb"), errors="coerce"),
        "framework_mb": pd.to_numeric(column("framework_mb"), errors="coerce"),
        "rss_start_mb": pd.to_numeric(column("rss_mb.start"), errors="coerce"),
        "latency_p99_ms": pd.to_numeric(column("latency_ms.p99"), errors="coerce"),
        "outputs_valid": column("outputs_valid"),
        "variant": column("variant"),
        "pid": column("pid"),
    })
    return _ordered(out)


# -- the article's tables -------------------------------------------------------------------------

def _value(frame: pd.DataFrame, backend: str, metric: str) -> float:
    rows = frame.loc[frame["backend"] == backend, metric]
    return float(rows.iloc[0]) if len(rows) and pd.notna(rows.iloc[0]) else math.nan


def article_table(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One of the article's tables: ``Framework | <value> | <relative>`` for ``metric``.

    The relative column divides by the article's baseline for that table: PyTorch for latency
    and memory, OpenVINO for CPU usage. A missing baseline leaves the column empty (NaN).
    """
    value_title, relative_title, baseline = METRICS[metric]
    base = _value(frame, baseline, metric)
    values = pd.to_numeric(frame[metric], errors="coerce")
    table = pd.DataFrame({
        "Framework": frame["framework"].to_numpy(),
        value_title: values.to_numpy(),
        relative_title: (values / base).to_numpy() if base and not math.isnan(base) else math.nan,
    })
    table.attrs.update(metric=metric, baseline=DISPLAY_NAMES[baseline])
    return table


def latency_table(frame: pd.DataFrame) -> pd.DataFrame:
    """``Framework | Latency (ms) | Relative Latency (vs. PyTorch)``."""
    return article_table(frame, "latency_ms")


def cpu_table(frame: pd.DataFrame) -> pd.DataFrame:
    """``Framework | CPU Usage (%) | Relative CPU Usage`` (relative to OpenVINO, as published)."""
    return article_table(frame, "cpu_percent")


def memory_table(frame: pd.DataFrame) -> pd.DataFrame:
    """``Framework | Memory (MB) | Relative Memory Usage (vs. PyTorch)``."""
    return article_table(frame, "memory_mb")


def article_tables(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The three tables keyed by metric (``latency_ms``, ``cpu_percent``, ``memory_mb``)."""
    return {metric: article_table(frame, metric) for metric in METRICS}


# -- comparisons ----------------------------------------------------------------------------------

def _ranks(values: pd.Series) -> pd.Series:
    return values.rank(method="min").astype("Int64")


def published_comparison(frame: pd.DataFrame, published: pd.DataFrame, metric: str) -> pd.DataFrame:
    """This machine's figure beside the article's, their ratio and each one's rank (1 = lowest).

    ``attrs["ranking_agrees"]`` is True when the frameworks measured here come in the same order
    as in the article (frameworks without a figure here are left out of the comparison).
    """
    merged = frame[["backend", "framework", metric]].merge(
        published[["backend", metric]], on="backend", how="left", suffixes=("_here", "_article"))
    return _paired(merged, metric, ("_here", "This machine", "Rank here"),
                   ("_article", "Article", "Rank in article"), "Ratio (this machine / article)")


def _paired(merged: pd.DataFrame, metric: str, left: tuple[str, str, str], right: tuple[str, str, str],
            ratio_title: str) -> pd.DataFrame:
    """Two figures per framework side by side, their ratio and each one's rank (1 = lowest).

    ``left`` and ``right`` are (column suffix in ``merged``, value title, rank title); ranks count
    only frameworks with both figures, and ``attrs["ranking_agrees"]`` says whether they match.
    """
    first = pd.to_numeric(merged[f"{metric}{left[0]}"], errors="coerce")
    second = pd.to_numeric(merged[f"{metric}{right[0]}"], errors="coerce")
    both = first.notna() & second.notna()
    table = pd.DataFrame({
        "Framework": merged["framework"],
        left[1]: first,
        right[1]: second,
        ratio_title: first / second,
        left[2]: _ranks(first.where(both)),
        right[2]: _ranks(second.where(both)),
    })
    table.attrs.update(metric=metric, ranking_agrees=ranking_agrees(table, left[2], right[2]))
    return table


def ranking_agrees(table: pd.DataFrame, left: str = "Rank here", right: str = "Rank in article") -> bool:
    """Whether two rank columns order the frameworks that have both figures the same way."""
    rows = table[[left, right]].dropna()
    return bool(len(rows)) and bool((rows[left] == rows[right]).all())


def protocol_comparison(article: pd.DataFrame, corrected: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The article protocol's figure beside the corrected measurement's, with their ratio."""
    merged = article[["backend", "framework", metric]].merge(
        corrected[["backend", metric]], on="backend", how="outer", suffixes=("_article", "_corrected"))
    merged["framework"] = merged["backend"].map(DISPLAY_NAMES)
    return _paired(_ordered(merged), metric, ("_article", "Article protocol", "Rank (article protocol)"),
                   ("_corrected", "Corrected", "Rank (corrected)"), "Ratio (article / corrected)")


def wall_time_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Each framework's wall time in the article's loop, and what one framework call cost."""
    return pd.DataFrame({
        "Framework": frame["framework"],
        "Framework calls per run": frame["calls_per_run"],
        "Loop wall time (s)": pd.to_numeric(frame["wall_s"], errors="coerce"),
        "Per framework call (µs)": pd.to_numeric(frame["per_call_us"], errors="coerce"),
    })


def status_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Frameworks that did not produce figures, with the reason (nothing silently dropped)."""
    rows = frame[frame["status"] != "ok"]
    return pd.DataFrame({"Framework": rows["framework"], "Status": rows["status"], "Reason": rows["error"]})


# -- rendering ------------------------------------------------------------------------------------

def _cell(column: str, value: Any, table: pd.DataFrame) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if column.startswith("Relative"):
            return f"{value:.2f}×"
        if column.startswith("Ratio"):
            return f"{value:.3g}×"
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.2f}"
    return str(value)


def render_markdown(table: pd.DataFrame) -> str:
    """A DataFrame as a GitHub Markdown table (the baseline row of a relative column is marked)."""
    columns = list(table.columns)
    baseline = table.attrs.get("baseline")
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for _, row in table.iterrows():
        cells = []
        for column in columns:
            text = _cell(column, row[column], table)
            if column.startswith("Relative") and baseline and row.get("Framework") == baseline and text != "n/a":
                text += " (baseline)"
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_text(table: pd.DataFrame) -> str:
    """A DataFrame as aligned plain text for the terminal."""
    columns = list(table.columns)
    rows = [[_cell(c, row[c], table) for c in columns] for _, row in table.iterrows()]
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def write_tables(tables: Mapping[str, pd.DataFrame], directory: Path, prefix: str = "article") -> list[Path]:
    """Write each table as ``<prefix>-<name>.csv`` under ``directory``, with its Markdown twin
    ``<prefix>-<name>.md`` that vouches for it (:mod:`benchlib.report.table_files`); returns the paths."""
    from benchlib.report.table_files import write_table

    paths = []
    for name, table in tables.items():
        paths += write_table(table, directory, f"{prefix}-{name}")
    return paths


def write_markdown(sections: Sequence[tuple[str, str]], path: Path, title: str) -> Path:
    """Write ``(heading, body)`` sections as one Markdown document, first line benchlib's marker (a later
    run replaces it, and never a document of the user's)."""
    from benchlib.report.outputs import MARKDOWN_MARKER

    path.parent.mkdir(parents=True, exist_ok=True)
    text = [MARKDOWN_MARKER, f"# {title}", ""]
    for heading, body in sections:
        text += [f"## {heading}", "", body.rstrip(), ""]
    path.write_text("\n".join(text))
    return path
