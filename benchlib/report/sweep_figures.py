"""Charts of a sweep: throughput vs batch size, achieved GFLOP/s against the roofline, cold start.

Each function takes the frame of :func:`benchlib.report.sweep_tables.sweep_frame` and returns a
matplotlib Figure; :func:`save_figure` writes it as PNG and SVG. matplotlib is imported lazily and
uses the Agg backend when no display is configured (papermill kernels, CI).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from benchlib.report.sweep_tables import _ok, cold_start_table, main_threads


def _plt() -> Any:
    import matplotlib

    if not os.environ.get("DISPLAY") and "inline" not in matplotlib.get_backend().lower():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, figures_dir: str | os.PathLike, name: str) -> list[Path]:
    """Save ``fig`` as ``<name>.png`` and ``<name>.svg`` in ``figures_dir``; return both paths."""
    folder = Path(figures_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{name}.png", folder / f"{name}.svg"]
    fig.savefig(paths[0], dpi=120, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    return paths


def _lines(ax: Any, data: pd.DataFrame, value: str) -> None:
    for (backend, variant), group in data.groupby(["backend", "variant"]):
        group = group.sort_values("batch_size")
        ax.plot(group["batch_size"], group[value], marker="o", label=f"{backend}/{variant}")


def throughput_figure(df: pd.DataFrame, threads: int | None = None) -> Any:
    """Samples per second against batch size, one line per backend/variant (log-log)."""
    plt = _plt()
    threads = main_threads(df) if threads is None else threads
    data = _ok(df)
    data = data[data["threads"] == threads]
    fig, ax = plt.subplots(figsize=(9, 5.5))
    _lines(ax, data, "throughput_sps")
    ax.set(xscale="log", yscale="log", xlabel="batch size", ylabel="throughput (samples/s, from p50)",
           title=f"Throughput vs batch size ({threads} thread(s))")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="best")
    fig.tight_layout()
    return fig


def roofline_figure(df: pd.DataFrame, peaks: dict[int, float], threads: int | None = None) -> Any:
    """Achieved GFLOP/s against batch size (log-log), with the measured peak as a horizontal line."""
    plt = _plt()
    threads = main_threads(df) if threads is None else threads
    data = _ok(df)
    data = data[data["threads"] == threads]
    fig, ax = plt.subplots(figsize=(9, 5.5))
    _lines(ax, data, "gflops")
    peak = peaks.get(threads) if threads is not None else None
    if peak:
        ax.axhline(peak, color="black", linestyle="--", linewidth=1.5,
                   label=f"measured matmul peak ({peak:.0f} GFLOP/s)")
    ax.set(xscale="log", yscale="log", xlabel="batch size", ylabel="achieved GFLOP/s (spec FLOPs / p50)",
           title=f"Achieved rate vs the machine's peak ({threads} thread(s))")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="best")
    fig.tight_layout()
    return fig


def cold_start_figure(df: pd.DataFrame, threads: int | None = None) -> Any:
    """Stacked bars per framework: import, load/compile, first call (seconds)."""
    plt = _plt()
    table = cold_start_table(df, threads)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    labels = [f"{b}/{v}" for b, v in zip(table["backend"], table["variant"], strict=True)]
    bottom = pd.Series([0.0] * len(table))
    for column, label, scale in (("import_s", "import", 1.0), ("load_s", "load / compile", 1.0),
                                 ("first_call_ms", "first call", 1e-3)):
        values = (table[column].fillna(0.0) * scale).reset_index(drop=True)
        ax.bar(labels, values, bottom=bottom, label=label)
        bottom = bottom + values
    ax.set(ylabel="seconds", title="Cold start: from import to the first answer (default variant)")
    ax.legend()
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    return fig


def all_figures(df: pd.DataFrame, peaks: dict[int, float], figures_dir: str | os.PathLike,
                close: bool = True) -> dict[str, list[Path]]:
    """Draw and save every sweep figure; return their paths by name."""
    plt = _plt()
    out = {}
    for name, fig in (("sweep_throughput", throughput_figure(df)), ("sweep_roofline", roofline_figure(df, peaks)),
                      ("sweep_cold_start", cold_start_figure(df))):
        out[name] = save_figure(fig, figures_dir, name)
        if close:
            plt.close(fig)
    return out
