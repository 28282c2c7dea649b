"""Charts of the method ablation: latency per framework across the steps, and CPU/memory before and after."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from benchlib.report.ablation_tables import cpu_memory_table, latency_table
from benchlib.report.figures import save_figure


def latency_steps_figure(frame: pd.DataFrame) -> Any:
    """One line per framework across the steps, latency on a log scale."""
    table = latency_table(frame)
    fig = Figure(figsize=(11, 6.5))
    ax = fig.subplots()
    frameworks = [c for c in table.columns if c not in ("step", "step_name", "statistic")]
    for framework in frameworks:
        ax.plot(table["step"], table[framework], marker="o", label=framework)
    ax.set_yscale("log")
    # step names are long: slanted labels at a legible size instead of overlapping 7-point text
    ax.set_xticks(table["step"], [f"{s}: {n}" for s, n in zip(table["step"], table["step_name"], strict=True)],
                  fontsize=10, rotation=30, ha="right", rotation_mode="anchor")
    ax.set(ylabel="latency per 1000-row batch (ms; mean to step 4, p50 after; log scale)",
           title="The method ablation: one change at a time")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside the data
    fig.tight_layout()
    return fig


def cpu_memory_figure(frame: pd.DataFrame) -> Any:
    """Bars per framework: CPU % and memory at the first and the last step."""
    table = cpu_memory_table(frame)
    fig = Figure(figsize=(11, 4.5))
    axes = fig.subplots(1, 2)
    for ax, prefix, label in ((axes[0], "cpu %", "CPU (% of one core)"), (axes[1], "memory MB", "memory (MB)")):
        columns = [c for c in table.columns if c.startswith(prefix)]
        table.set_index("framework")[columns].plot.bar(ax=ax, rot=0)
        ax.set(ylabel=label, title=f"{label}: first vs last step")
    fig.tight_layout()
    return fig


def all_figures(frame: pd.DataFrame, figures_dir: str | os.PathLike) -> dict[str, list[Path]]:
    """Draw and save the ablation figures (PNG and SVG); return their paths by name."""
    out = {}
    for name, fig in (("ablation_latency", latency_steps_figure(frame)),
                      ("ablation_cpu_memory", cpu_memory_figure(frame))):
        out[name] = save_figure(fig, figures_dir, name)
    return out
