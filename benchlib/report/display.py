"""Tables for people: units in column names, three significant figures, thousands separators, no index.

:func:`people_table` turns a result table (machine column names such as ``p50_ms``, full-precision
floats) into a pandas ``Styler`` that notebooks and the HTML report show the same way (the report is
the executed notebooks' HTML). Long text columns wrap so that a table fits a JupyterLab notebook at
about 1400 pixels. The exported Markdown and CSV files keep full precision
(:func:`benchlib.report.tables.to_markdown` with ``precision="full"``).

Every text a notebook or the report shows as HTML or Markdown goes through this module, and every
string that came from a record, a file name or a parameter is escaped on the way: a backend named
``<script>`` is shown as those characters, never run (:func:`people_table`, :func:`markdown`,
:func:`details`, :func:`text_html`).
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

#: Column name → what a reader sees (units in brackets).
LABELS: dict[str, str] = {
    "machine": "machine", "model": "model", "backend": "framework", "framework": "framework",
    "variant": "variant", "best_variant": "best variant", "variant_verdict": "vs its other variants",
    "batch_size": "batch", "threads": "threads",
    "status": "status", "p50_ms": "p50 (ms)", "p99_ms": "p99 (ms)", "latency_ms.p50": "p50 (ms)",
    "latency_ms.p99": "p99 (ms)", "throughput_sps": "throughput (samples/s)", "cpu_percent": "CPU (% of one core)",
    "rss_peak_mb": "peak RSS (MB)", "framework_mb": "framework memory (MB)", "vs_fastest": "p50 vs fastest",
    "note": "note", "error": "reason", "gflops": "achieved (GFLOP/s)", "pct_of_peak": "% of peak",
    "peak_gflops": "peak (GFLOP/s)", "import_s": "import (s)", "load_s": "load / compile (s)",
    "first_call_ms": "first call (ms)", "total_s": "total (s)", "p50_us": "p50 (µs)",
    "flop_us": "FLOPs at peak (µs)", "fixed_us": "fixed per-call cost (µs)", "per_layer_us": "per layer (µs)",
    "noisy_criteria": "criterion", "iqr_ratio": "IQR / p50", "tail_ratio": "p99 / p50", "what": "what",
    "value": "value", "setting": "setting", "p50_halfwidth": "±95% over rounds",
    # the precision notebook's accuracy columns (benchlib.report.precision)
    "speedup_vs_fp32": "speed-up vs fp32", "vs_fp32": "vs fp32 (verdict)",
    "decision_agreement": "decisions equal to reference (share)",
    "max_abs_err": "max abs error", "mean_abs_err": "mean abs error", "native": "native instructions",
}
#: What a reader needs to read the ``±95% over rounds`` column (its caption says it wherever the column is shown).
HALFWIDTH_NOTE = ("±95% over rounds: half-width of the median's 95% interval between interleaved rounds "
                  "(where a second run's median should fall), relative to the median (the record's "
                  "rounds.interval.halfwidth).")
#: Added to :data:`HALFWIDTH_NOTE` when a row has no interval.
HALFWIDTH_DASH = ("– : no interval between rounds (not measured, or measured without rounds: a fixed-time protocol, "
                  "a LoadGen scenario or an older run).")
#: Columns a table shows only when they differ between rows; a constant one is named in the caption instead
#: (a table of fp32 runs that all finished needs no precision or status column to say so 30 times).
CONSTANT_COLUMNS = ("model", "precision", "status", "machine")
#: Columns whose text wraps (everything else stays on one line).
WRAPPED = {"note", "error", "reason", "explanation", "value", "measured", "criterion", "noisy_criteria",
           "install", "Reason", "warnings", "target", "settings", "result", "metric", "variant_verdict"}


def halfwidth_text(width: float) -> str:
    """A relative half-width as people read it: ±0.8%, or two figures below a tenth of a percent (±0.05%)."""
    percent = 100.0 * float(width)
    return f"±{percent:.1f}%" if percent >= 0.1 else f"±{percent:.2g}%"


def column_kind(name: str) -> str:
    """How a column's numbers are written: time, rate, percent, ratio, memory, count, float or text."""
    low = name.lower()
    if low.endswith("_halfwidth") or low.startswith("±95%"):
        return "halfwidth"
    if low.startswith(("relative", "ratio", "speedup")) or low in ("vs_fastest", "iqr_ratio", "tail_ratio") \
            or "vs fastest" in low:
        return "ratio"
    if "samples/s" in low or low.endswith("_sps") or "(samples/s)" in low:
        return "rate"
    if low in ("batch_size", "threads", "batch", "ok", "failed", "skipped", "n_calls", "calls"):
        return "count"
    if re.search(r"(_ms|_us|_s)(\.|$|\s)|\((ms|µs|s)\)|latency_ms", low):
        return "time"
    if "percent" in low or "pct" in low or "(%" in low or low.endswith("%)"):
        return "percent"
    if low.endswith("_mb") or "(mb)" in low:
        return "memory"
    return "float"


