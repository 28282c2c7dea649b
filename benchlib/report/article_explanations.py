"""Explanations of the article's numbers: one paragraph per large difference, every figure from this run.

Each paragraph says which flaw of the article's protocol moves which number and by how much,
quoting the article-protocol run, the corrected measurement and its batch-1 runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from benchlib.report.article_tables import article_frame
from benchlib.studies.article.records import ArticleRun
from benchlib.studies.article.settings import DISPLAY_NAMES


@dataclass(frozen=True)
class Explanation:
    """One short paragraph explaining a large difference, every figure in it from this run."""

    topic: str
    text: str


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _row(frame: pd.DataFrame | None, backend: str) -> dict[str, Any] | None:
    if frame is None or frame.empty:
        return None
    rows = frame[(frame["backend"] == backend) & (frame["status"] == "ok")]
    return rows.iloc[0].to_dict() if len(rows) else None


def _per_sample_paragraph(backend: str, run: ArticleRun, corrected: pd.DataFrame | None,
                          batch1: pd.DataFrame | None) -> Explanation | None:
    result = run.by_framework().get(backend)
    if result is None or result.status != "ok" or result.latency_ms is None:
        return None
    name = DISPLAY_NAMES[backend]
    rows = result.calls_per_run
    how = ("creating a new infer request for every row"
           if backend == "openvino" and run.protocol.openvino_new_request else "one call per row")
    parts = [
        f"{name}'s article-protocol latency is {_fmt(result.latency_ms)} ms per predict call, "
        f"but each call loops over {rows} rows ({how}): {_fmt(result.per_call_us)} µs per row "
        f"× {rows} rows."
    ]
    one = _row(batch1, backend)
    if one is not None and pd.notna(one.get("latency_ms")):
        per_row_ms = float(one["latency_ms"])
        parts.append(
            f"Measured alone at batch 1, one call takes {_fmt(per_row_ms * 1000)} µs, so {rows} "
            f"of them cost about {_fmt(per_row_ms * rows)} ms.")
        extra_us = (result.per_call_us or 0.0) - per_row_ms * 1000
        if extra_us > 0:
            pattern = ("a new infer request and a row slice" if backend == "openvino"
                       and run.protocol.openvino_new_request else "a row slice and a get_inputs() lookup")
            parts.append(
                f"The other {_fmt(extra_us)} µs per row are the article's own call pattern "
                f"({pattern} per row), which the engine's call avoids.")
    fixed = _row(corrected, backend)
    if fixed is not None and pd.notna(fixed.get("latency_ms")):
        ratio = result.latency_ms / float(fixed["latency_ms"])
        parts.append(
            f"Given the whole {run.protocol.batch_size}-row batch in one call, {name} needs "
            f"{_fmt(float(fixed['latency_ms']), 3)} ms (p50), {_fmt(ratio, 1)}× less: the article "
            f"measured per-call overhead, not the runtime's arithmetic.")
    return Explanation(f"{name} latency", " ".join(parts))


def _memory_paragraph(run: ArticleRun, article: pd.DataFrame, corrected: pd.DataFrame | None) -> Explanation:
    ok = article[article["status"] == "ok"]
    parts = [
        f"The article's memory column is the mean RSS of one process holding every framework: it "
        f"was {_fmt(run.rss_baseline_mb)} MB before any import, {_fmt(run.rss_after_imports_mb)} MB "
        f"after importing all {len(run.protocol.frameworks)} frameworks and "
        f"{_fmt(run.rss_after_models_mb)} MB once every model was built, before the first "
        f"framework was timed."
    ]
    if len(ok):
        low, high = ok["memory_mb"].min(), ok["memory_mb"].max()
        parts.append(
            f"The per-framework figures then only range from {_fmt(low)} to {_fmt(high)} MB "
            f"({_fmt((high - low) / low * 100, 1)}% apart): each one is mostly the others' "
            f"libraries, and later frameworks inherit what earlier ones allocated.")
    fixed = corrected[corrected["status"] == "ok"] if corrected is not None and not corrected.empty else None
    if fixed is not None and len(fixed):
        items = ", ".join(f"{r.framework} {_fmt(r.framework_mb)} MB" for r in fixed.itertuples()
                          if pd.notna(r.framework_mb))
        parts.append(
            f"Each framework alone in its own process adds (peak RSS minus the interpreter's "
            f"baseline): {items}; the largest peak RSS of any single process is "
            f"{_fmt(fixed['memory_mb'].max())} MB.")
    return Explanation("Memory", " ".join(parts))


def _jax_paragraph(run: ArticleRun, corrected: pd.DataFrame | None) -> Explanation | None:
    result = run.by_framework().get("jax")
    if result is None or result.status != "ok":
        return None
    protocol = run.protocol
    layers = 6
    # per un-jitted call: jnp.array, then per layer a ones-matrix (or bias add), a dot, an activation
    dispatches = 1 + 3 * layers
    parts = [
        f"The article's JAX model is not jitted ({'jitted' if protocol.jit else 'jit=False'}) and "
        f"builds its {layers} all-ones weight matrices inside every call, so each predict "
        f"dispatches about {dispatches} separate operations from Python; it took "
        f"{_fmt(result.latency_ms)} ms per call and psutil read {_fmt(result.cpu_percent, 1)}% CPU."
    ]
    if result.output_sample:
        parts.append(
            f"Its outputs are {', '.join(_fmt(v, 3) for v in result.output_sample)}: with all-ones "
            f"weights the sigmoid saturates, so it does not compute the same function as the others.")
    if not protocol.block_until_ready:
        parts.append("The loop never waits for JAX's asynchronous result, so part of the work can "
                     "spill past the call being timed.")
    fixed = _row(corrected, "jax")
    if fixed is not None and pd.notna(fixed.get("latency_ms")):
        parts.append(
            f"Jitted with the shared weights, in its own process, it takes "
            f"{_fmt(float(fixed['latency_ms']), 3)} ms (p50, "
            f"{_fmt(result.latency_ms / float(fixed['latency_ms']), 1)}× less) at "
            f"{_fmt(float(fixed['cpu_percent']), 1)}% CPU.")
    return Explanation("JAX latency and CPU", " ".join(parts))


def _cpu_paragraph(run: ArticleRun, article: pd.DataFrame, corrected: pd.DataFrame | None) -> Explanation:
    tick_ms = 1000.0 / run.clock_ticks_per_s
    parts = [
        f"The CPU column is psutil's Process.cpu_percent(): the process's CPU time since the previous "
        f"reading divided by the wall time since then, in percent of one core, so on this "
        f"{run.logical_cpus}-CPU machine it can reach {run.logical_cpus * 100}%."
    ]
    fast = run.by_framework().get("pytorch")
    if fast is not None and fast.status == "ok" and fast.cpu_zero_fraction is not None:
        parts.append(
            f"Linux counts CPU time in {_fmt(tick_ms, 0)} ms ticks while a PyTorch call took "
            f"{_fmt(fast.latency_ms)} ms, so {_fmt(fast.cpu_zero_fraction * 100, 0)}% of its "
            f"{fast.cpu_readings} readings were exactly 0 and the largest was "
            f"{_fmt(fast.cpu_max_percent, 0)}%; the first reading of every loop is "
            f"{_fmt(fast.cpu_first_reading, 1)} because each loop creates a new Process object.")
    if corrected is not None and not corrected.empty:
        both = article.merge(corrected[["backend", "cpu_percent"]], on="backend", suffixes=("", "_fixed"))
        both = both[both["status"] == "ok"].dropna(subset=["cpu_percent", "cpu_percent_fixed"])
        if len(both):
            items = ", ".join(f"{r.framework} {_fmt(r.cpu_percent, 0)}% → {_fmt(r.cpu_percent_fixed, 0)}%"
                              for r in both.itertuples())
            parts.append(
                f"Measured as CPU time over the whole timed loop of each framework's own process "
                f"(batch {run.protocol.batch_size}), the figures become: {items}.")
    return Explanation("What the CPU column means", " ".join(parts))


def explanations(run: ArticleRun, corrected: pd.DataFrame | None = None,
                 batch1: pd.DataFrame | None = None) -> list[Explanation]:
    """One paragraph per large difference, each sentence quoting a number from this run.

    ``corrected`` is :func:`~benchlib.report.article_tables.corrected_frame` at batch 1000;
    ``batch1`` the same at batch 1 (used to show that a per-row loop costs about rows × one
    batch-1 call).
    """
    article = article_frame(run)
    paragraphs = [
        _per_sample_paragraph("openvino", run, corrected, batch1),
        _per_sample_paragraph("onnxruntime", run, corrected, batch1),
        _memory_paragraph(run, article, corrected),
        _jax_paragraph(run, corrected),
        _cpu_paragraph(run, article, corrected),
    ]
    return [p for p in paragraphs if p is not None]
