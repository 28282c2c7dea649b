"""Charts of a sweep: throughput vs batch size, achieved GFLOP/s against the roofline, cold start.

Each function takes the frame of :func:`benchlib.report.sweep_tables.sweep_frame` and returns a
matplotlib ``Figure`` built without pyplot (a notebook shows it once, as the cell's value or with
``display``; nothing needs closing); :func:`save_figure` writes it as PNG and SVG.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from benchlib.report.chart_style import MAX_WIDTH_IN, legend_right, log_axis, single, style_axes
from benchlib.report.figures import LINESTYLES, MARKERS, colour, model_label, save_figure
from benchlib.report.sweep_tables import _ok, cold_start_table, main_threads


def _lines(ax: Any, data: pd.DataFrame, value: str) -> None:
    # the project's colour per framework; line style and marker tell its variants apart
    # with several models, each model's lines are named after it (a sweep of fnn alone keeps the short names)
    data = data if "model" in data.columns else data.assign(model="fnn")
    several = data["model"].nunique() > 1
    seen: dict[str, int] = {}
    for (model, backend, variant), group in data.groupby(["model", "backend", "variant"]):
        index = seen[backend] = seen.get(backend, -1) + 1
        group = group.sort_values("batch_size")
        ax.plot(group["batch_size"], group[value], color=colour(backend), linestyle=LINESTYLES[index % len(LINESTYLES)],
                marker=MARKERS[index % len(MARKERS)], label=f"{model_label(model)} {backend}/{variant}" if several
                else f"{backend}/{variant}")


def _line_chart(df: pd.DataFrame, value: str, threads: int | None, title: str) -> tuple[int | None, Figure, Any]:
    """A figure with one line of ``value`` per backend/variant, for the ok runs at ``threads``.

    Its x axis is the log batch-size axis, labelled at the batch sizes measured.
    """
    threads = main_threads(df) if threads is None else threads
    data = _ok(df)
    shown = data[data["threads"] == threads]
    fig, ax = single(MAX_WIDTH_IN, 5.5, title.format(threads=threads))
    _lines(ax, shown, value)
    log_axis(ax, "x", "batch size", ticks=shown["batch_size"].dropna().unique())
    return threads, fig, ax


def throughput_figure(df: pd.DataFrame, threads: int | None = None) -> Any:
    """Samples per second against batch size, one line per backend/variant (log-log)."""
    _, fig, ax = _line_chart(df, "throughput_sps", threads, "Throughput vs batch size ({threads} thread(s))")
    style_axes(ax)
    log_axis(ax, "y", "throughput (samples/s, from p50)")
    legend_right(ax)
    return fig


def roofline_figure(df: pd.DataFrame, peaks: dict[int, float], threads: int | None = None) -> Any:
    """Achieved GFLOP/s against batch size (log-log), with the measured peak as a horizontal line."""
    threads, fig, ax = _line_chart(df, "gflops", threads, "Achieved rate vs the machine's peak ({threads} thread(s))")
    peak = peaks.get(threads) if threads is not None else None
    if peak:
        ax.axhline(peak, color="black", linestyle="--", linewidth=1.5,
                   label=f"measured matmul peak ({peak:.0f} GFLOP/s)")
    style_axes(ax)
    log_axis(ax, "y", "achieved GFLOP/s (spec FLOPs / p50)")
    legend_right(ax)
    return fig


def cold_start_figure(df: pd.DataFrame, threads: int | None = None) -> Any:
    """Stacked horizontal bars per framework (linear axis): import, load/compile, first call (seconds)."""
    table = cold_start_table(df, threads).iloc[::-1]
    fig, ax = single(9.0, 1.6 + 0.45 * max(len(table), 1),
                     "Cold start: from import to the first answer (default variant)")
    several = table["model"].nunique() > 1
    labels = [f"{model_label(m)} {b}/{v}" if several else f"{b}/{v}"
              for m, b, v in zip(table["model"], table["backend"], table["variant"], strict=True)]
    left = pd.Series([0.0] * len(table))
    for column, label, scale in (("import_s", "import", 1.0), ("load_s", "load / compile", 1.0),
                                 ("first_call_ms", "first call", 1e-3)):
        values = (table[column].fillna(0.0) * scale).reset_index(drop=True)
        ax.barh(labels, values, left=left, label=label)
        left = left + values
    style_axes(ax, xlabel="seconds")
    legend_right(ax)
    return fig


def all_figures(df: pd.DataFrame, peaks: dict[int, float], figures_dir: str | os.PathLike) -> dict[str, list[Path]]:
    """Draw and save every sweep figure; return their paths by name."""
    out = {}
    for name, fig in (("sweep_throughput", throughput_figure(df)), ("sweep_roofline", roofline_figure(df, peaks)),
                      ("sweep_cold_start", cold_start_figure(df))):
        out[name] = save_figure(fig, figures_dir, name)
    return out