def significant(value: float, digits: int = 3) -> str:
    """``value`` to ``digits`` significant figures without exponent notation (1,234 / 12.3 / 0.0123)."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    if abs(value) < 1e-3:  # 0.000000165 is harder to read than 1.65e-07
        return f"{value:.{digits}g}"
    magnitude = math.floor(math.log10(abs(value)))
    if magnitude >= digits - 1:
        return f"{round(value, digits - 1 - magnitude):,.0f}"
    decimals = digits - 1 - magnitude
    return f"{value:.{decimals}f}"


def format_value(value: Any, kind: str) -> str:
    """One cell as a person reads it; missing values are a dash."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, int | float) or kind == "text":
        return str(value)
    if not math.isfinite(value):  # an infinite figure is shown as such, in every kind of column
        return "inf" if value > 0 else "-inf"
    if kind == "rate":
        return f"{value:,.0f}"
    if kind == "halfwidth":  # a fraction of the median: ±0.8%, ±0.05% below a tenth of a percent
        return halfwidth_text(value)
    if kind == "ratio":  # 1.23× near one, where two decimals matter; 1,790× far from it
        return f"{value:.2f}×" if abs(value) < 10 else f"{significant(float(value))}×"
    if kind == "count":
        return f"{value:.0f}" if float(value).is_integer() else significant(float(value))
    if isinstance(value, int) and kind == "float":
        return f"{value:,}"
    return significant(float(value))


def label(name: str) -> str:
    """The column's name for people: known names from :data:`LABELS`, else the name with its unit suffix spelled."""
    if name in LABELS:
        return LABELS[name]
    if name.endswith("p50_halfwidth"):  # "t=2 p50_halfwidth" beside "p50 (ms) t=2"
        return name[: -len("p50_halfwidth")] + LABELS["p50_halfwidth"]
    for suffix, unit in (("_ms", "ms"), ("_us", "µs"), ("_s", "s"), ("_mb", "MB"), ("_sps", "samples/s")):
        if name.endswith(suffix):
            return f"{name[: -len(suffix)].replace('_', ' ')} ({unit})"
    return name


def people_frame(df: pd.DataFrame, kinds: Mapping[str, str] | None = None,
                 empty: Mapping[str, str] | None = None, drop_constant: tuple[str, ...] = ()) -> pd.DataFrame:
    """``df`` with every cell formatted as text and columns renamed for people.

    ``kinds`` overrides :func:`column_kind` per column; ``empty`` gives, per column, the text shown
    instead of a dash where the value is missing (for example why a relative column is empty);
    ``drop_constant`` lists columns left out when they hold one value only (said in a caption instead).
    """
    kinds = dict(kinds or {})
    empty = dict(empty or {})
    out = {}
    dropped: dict[str, str] = {}
    for column in df.columns:
        name = str(column)
        series = df[column]
        if name in drop_constant and series.nunique(dropna=False) <= 1 and len(df) > 1:
            dropped[label(name)] = format_value(series.iloc[0], "text")
            continue
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        kind = kinds.get(name) or (column_kind(name) if numeric or series.map(_is_number).any() else "text")
        cells = [format_value(v, kind) for v in series]
        if name in empty:
            cells = [empty[name] if c == "–" else c for c in cells]
        out[label(name)] = cells
    frame = pd.DataFrame(out)
    frame.attrs["numeric"] = [label(str(c)) for c in df.columns if _numeric_column(df[c])]
    frame.attrs["constant"] = dropped
    return frame


def legend(frame: pd.DataFrame) -> str:
    """What a formatted table leaves unsaid: the columns dropped as constant, what ``±95% over rounds`` means."""
    parts = []
    if frame.attrs.get("constant"):
        said = [f"{k} {v}" for k, v in frame.attrs["constant"].items() if v.strip()]  # an empty note says nothing
        if said:
            parts.append("Every row: " + ", ".join(said) + ".")
    halfwidth = [c for c in frame.columns if str(c).endswith(LABELS["p50_halfwidth"])]
    if halfwidth:
        parts.append(HALFWIDTH_NOTE)
        if frame[halfwidth].eq("–").any(axis=None):
            parts.append(HALFWIDTH_DASH)
    return " ".join(parts)


def _is_number(value: Any) -> bool:
    # NaN is how pandas holds a missing text value (a variant-less record): not a number to right-align
    return isinstance(value, int | float) and not isinstance(value, bool) and not (
        isinstance(value, float) and math.isnan(value))


