"""The article's chart (three bar panels) and a chart of the article protocol beside the
corrected measurement. Rendering only: the figures are drawn from DataFrames computed elsewhere.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from benchlib.report.article_tables import METRIC_TITLES, METRICS
from benchlib.report.chart_style import FONT, legend_below, log_axis, small_multiples, style_axes
from benchlib.report.display import significant
from benchlib.report.figures import save_figure

#: one colour per framework, kept across both charts
COLORS = {"PyTorch": "#ee4c2c", "TensorFlow": "#ff8f00", "JAX": "#5e97f6", "ONNX": "#7f7f7f",
          "OpenVINO": "#6a1b9a"}
SERIES_COLORS = {"Article protocol": "#c44e52", "Corrected": "#4c72b0", "Published": "#bbbbbb"}


def _save(fig: Figure, stem: Path) -> list[Path]:
    return save_figure(fig, stem.parent, stem.name)


def plot_article_chart(frame: pd.DataFrame, stem: Path, title: str = "Article protocol on this machine") -> list[Path]:
    """The article's figure: latency, CPU and memory as three bar panels (linear axes), one bar per framework.

    ``frame`` has ``framework``, ``latency_ms``, ``cpu_percent`` and ``memory_mb``; writes
    ``stem``.png and ``stem``.svg and returns their paths.
    """
    fig, axes = small_multiples(len(METRICS), panel_width_in=3.6, panel_height_in=3.4, title=title)
    for ax, metric in zip(axes, METRICS, strict=True):
        values = pd.to_numeric(frame[metric], errors="coerce")
        names = list(frame["framework"])
        bars = ax.bar(names, values.fillna(0), color=[COLORS.get(n, "#999999") for n in names])
        for bar, value in zip(bars, values, strict=True):
            text = "n/a" if pd.isna(value) else significant(value)
            ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=FONT["note"])
        ax.margins(y=0.15)  # room for the value above the tallest bar
        style_axes(ax, METRIC_TITLES[metric], ylabel=METRICS[metric][0])
        ax.tick_params(axis="x", rotation=30)
    return _save(fig, stem)


def plot_protocol_comparison(article: pd.DataFrame, corrected: pd.DataFrame, stem: Path,
                             published: pd.DataFrame | None = None) -> list[Path]:
    """Per framework: article protocol, corrected measurement (and the published figures when given),
    one panel per metric. Latency spans decades, so its panel is on a log axis and drawn as points
    (a bar's length on a log axis means nothing); CPU and memory are bars on linear axes.
    """
    import numpy as np

    series = {"Article protocol": article, "Corrected": corrected}
    if published is not None:
        series = {"Published": published, **series}
    names = list(article["framework"])
    fig, axes = small_multiples(len(METRICS), panel_width_in=3.6, panel_height_in=3.4, legend_rows=1,
                                title="Article protocol vs corrected measurement (batch 1000 for every framework)")
    width = 0.8 / len(series)
    x = np.arange(len(names))
    for ax, metric in zip(axes, METRICS, strict=True):
        for i, (label, frame) in enumerate(series.items()):
            lookup = dict(zip(frame["framework"], pd.to_numeric(frame[metric], errors="coerce"), strict=True))
            values = np.array([lookup.get(n, np.nan) for n in names], dtype=float)
            offsets = x + (i - (len(series) - 1) / 2) * width
            if metric == "latency_ms":
                ax.scatter(offsets, values, s=36, label=label, color=SERIES_COLORS[label], zorder=3)
            else:
                ax.bar(offsets, np.nan_to_num(values, nan=0.0), width, label=label, color=SERIES_COLORS[label])
        style_axes(ax, METRIC_TITLES[metric])
        if metric == "latency_ms":
            log_axis(ax, "y", METRICS[metric][0])
            ax.grid(axis="y", which="major", alpha=0.3)
        else:
            ax.set_ylabel(METRICS[metric][0], fontsize=FONT["label"])
        ax.set_xticks(x, names, rotation=30)
    legend_below(fig, axes)
    return _save(fig, stem)
