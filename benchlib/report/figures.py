"""Charts of engine results. Rendering only: every number comes from the records or the tidy frame.

Functions return ``matplotlib.figure.Figure`` objects built without pyplot, so a notebook shows each
figure exactly once (as the cell's value) and scripts need no display. :func:`save_figure` writes PNG
and SVG. Layout rules (grid of at most three panels per row, legible text, legends outside the data,
labelled log axes) live in :mod:`benchlib.report.chart_style`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from benchlib.report.chart_style import (
    FONT,
    legend_below,
    legend_right,
    legend_rows,
    log_axis,
    single,
    small_multiples,
    style_axes,
)

#: One colour per backend, the same in every chart.
BACKEND_COLOURS = {
    "numpy": "#7f7f7f",
    "pytorch": "#ee4c2c",
    "tensorflow": "#ff8f00",
    "litert": "#a0522d",
    "jax": "#5e97f6",
    "onnxruntime": "#2ca02c",
    "openvino": "#8e44ad",
}

LINESTYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D", "v")
#: What "framework memory" means in every table, chart and sentence of the report.
MEMORY_DEFINITION = ("the peak RSS of the run's own process minus its RSS when the worker started, before the "
                     "framework was imported, so the interpreter itself is not counted")


def chart_text(text: object) -> str:
    """Text from a record or a file name as a chart shows it: a ``$`` is a dollar sign, never the start of
    mathtext (``$\\frac$`` in a variant name would stop the chart with a parse error)."""
    return str(text).replace("$", r"\$")


def colour(backend: str) -> str:
    return BACKEND_COLOURS.get(backend, "#333333")


#: The creator written into every chart file benchlib saves (PNG text chunk, SVG metadata).
CHART_CREATOR = "benchlib"

#: Resolution of saved PNG files: sharper than the 100 dpi a notebook draws at (for slides and the README).
SAVED_DPI = 150


def save_figure(fig: Figure, folder: str | Path, name: str) -> list[Path]:
    """Write ``fig`` as ``name.png`` (:data:`SAVED_DPI`) and ``name.svg`` in ``folder``; return both paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{name}.png", folder / f"{name}.svg"]
    # Each file names benchlib as its creator, so a later run can tell its own charts from a chart the
    # user drew with Matplotlib under the same name (which it must never replace).
    fig.savefig(paths[0], dpi=SAVED_DPI, bbox_inches="tight", metadata={"Creator": CHART_CREATOR})
    fig.savefig(paths[1], bbox_inches="tight", metadata={"Creator": CHART_CREATOR})
    return paths


def _threads_text(value: Any) -> str:
    return "default" if value is None or (isinstance(value, float) and np.isnan(value)) else str(int(value))


def model_label(name: object) -> str:
    """A model's name as a chart shows it: a zoo name as it is, a user's ONNX file by its file name, a factory
    (``torch:package.module:make_net``) by its kind and function. A full path in a legend or on an axis
    squeezes the plot itself to nothing; the records and tables keep the full name."""
    text = str(name)
    if text.lower().endswith(".onnx"):
        return chart_text(Path(text).name)
    kind, sep, target = text.partition(":")
    if sep and ":" in target:
        return chart_text(f"{kind}:{target.rpartition(':')[2]}")
    return chart_text(text)


def case_labels(rows: pd.DataFrame | Iterable[dict]) -> list[str]:
    """``backend/variant`` per row, plus `` t=N`` when one backend/variant appears at several thread counts."""
    items = list(rows.to_dict("records")) if isinstance(rows, pd.DataFrame) else list(rows)
    threads_seen: dict[tuple[str, str], set[str]] = {}
    for item in items:
        key = (str(item.get("backend")), str(item.get("variant") or ""))
        threads_seen.setdefault(key, set()).add(_threads_text(item.get("threads")))
    labels = []
    for item in items:
        variant = item.get("variant")
        label = f"{item['backend']}/{variant}" if isinstance(variant, str) and variant else str(item["backend"])
        if len(threads_seen[(str(item.get("backend")), str(variant or ""))]) > 1:
            label += f" t={_threads_text(item.get('threads'))}"
        labels.append(chart_text(label))
    return labels


def _ok(df: pd.DataFrame) -> pd.DataFrame:
    """Rows a chart draws: ok, a finite p50, one call at a time (LoadGen scenario records have their own table)."""
    from benchlib.report.tables import finite, single_call_rows

    if df.empty or "status" not in df or "latency_ms.p50" not in df:
        return df.iloc[0:0]
    df = single_call_rows(df)
    return df[df["status"].eq("ok") & finite(df["latency_ms.p50"]).notna()]


def _empty(title: str, message: str) -> Figure:
    fig, ax = single(7.0, 2.5, title)
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True, fontsize=FONT["note"])
    return fig


def _first_variant(backend: str) -> str | None:
    try:
        from benchlib.backends.registry import backend_variants

        return backend_variants(backend)[0]
    except Exception:  # noqa: BLE001 - line style only
        return None


