"""How every chart looks: small multiples on a grid, legible text, legends outside the data, labelled log axes.

The report (and a notebook) shows a figure at its natural pixel size, scaled down only when it is wider
than the page, so a figure's width in inches times :data:`DPI` decides how large its text appears.
Figures here are at most :data:`MAX_WIDTH_IN` wide, so at the report's width nothing is scaled down and
a 10-point font is shown at about 10 points. :func:`legibility_problems` checks a finished figure
against these rules (the tests run it on every chart builder).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter

#: Small multiples wrap into rows of at most this many panels.
MAX_COLUMNS = 3
#: Pixels per inch of the figures a notebook shows (the inline backend renders at the figure's dpi).
DPI = 100
#: Width in CSS pixels available to a figure in the report at a 1300-pixel-wide window (measured in
#: headless Chromium: the page's content column). Figures wider than this are scaled down.
REPORT_WIDTH_PX = 1100
#: The widest figure drawn, so the report never shrinks one.
MAX_WIDTH_IN = REPORT_WIDTH_PX / DPI
#: The smallest text allowed at display size, in points (1 CSS pixel = 0.75 pt).
MIN_FONT_PT = 9.0
#: Font sizes in points (at DPI 100 and no scaling, shown at about 1.04× these sizes).
FONT = {"tick": 10.0, "label": 10.5, "legend": 10.0, "title": 11.5, "suptitle": 13.0, "note": 10.0}


def grid_shape(panels: int, max_columns: int = MAX_COLUMNS) -> tuple[int, int]:
    """(rows, columns) for ``panels`` small multiples: at most ``max_columns`` per row, rows balanced."""
    if panels <= 0:
        return 1, 1
    columns = min(panels, max_columns)
    rows = math.ceil(panels / columns)
    # 4 panels: 2×2 rather than 3+1; 5: 3+2
    columns = math.ceil(panels / rows)
    return rows, columns


def small_multiples(panels: int, panel_width_in: float = 5.2, panel_height_in: float = 3.0,
                    legend_rows: int = 0, title: str | None = None, sharex: bool = False,
                    sharey: bool = False) -> tuple[Figure, list[Axes]]:
    """A figure with ``panels`` axes on a grid of at most :data:`MAX_COLUMNS` columns (spare cells removed).

    Each panel is ``panel_width_in`` wide unless the row would exceed :data:`MAX_WIDTH_IN`, so two
    panels get more room than three. ``legend_rows`` reserves room below the grid for a shared legend.
    """
    rows, columns = grid_shape(panels)
    width = min(MAX_WIDTH_IN, panel_width_in * columns)
    height = panel_height_in * rows + 0.3 * legend_rows + (0.5 if title else 0.0)
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    grid = fig.subplots(rows, columns, squeeze=False, sharex=sharex, sharey=sharey)
    axes = [ax for row in grid for ax in row]
    for spare in axes[panels:]:
        spare.remove()
    if title:
        fig.suptitle(title, fontsize=FONT["suptitle"])
    return fig, axes[:max(panels, 0)]


def single(width_in: float = 8.0, height_in: float = 4.5, title: str | None = None) -> tuple[Figure, Axes]:
    """A figure with one axes, at most :data:`MAX_WIDTH_IN` wide."""
    fig = Figure(figsize=(min(width_in, MAX_WIDTH_IN), height_in), dpi=DPI, layout="constrained")
    ax = fig.subplots()
    if title:
        ax.set_title(title, fontsize=FONT["title"])
    return fig, ax


def style_axes(ax: Axes, title: str | None = None, xlabel: str | None = None, ylabel: str | None = None) -> None:
    """Set the title, labels and tick labels at the project's sizes (explicitly: rcParams may differ)."""
    if title is not None:
        ax.set_title(title, fontsize=FONT["title"])
    if xlabel is not None:
        ax.set_xlabel(xlabel, fontsize=FONT["label"])
    if ylabel is not None:
        ax.set_ylabel(ylabel, fontsize=FONT["label"])
    ax.tick_params(axis="both", which="both", labelsize=FONT["tick"])
    ax.grid(True, which="major", alpha=0.3)


def _plain_number(value: float, _position: int) -> str:
    # 0.01, 0.1, 1, 10, 1,000 rather than 10^-2 ... 10^3: readable without knowing the notation
    if value <= 0:
        return ""
    if value >= 1:
        return f"{value:,.0f}"
    return f"{value:.{max(0, -math.floor(math.log10(value)))}f}"


