"""Charts of engine results. Rendering only: every number comes from the records or the tidy frame.

Functions return ``matplotlib.figure.Figure`` objects built without pyplot, so a notebook shows each
figure exactly once (as the cell's value) and scripts need no display. :func:`save_figure` writes PNG
and SVG.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

#: One colour per backend, the same in every chart.
BACKEND_COLOURS = {
    "numpy": "#7f7f7f",
    "pytorch": "#ee4c2c",
    "tensorflow": "#ff8f00",
    "jax": "#5e97f6",
    "onnxruntime": "#2ca02c",
    "openvino": "#8e44ad",
}


LINESTYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D", "v")


def colour(backend: str) -> str:
    return BACKEND_COLOURS.get(backend, "#333333")


def save_figure(fig: Figure, folder: str | Path, name: str) -> list[Path]:
    """Write ``fig`` as ``name.png`` (150 dpi) and ``name.svg`` in ``folder``; return both paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{name}.png", folder / f"{name}.svg"]
    fig.savefig(paths[0], dpi=150, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    return paths


def _label(row: Any) -> str:
    variant = row.get("variant")
    return f"{row['backend']}/{variant}" if variant else str(row["backend"])


def _ok(df: pd.DataFrame) -> pd.DataFrame:
    if df.empty or "status" not in df:
        return df.iloc[0:0]
    return df[df["status"].eq("ok") & df["latency_ms.p50"].notna()]


def _empty(title: str, message: str) -> Figure:
    fig = Figure(figsize=(7, 2.5))
    ax = fig.add_subplot()
    ax.axis("off")
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    return fig


def latency_distribution(records: Iterable[dict], title: str = "Per-call latency distribution") -> Figure:
    """ECDF of the raw per-call latencies of each ok record (log time axis), one panel per batch size."""
    runs = [r for r in records if r.get("status") == "ok" and r.get("samples_ms")]
    if not runs:
        return _empty(title, "no successful runs with stored samples")
    batches = sorted({r["batch_size"] for r in runs})
    fig = Figure(figsize=(6.5 * len(batches), 4.2), layout="constrained")
    axes = fig.subplots(1, len(batches), squeeze=False)[0]
    for ax, batch in zip(axes, batches, strict=True):
        for record in sorted((r for r in runs if r["batch_size"] == batch), key=_label):
            samples = np.sort(np.asarray(record["samples_ms"], dtype=float))
            share = np.arange(1, samples.size + 1) / samples.size
            ax.step(samples, share, where="post", color=colour(record["backend"]), label=_label(record),
                    linestyle="-" if record.get("variant") in (None, _first_variant(record)) else "--")
        ax.set_xscale("log")
        ax.set_xlabel("latency per call (ms, log scale)")
        ax.set_ylabel("share of calls at or below")
        ax.set_title(f"batch size {batch}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle(title)
    return fig


def _first_variant(record: dict) -> str | None:
    try:
        from benchlib.backends.registry import backend_variants

        return backend_variants(record["backend"])[0]
    except Exception:  # noqa: BLE001 - colour/style only
        return None


def p50_with_p99(df: pd.DataFrame, title: str = "Median latency per call, whiskers to p99") -> Figure:
    """Bars of p50 per case with a whisker up to p99, one panel per batch size (log scale)."""
    data = _ok(df)
    if data.empty:
        return _empty(title, "no successful runs")
    batches = sorted(data["batch_size"].unique())
    fig = Figure(figsize=(max(6.0, 1.2 * data.groupby("batch_size").size().max()) * len(batches) / 1.5, 4.5),
                 layout="constrained")
    axes = fig.subplots(1, len(batches), squeeze=False)[0]
    for ax, batch in zip(axes, batches, strict=True):
        part = data[data["batch_size"] == batch].sort_values("latency_ms.p50")
        labels = [_label(row) for _, row in part.iterrows()]
        p50 = part["latency_ms.p50"].to_numpy(float)
        p99 = part["latency_ms.p99"].to_numpy(float)
        ax.bar(labels, p50, color=[colour(b) for b in part["backend"]],
               yerr=[np.zeros_like(p50), np.maximum(p99 - p50, 0)], capsize=4)
        ax.set_yscale("log")
        ax.set_ylabel("ms per call (log scale)")
        ax.set_title(f"batch size {batch}")
        ax.tick_params(axis="x", rotation=45)
        for tick in ax.get_xticklabels():
            tick.set_horizontalalignment("right")
    fig.suptitle(title)
    return fig


def throughput_vs_batch(df: pd.DataFrame, title: str = "Throughput against batch size") -> Figure:
    """Samples per second against batch size, one line per backend/variant (log-log)."""
    data = _ok(df)
    if data.empty or data["batch_size"].nunique() < 1:
        return _empty(title, "no successful runs")
    fig = Figure(figsize=(7.5, 4.8), layout="constrained")
    ax = fig.add_subplot()
    seen: dict[str, int] = {}
    for (backend, variant), part in data.groupby(["backend", data["variant"].fillna("")]):
        # same colour per framework; line style and marker tell its variants apart
        index = seen[backend] = seen.get(backend, -1) + 1
        part = part.groupby("batch_size", as_index=False)["throughput_sps"].max()
        ax.plot(part["batch_size"], part["throughput_sps"], color=colour(backend),
                linestyle=LINESTYLES[index % len(LINESTYLES)], marker=MARKERS[index % len(MARKERS)],
                label=f"{backend}/{variant}" if variant else backend)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("batch size (log)")
    ax.set_ylabel("samples per second (log)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    ax.set_title(title)
    return fig


def cpu_and_memory(df: pd.DataFrame, batch_size: int | None = None,
                   title: str = "CPU use and peak memory per framework") -> Figure:
    """Two bar panels: CPU % of one core during the timed loop, and the framework's own memory."""
    data = _ok(df)
    if batch_size is not None and not data.empty:
        data = data[data["batch_size"] == batch_size]
    if data.empty:
        return _empty(title, "no successful runs")
    data = data.sort_values(["backend", "variant"])
    labels = [_label(row) for _, row in data.iterrows()]
    colours = [colour(b) for b in data["backend"]]
    fig = Figure(figsize=(max(8.0, 1.1 * len(labels) * 2), 4.2), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.bar(labels, data["cpu_percent"], color=colours)
    left.set_ylabel("CPU, % of one core")
    left.set_title("CPU during the timed loop")
    memory = data["framework_mb"] if "framework_mb" in data else data["rss_peak_mb"]
    right.bar(labels, memory, color=colours)
    right.set_ylabel("MB")
    right.set_title("framework memory (peak RSS minus interpreter baseline)")
    for ax in (left, right):
        ax.tick_params(axis="x", rotation=45)
        for tick in ax.get_xticklabels():
            tick.set_horizontalalignment("right")
    suffix = f" (batch size {batch_size})" if batch_size is not None else ""
    fig.suptitle(title + suffix)
    return fig