def _numeric_column(series: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(series):
        return False
    return pd.api.types.is_numeric_dtype(series) or bool(series.map(_is_number).any())


def people_table(df: pd.DataFrame, caption: str | None = None, kinds: Mapping[str, str] | None = None,
                 empty: Mapping[str, str] | None = None, drop_constant: tuple[str, ...] = CONSTANT_COLUMNS,
                 right: tuple[str, ...] = ()) -> Any:
    """A ``Styler`` of ``df`` formatted for people: no index, numbers right-aligned, long text wrapped.

    ``right`` names further columns to right-align (numbers already written as text). The caption
    also names the columns left out as constant and explains ``±95% over rounds`` where it is shown (:func:`legend`).

    Shown as the value of a notebook cell (or with ``display``), it renders the same in JupyterLab
    and in the report; pandas' own truncation of long cells does not apply to it.
    """
    frame = people_frame(df, kinds=kinds, empty=empty, drop_constant=drop_constant)
    said = legend(frame)
    if caption and said and not caption.rstrip().endswith((".", ":", ";", "!", "?")):
        caption = caption.rstrip() + "."  # "Batch size 1, threads 2." then the legend's sentences
    caption = " ".join(part for part in (caption, said) if part) or None
    numeric = set(frame.attrs.get("numeric", [])) | {label(c) for c in right}
    styler = frame.style.hide(axis="index")
    styles = [
        {"selector": "th", "props": "white-space: normal; max-width: 9em; text-align: left; vertical-align: bottom;"},
        {"selector": "td", "props": "vertical-align: top;"},
        {"selector": "caption", "props": "caption-side: top; text-align: left; font-weight: normal; "
                                         "padding-bottom: 0.4em;"},
    ]
    # numbers right-aligned under right-aligned headers, text left-aligned (JupyterLab right-aligns all)
    styles += [{"selector": f"th.col_heading.col{i}", "props": "text-align: right;"}
               for i, column in enumerate(frame.columns) if column in numeric]
    styler = styler.set_table_styles(styles)
    numbers = [c for c in frame.columns if c in numeric]
    left = [c for c in frame.columns if c not in numeric]
    if numbers:
        styler = styler.set_properties(subset=numbers, **{"text-align": "right"})
    if left:
        styler = styler.set_properties(subset=left, **{"text-align": "left"})
    # per cell (an id selector): a table-wide "td" rule would outrank these and stop the wrapping
    wrapped = [c for c in frame.columns if c in WRAPPED or c in {label(w) for w in WRAPPED}]
    single = [c for c in frame.columns if c not in wrapped]
    if single:
        styler = styler.set_properties(subset=single, **{"white-space": "nowrap"})
    if wrapped:
        styler = styler.set_properties(subset=wrapped, **{"white-space": "normal", "min-width": "10em",
                                                          "max-width": "30em"})
    if caption:
        styler = styler.set_caption(html.escape(caption, quote=False))  # Styler writes its caption as it is
    # cells and headers are text (people_frame wrote every value as text): a value with markup in it, from
    # a record or a file name, is shown as its characters in the notebook and in the report
    return styler.format(escape="html").format_index(escape="html", axis=1)


def text_html(text: Any) -> str:
    """``text`` (from a record, a file name or a parameter) as HTML that shows exactly its characters."""
    return html.escape(str(text), quote=True)


def escape_markdown(text: str) -> str:
    """``text`` for a Markdown output: tags, entities and link brackets shown as characters, never rendered.

    Markdown passes raw HTML through (``<img onerror=…>`` would run in the report) and turns
    ``[x](javascript:…)`` into a link; both come out as the characters typed. Benchlib's own Markdown
    (tables, emphasis, lists, code spans) uses none of these characters, so whole texts can be escaped.
    """
    return html.escape(str(text), quote=False).replace("[", "&#91;").replace("]", "&#93;")


def markdown(text: str) -> Any:
    """A Markdown output (shown as a cell's value or with ``display``) whose text is escaped
    (:func:`escape_markdown`): what notebooks use for any Markdown holding record values."""
    from IPython.display import Markdown

    return Markdown(escape_markdown(text))


def details(summary: str, body_html: str, open_: bool = False) -> str:
    """A collapsible HTML block (``<details>``): ``summary`` (text, escaped) always shown, ``body_html`` on a click.

    ``body_html`` must be HTML built by benchlib with its values escaped (a :func:`people_table`'s ``to_html()``).
    """
    return (f"<details{' open' if open_ else ''}><summary>{html.escape(summary)}</summary>\n"
            f"{body_html}\n</details>")


class Html:
    """HTML built by benchlib (values escaped) that a notebook shows as the value of a cell (and the report
    keeps as it is); text from records goes in through :func:`text_html` or :func:`people_table`."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _repr_html_(self) -> str:
        return self.text

    def __str__(self) -> str:
        return self.text