def log_axis(ax: Axes, which: str = "x", label: str | None = None, ticks: Iterable[float] | None = None) -> None:
    """Make ``which`` ("x" or "y") a log axis whose label says so and whose ticks are plain numbers.

    ``ticks``: the values to label (the batch sizes measured, say) instead of the powers of ten, which
    can leave a sweep of 1, 8, 64, 256, 1000, 4096 with three labels none of them a measured point.
    """
    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    values = sorted({float(t) for t in ticks if t > 0}) if ticks is not None else []
    axis.set_major_locator(FixedLocator(values) if values else LogLocator(base=10))
    axis.set_major_formatter(FuncFormatter(_plain_number))
    axis.set_minor_formatter(NullFormatter())
    if label is not None:
        text = label if "log" in label else f"{label} (log scale)"
        (ax.set_xlabel if which == "x" else ax.set_ylabel)(text, fontsize=FONT["label"])
    ax.tick_params(axis=which, which="both", labelsize=FONT["tick"])


def legend_below(fig: Figure, axes: Sequence[Axes], columns: int = 3) -> None:
    """One legend for all ``axes``, below the panels (outside the data), without duplicate entries."""
    handles: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    if handles:
        fig.legend(list(handles.values()), list(handles.keys()), loc="outside lower center",
                   ncols=min(columns, len(handles)), fontsize=FONT["legend"], frameon=False)


def legend_right(ax: Axes) -> None:
    """The legend of one axes, to the right of its data."""
    if ax.get_legend_handles_labels()[1]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=FONT["legend"],
                  frameon=False)


def legend_rows(labels: Iterable[str], columns: int = 3) -> int:
    """How many rows a legend of ``labels`` in ``columns`` columns takes (to reserve its height)."""
    return math.ceil(len(set(labels)) / columns) if labels else 0


# -- checks -----------------------------------------------------------------------------------------

def display_scale(fig: Figure, width_px: float = REPORT_WIDTH_PX) -> float:
    """How much the report shrinks ``fig`` (1.0: shown at natural size), as saved with a tight box."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig) if fig.canvas is None or not hasattr(fig.canvas, "get_renderer") else fig.canvas
    renderer = canvas.get_renderer()
    fig.draw(renderer)
    tight = fig.get_tightbbox(renderer)
    natural_px = tight.width * fig.dpi
    return min(1.0, width_px / natural_px) if natural_px > 0 else 1.0


def legibility_problems(fig: Figure, width_px: float = REPORT_WIDTH_PX,
                        min_font_pt: float = MIN_FONT_PT) -> list[str]:
    """What breaks the chart rules in ``fig``, as sentences (empty: none).

    Checked: every visible text at least ``min_font_pt`` at display size; no grid wider than
    :data:`MAX_COLUMNS`; legends outside every axes' data area; log axes labelled as such.
    """
    from matplotlib.legend import Legend
    from matplotlib.text import Text

    problems: list[str] = []
    scale = display_scale(fig, width_px)
    renderer = fig.canvas.get_renderer()
    # at dpi D a font of F points is F*D/72 image pixels, shown at scale s as F*D/72*s CSS px = that × 0.75 pt
    factor = fig.dpi / 72.0 * scale * 0.75
    for text in fig.findobj(Text):
        if not text.get_visible() or not text.get_text().strip():
            continue
        if text.axes is not None and not text.get_window_extent(renderer).overlaps(fig.bbox):
            continue  # a tick label outside the view limits is never drawn
        shown = text.get_fontsize() * factor
        if shown < min_font_pt:
            problems.append(f"text {text.get_text()[:40]!r} is {shown:.1f} pt at display size (< {min_font_pt} pt)")
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_subplotspec() is not None]
    for ax in panels:
        if ax.get_subplotspec().get_gridspec().ncols > MAX_COLUMNS:
            problems.append(f"a grid of {ax.get_subplotspec().get_gridspec().ncols} columns (> {MAX_COLUMNS})")
            break
    legends = [obj for obj in fig.findobj(Legend) if obj.get_visible()]
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            if box.overlaps(ax.get_window_extent(renderer)) and ax.get_visible():
                problems.append(f"a legend ({', '.join(t.get_text() for t in legend.get_texts()[:3])}, ...) "
                                "covers a panel's data area")
                break
    for ax in fig.axes:
        for which, label in (("x", ax.get_xlabel()), ("y", ax.get_ylabel())):
            scale_name = ax.get_xscale() if which == "x" else ax.get_yscale()
            if scale_name == "log" and "log" not in label:
                problems.append(f"a log {which} axis whose label {label!r} does not say so")
    return problems