def latency_distribution(records: Iterable[dict], title: str = "Per-call latency distribution") -> Figure:
    """ECDF of the raw per-call latencies of each ok record (log time axis), one panel per batch size."""
    runs = [r for r in records if r.get("status") == "ok" and r.get("samples_ms")]
    title = chart_text(title)  # callers name the model in it (a file name)
    if not runs:
        return _empty(title, "no successful runs with stored samples")
    labels = dict(zip(map(id, runs), case_labels(runs), strict=True))
    batches = sorted({r["batch_size"] for r in runs})
    fig, axes = small_multiples(len(batches), panel_height_in=3.0, title=title,
                                legend_rows=legend_rows(labels.values()))
    for ax, batch in zip(axes, batches, strict=True):
        for record in sorted((r for r in runs if r["batch_size"] == batch), key=lambda r: labels[id(r)]):
            samples = np.sort(np.asarray(record["samples_ms"], dtype=float))
            share = np.arange(1, samples.size + 1) / samples.size
            default = record.get("variant") in (None, _first_variant(record["backend"]))
            ax.step(samples, share, where="post", color=colour(record["backend"]), label=labels[id(record)],
                    linestyle="-" if default else "--", linewidth=1.6)
        style_axes(ax, title=f"batch size {batch}", ylabel="share of calls at or below")
        log_axis(ax, "x", "ms per call")
        ax.set_ylim(0, 1.02)
    legend_below(fig, axes)
    return fig


def p50_with_p99(df: pd.DataFrame, title: str = "Median latency per call (point) and its p99 (end of line)") -> Figure:
    """Per batch size, one row per case: a point at p50 and a line on to p99 (log time axis).

    Points, not bars: a bar on a log axis starts at an arbitrary bottom, so its length misstates ratios.
    """
    data = _ok(df)
    if data.empty:
        return _empty(title, "no successful runs")
    data = data.assign(_label=case_labels(data))
    batches = sorted(data["batch_size"].unique())
    most = int(data.groupby("batch_size").size().max())
    fig, axes = small_multiples(len(batches), panel_height_in=1.4 + 0.32 * most, title=title)
    for ax, batch in zip(axes, batches, strict=True):
        part = data[data["batch_size"] == batch].sort_values("latency_ms.p50", ascending=False)
        positions = np.arange(len(part))
        p50 = part["latency_ms.p50"].to_numpy(float)
        p99 = pd.to_numeric(part.get("latency_ms.p99", pd.Series(np.nan, index=part.index)),
                            errors="coerce").to_numpy(float)
        colours = [colour(b) for b in part["backend"]]
        for y, low, high, tint in zip(positions, p50, p99, colours, strict=True):
            if np.isfinite(high):
                ax.plot([low, high], [y, y], color=tint, linewidth=2.0, alpha=0.7, solid_capstyle="butt")
                ax.plot([high], [y], marker="|", markersize=12, color=tint)
        ax.scatter(p50, positions, color=colours, s=45, zorder=3)
        ax.set_yticks(positions, part["_label"])
        ax.set_ylim(-0.6, len(part) - 0.4)
        style_axes(ax, title=f"batch size {batch}")
        log_axis(ax, "x", "ms per call")
        ax.grid(True, axis="x", which="both", alpha=0.25)
    return fig


def throughput_vs_batch(df: pd.DataFrame, title: str = "Throughput against batch size") -> Figure:
    """Samples per second against batch size, one line per case label (log-log)."""
    data = _ok(df)
    if data.empty or "throughput_sps" not in data:
        return _empty(title, "no successful runs")
    data = data.assign(_label=case_labels(data))
    fig, ax = single(9.0, 4.8, title)
    seen: dict[str, int] = {}
    for (backend, label), part in data.groupby(["backend", "_label"], sort=True):
        # same colour per framework; line style and marker tell its variants apart
        index = seen[backend] = seen.get(backend, -1) + 1
        part = part.groupby("batch_size", as_index=False)["throughput_sps"].max()
        ax.plot(part["batch_size"], part["throughput_sps"], color=colour(backend),
                linestyle=LINESTYLES[index % len(LINESTYLES)], marker=MARKERS[index % len(MARKERS)], label=label)
    style_axes(ax)
    log_axis(ax, "x", "batch size")
    log_axis(ax, "y", "samples per second")
    legend_right(ax)
    return fig


def cpu_and_memory(df: pd.DataFrame, batch_size: int | None = None,
                   title: str = "CPU use and framework memory") -> Figure:
    """Two bar panels on linear axes: CPU % of one core during the timed loop, and framework memory."""
    data = _ok(df)
    if batch_size is not None and not data.empty:
        data = data[data["batch_size"] == batch_size]
    if data.empty:
        return _empty(title, "no successful runs")
    data = data.sort_values(["backend", "variant"], na_position="first")
    data = data.assign(_label=case_labels(data)).iloc[::-1]
    colours = [colour(b) for b in data["backend"]]
    suffix = f" (batch size {batch_size})" if batch_size is not None else ""
    fig, (left, right) = small_multiples(2, panel_width_in=5.0, panel_height_in=1.2 + 0.32 * len(data),
                                         title=title + suffix)
    positions = np.arange(len(data))
    cpu = pd.to_numeric(data["cpu_percent"], errors="coerce")
    bars = left.barh(positions, cpu, color=colours)
    left.bar_label(bars, labels=[_short(v) for v in cpu], padding=3, fontsize=FONT["tick"])
    left.set_yticks(positions, data["_label"])
    style_axes(left, title="CPU during the timed loop", xlabel="% of one core")
    memory = pd.to_numeric(data["framework_mb"], errors="coerce") if "framework_mb" in data else \
        pd.Series(np.nan, index=data.index)
    bars = right.barh(positions, memory, color=colours)
    right.bar_label(bars, labels=[_short(v) for v in memory], padding=3, fontsize=FONT["tick"])
    right.set_yticks(positions, data["_label"])
    style_axes(right, title="framework memory", xlabel="MB (peak RSS minus RSS at worker start)")
    for ax in (left, right):
        ax.margins(x=0.15)  # room for the value labels at the end of the longest bar
    return fig


def _short(value: float) -> str:
    from benchlib.report.display import significant

    return "" if value is None or not np.isfinite(value) else significant(float(value))
