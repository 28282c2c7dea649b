"""The article's chart (three bar panels) and a chart of the article protocol beside the
corrected measurement. Rendering only: the figures are drawn from DataFrames computed elsewhere.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from benchlib.report.article_tables import METRIC_TITLES, METRICS
from benchlib.report.figures import save_figure

#: one colour per framework, kept across both charts
COLORS = {"PyTorch": "#ee4c2c", "TensorFlow": "#ff8f00", "JAX": "#5e97f6", "ONNX": "#7f7f7f",
          "OpenVINO": "#6a1b9a"}
SERIES_COLORS = {"Article protocol": "#c44e52", "Corrected": "#4c72b0", "Published": "#bbbbbb"}


def _save(fig: Figure, stem: Path) -> list[Path]:
    return save_figure(fig, stem.parent, stem.name)


def plot_article_chart(frame: pd.DataFrame, stem: Path, title: str = "Article protocol on this machine") -> list[Path]:
    """The article's figure: latency, CPU and memory as three bar panels, one bar per framework.

    ``frame`` has ``framework``, ``latency_ms``, ``cpu_percent`` and ``memory_mb``; writes
    ``stem``.png and ``stem``.svg and returns their paths.
    """
    fig = Figure(figsize=(15, 4.5))
    axes = fig.subplots(1, 3)
    for ax, metric in zip(axes, METRICS, strict=True):
        values = pd.to_numeric(frame[metric], errors="coerce")
        names = list(frame["framework"])
        bars = ax.bar(names, values.fillna(0), color=[COLORS.get(n, "#999999") for n in names])
        for bar, value in zip(bars, values, strict=True):
            label = "n/a" if pd.isna(value) else f"{value:.2f}"
            ax.annotate(label, (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=8)
        ax.set_title(METRIC_TITLES[metric])
        ax.set_ylabel(METRICS[metric][0])
        ax.tick_params(axis="x", rotation=20)
    fig.suptitle(title)
    fig.tight_layout()
    paths = _save(fig, stem)
    return paths


def plot_protocol_comparison(article: pd.DataFrame, corrected: pd.DataFrame, stem: Path,
                             published: pd.DataFrame | None = None) -> list[Path]:
    """Grouped bars per framework: article protocol, corrected measurement (and the published
    figures when given), one panel per metric; latency on a log scale because it spans decades.
    """
    import numpy as np

    series = {"Article protocol": article, "Corrected": corrected}
    if published is not None:
        series = {"Published": published, **series}
    names = list(article["framework"])
    fig = Figure(figsize=(16, 4.8))
    axes = fig.subplots(1, 3)
    width = 0.8 / len(series)
    x = np.arange(len(names))
    for ax, metric in zip(axes, METRICS, strict=True):
        for i, (label, frame) in enumerate(series.items()):
            lookup = dict(zip(frame["framework"], pd.to_numeric(frame[metric], errors="coerce"), strict=True))
            values = np.array([lookup.get(n, np.nan) for n in names], dtype=float)
            ax.bar(x + (i - (len(series) - 1) / 2) * width, np.nan_to_num(values, nan=0.0), width,
                   label=label, color=SERIES_COLORS[label])
        if metric == "latency_ms":
            ax.set_yscale("log")
        ax.set_xticks(x, names, rotation=20)
        ax.set_title(METRIC_TITLES[metric])
        ax.set_ylabel(METRICS[metric][0])
    axes[0].legend(fontsize=8)
    fig.suptitle("Article protocol vs corrected measurement (batch 1000 for every framework)")
    fig.tight_layout()
    paths = _save(fig, stem)
    return paths
