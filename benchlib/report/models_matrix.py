"""Does the ranking hold? The model × framework matrix, from run records.

For every model: p50 latency at batch 1 and throughput at the model's largest measured batch, per
framework, each relative to the fastest framework for that model (1.00 = fastest, 2.00 = twice the
fastest's time per sample); framework memory and achieved GFLOP/s at the largest batch; and the
sentences that say which framework wins for which model, by how much, and when the winner cannot be
told apart from the runner-up: the one rule for "faster" (:func:`benchlib.studies.compare.compare_records`,
the 95% interval over rounds of the time ratio) decides, and a record without rounds gets no verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from benchlib.models.zoo import MODELS, get_model
from benchlib.studies.compare import CANNOT_TELL, FASTER, HALFWIDTH_FIELD, compare_records

#: The matrices :func:`ranking_matrices` returns, with what each cell holds.
MATRICES = {
    "p50_batch1_ms": "median latency per call at batch 1 (ms)",
    "p50_batch1_halfwidth": "relative half-width of the 95% interval over rounds of that median",
    "p50_batch1_vs_fastest": "p50 at batch 1 relative to the fastest framework for the model",
    "throughput_largest_sps": "throughput at the model's largest batch (samples/s)",
    "throughput_largest_vs_fastest": "the fastest framework's throughput divided by this one's at the largest batch",
    "framework_mb_largest": "framework memory at the largest batch (MB)",
    "gflops_largest": "achieved GFLOP/s at the largest batch",
}


def largest_batch(model: str, quick: bool = False) -> int:
    """The model's largest default batch size (of its quick sizes with ``quick``)."""
    spec = get_model(model)
    return max(spec.quick_batch_sizes if quick else spec.batch_sizes)


def ranking_cases(models: Sequence[str], backends: Sequence[str], threads: Any = None, quick: bool = False,
                  **settings: Any) -> list:
    """Each model × backend (default variant) at batch 1 and at the model's largest batch (one case grid)."""
    from benchlib.engine.checked import BatchSizes, ModelNames
    from benchlib.engine.grid import case_grid
    from benchlib.engine.params import check_backends, check_models, check_thread_counts

    # checked once here (or where they entered); the grid takes the checked values as they are
    names, counts = check_backends(backends), check_thread_counts([threads])
    cases = []
    for model in check_models(models, zoo_only=True):
        sizes = BatchSizes(dict.fromkeys((1, largest_batch(model, quick))))  # the model's own
        cases += case_grid(names, sizes, models=ModelNames((model,)), threads=counts, **settings)
    return cases


def _ok_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows that may be ranked: ok, valid outputs, a finite p50, one call at a time (not a LoadGen scenario)."""
    from benchlib.report.tables import finite, one_per_case, single_call_rows

    if frame is None or frame.empty:
        return pd.DataFrame()
    rows = one_per_case(single_call_rows(frame))
    if rows.empty or "latency_ms.p50" not in rows:
        return pd.DataFrame()
    ok = rows["status"].eq("ok") & finite(rows["latency_ms.p50"]).notna()
    if "outputs_valid" in rows:
        ok &= ~rows["outputs_valid"].astype(object).eq(False)  # a wrong answer is never ranked
    return rows[ok]


def _at_batch(rows: pd.DataFrame, which: str) -> pd.DataFrame:
    """Per model, the rows at batch 1 (``which="first"``) or at the largest batch measured ("largest")."""
    parts = []
    for _, part in rows.groupby("model"):
        batch = 1 if which == "first" else part["batch_size"].max()
        parts.append(part[part["batch_size"].eq(batch)])
    return pd.concat(parts) if parts else rows.iloc[0:0]


def _pivot(rows: pd.DataFrame, column: str, choose_by: str | None = None) -> pd.DataFrame:
    """Model × framework matrix of ``column``; of several records per cell (variants) the best one, or
    with ``choose_by`` the value of the record with the smallest ``choose_by`` (the fastest median)."""
    from benchlib.backends.registry import BACKEND_NAMES

    if rows.empty or column not in rows:
        return pd.DataFrame()
    if choose_by is not None:
        rows = rows.assign(_by=pd.to_numeric(rows[choose_by], errors="coerce")).sort_values("_by", kind="stable")
        rows = rows.drop_duplicates(["model", "backend"], keep="first")
    # the best variant of each framework (a notebook may have run several)
    from benchlib.report.tables import finite

    table = rows.assign(_v=finite(rows[column])).pivot_table(
        index="model", columns="backend", values="_v", aggfunc="min" if column.startswith("latency") else "max",
        dropna=False)
    models = [m for m in MODELS if m in table.index] + [m for m in table.index if m not in MODELS]
    return table.reindex(index=models, columns=[b for b in BACKEND_NAMES if b in table.columns])


def ranking_matrices(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The :data:`MATRICES` (model rows, framework columns) from a flat results frame."""
    rows = _ok_rows(frame)
    if rows.empty:
        return {name: pd.DataFrame() for name in MATRICES}
    first, largest = _at_batch(rows, "first"), _at_batch(rows, "largest")
    p50 = _pivot(first, "latency_ms.p50")
    throughput = _pivot(largest, "throughput_sps")
    return {
        "p50_batch1_ms": p50,
        "p50_batch1_halfwidth": _pivot(first, HALFWIDTH_FIELD, choose_by="latency_ms.p50"),
        "p50_batch1_vs_fastest": p50.div(p50.min(axis=1), axis=0),
        "throughput_largest_sps": throughput,
        "throughput_largest_vs_fastest": 1 / throughput.div(throughput.max(axis=1), axis=0),
        "framework_mb_largest": _pivot(largest, "framework_mb"),
        "gflops_largest": _pivot(largest, "gflops"),
    }


def largest_batches(frame: pd.DataFrame) -> dict[str, int]:
    """The largest batch measured per model (what the throughput matrix compares)."""
    rows = _ok_rows(frame)
    return {} if rows.empty else {m: int(b) for m, b in rows.groupby("model")["batch_size"].max().items()}


def ranking_heatmap(matrix: pd.DataFrame, title: str, note: str = "× the fastest for the model"):  # -> Figure
    """A model × framework heatmap of a relative matrix (1.00 = fastest), its value written in every cell.

    Drawn under the report's chart rules (:mod:`benchlib.report.chart_style`): text at least 10 pt at
    the report's width, the colour bar beside the cells rather than over them, a light-to-dark scale
    whose darkest colour still differs from the black frame, and a missing cell saying "not run".
    """
    from matplotlib.colors import LogNorm
    from matplotlib.ticker import FuncFormatter, NullFormatter

    from benchlib.report.chart_style import FONT, MAX_WIDTH_IN, single
    from benchlib.report.figures import model_label

    rows, columns = max(1, matrix.shape[0]), max(1, matrix.shape[1])
    # about 1.3 in per framework and 0.55 in per model, never a strip: the data area stays over 2 in tall
    width = min(MAX_WIDTH_IN, 2.6 + 1.3 * max(3, columns))
    fig, ax = single(width, 1.6 + max(2.2, 0.55 * rows), title)
    if matrix.empty:
        ax.text(0.5, 0.5, "no ok runs to compare", ha="center", va="center", fontsize=FONT["note"])
        ax.set_xticks([])
        ax.set_yticks([])
        return fig
    values = matrix.to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    top = max(2.0, float(finite.max()) if finite.size else 2.0)
    norm = LogNorm(vmin=1.0, vmax=top)
    image = ax.imshow(np.ma.masked_invalid(values), cmap="YlOrRd", norm=norm, aspect="auto")
    ax.set_xticks(range(matrix.shape[1]), [str(c) for c in matrix.columns], fontsize=FONT["tick"])
    ax.set_yticks(range(matrix.shape[0]), [model_label(i) for i in matrix.index], fontsize=FONT["tick"])
    ax.tick_params(length=0)
    for (i, j), value in np.ndenumerate(values):
        text = "not run" if not np.isfinite(value) else f"{value:.2f}×"
        dark = np.isfinite(value) and norm(value) > 0.6  # white on the dark red end of the scale
        ax.text(j, i, text, ha="center", va="center", color="white" if dark else "black", fontsize=FONT["note"])
    bar = fig.colorbar(image, ax=ax, pad=0.02, fraction=0.05)
    bar.set_label(f"{note} (log scale)", fontsize=FONT["label"])
    # a log colour bar labels only powers of ten: name the ratios a reader compares instead
    steps = [t for t in (1, 1.25, 1.5, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000) if t <= top]
    bar.set_ticks(steps[:: max(1, len(steps) // 7)], minor=False)
    bar.ax.minorticks_off()
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}×"))
    bar.ax.yaxis.set_minor_formatter(NullFormatter())
    bar.ax.tick_params(labelsize=FONT["tick"])
    ax.set_xlabel("framework", fontsize=FONT["label"])
    ax.set_ylabel("model", fontsize=FONT["label"])
    return fig


def with_halfwidth(values: pd.DataFrame, halfwidths: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """A matrix of medians as text with each cell's ±95% half-width over rounds beside it ("0.0345 ±0.8%").

    A cell whose record has no interval over rounds shows the median alone; a missing median shows "–".
    """
    from benchlib.report.display import format_value, significant

    if values.empty:
        return values
    aligned = halfwidths.reindex(index=values.index, columns=values.columns) if not halfwidths.empty else \
        pd.DataFrame(index=values.index, columns=values.columns, dtype=float)
    out = pd.DataFrame(index=values.index, columns=values.columns, dtype=object)
    for model in values.index:
        for backend in values.columns:
            value, width = values.at[model, backend], aligned.at[model, backend]
            if pd.isna(value):
                out.at[model, backend] = "–"
                continue
            text = significant(float(value), digits)
            out.at[model, backend] = text if pd.isna(width) else f"{text} {format_value(float(width), 'halfwidth')}"
    return out


def p50_display(matrices: dict[str, pd.DataFrame]) -> Any:
    """The batch-1 median matrix as people read it: each cell "p50 (ms) ±95% half-width over rounds", models as rows."""
    from benchlib.report.display import people_table

    table = with_halfwidth(matrices["p50_batch1_ms"], matrices.get("p50_batch1_halfwidth", pd.DataFrame()))
    table = table.reset_index() if not table.empty else pd.DataFrame({"model": []})
    # short: a caption wraps to the table's width, and this table is narrow (the notebook's text explains ±)
    return people_table(table, caption="p50 (ms) ±95% over rounds", drop_constant=(),
                        right=tuple(c for c in table.columns if c != "model"))


def ratio_display(table: pd.DataFrame, caption: str) -> Any:
    """A relative matrix (1.00 = fastest) written as its heatmap writes it: "2.60×", or "not run"."""
    from benchlib.report.display import people_table

    shown = table.map(lambda v: f"{v:.2f}×" if pd.notna(v) and np.isfinite(v) else "not run")
    shown = shown.reset_index() if not shown.empty else pd.DataFrame({"model": []})
    return people_table(shown, caption=caption, drop_constant=(), right=tuple(c for c in shown.columns if c != "model"))


def _verdict(comparison: Any) -> str:
    """Why the winner is, or is not, called faster than the runner-up (:func:`compare_records`)."""
    if comparison.verdict == FASTER:
        return (f"the 95% interval of the time ratio over {comparison.rounds} "
                f"{'paired ' if comparison.paired else ''}rounds, {comparison.low:.3f}-{comparison.high:.3f}, "
                "lies below 1")
    if comparison.verdict == CANNOT_TELL:
        return f"cannot tell which is faster: {comparison.reason}"
    return "the 95% interval of the time ratio over the rounds includes 1, so the two are indistinguishable here"


def _winner_sentence(part: pd.DataFrame, model: str, what: str) -> str | None:
    """Who is fastest for ``model`` in ``part`` (one row per framework), by how much, and whether it is clear."""
    if part.empty:
        return None
    best = part.sort_values("latency_ms.p50").drop_duplicates("backend")
    winner = best.iloc[0]
    if len(best) == 1:
        return f"{model}, {what}: only {winner['backend']} ran."
    runner = best.iloc[1]
    ratio = float(runner["latency_ms.p50"]) / float(winner["latency_ms.p50"])
    comparison = compare_records(winner, runner, names=(str(winner["backend"]), str(runner["backend"])))
    # "fastest" only when the rule calls it faster than every other framework, not the runner-up alone
    beats_all = comparison.verdict == FASTER and all(
        compare_records(winner, other).verdict == FASTER for _, other in best.iloc[2:].iterrows())
    lead = "is fastest" if beats_all else "has the lowest median"
    sentence = (f"{model}, {what}: {winner['backend']} {lead}, {ratio:.2f}x ahead of {runner['backend']} "
                f"({_verdict(comparison)})")
    if len(best) > 2:
        slowest = best.iloc[-1]
        spread = float(slowest["latency_ms.p50"]) / float(winner["latency_ms.p50"])
        sentence += f"; the slowest, {slowest['backend']}, takes {spread:.1f}x as long"
    return sentence + "."


def _reversal(rows: pd.DataFrame, reference: list[str]) -> tuple[str, str] | None:
    """A pair of ``reference`` (fastest first) the rule reverses in ``rows`` (one per backend): (faster, slower)."""
    by_backend = {str(r["backend"]): r for _, r in rows.iterrows()}
    present = [b for b in reference if b in by_backend]
    for position, first in enumerate(present):
        for later in present[position + 1:]:
            if compare_records(by_backend[later], by_backend[first]).verdict == FASTER:
                return later, first
    return None


def ranking_insights(frame: pd.DataFrame) -> list[str]:
    """Sentences computed from the records: the winner per model at batch 1 and at the largest batch,
    by how much and how clearly, and whether the fnn order holds for the other models (it breaks only
    where the one rule for "faster" reverses a pair)."""
    rows = _ok_rows(frame)
    if rows.empty:
        return ["No ok runs yet: nothing to rank."]
    sentences = []
    first, largest = _at_batch(rows, "first"), _at_batch(rows, "largest")
    for model in [m for m in MODELS if m in set(rows["model"])]:
        batch = int(largest[largest["model"].eq(model)]["batch_size"].max())
        for part, what in ((first, "batch 1 latency"), (largest, f"throughput at batch {batch}")):
            sentence = _winner_sentence(part[part["model"].eq(model)], model, what)
            if sentence:
                sentences.append(sentence)
    order = ranking_matrices(frame)["p50_batch1_ms"]
    if "fnn" in order.index and len(order.index) > 1:
        reference = order.loc["fnn"].dropna().sort_values().index.tolist()
        # per model and framework the record the matrix shows (the fastest variant's)
        shown = first.sort_values("latency_ms.p50", kind="stable").drop_duplicates(["model", "backend"])
        for model in [m for m in order.index if m != "fnn"]:
            ranks = [b for b in order.loc[model].dropna().sort_values().index if b in reference]
            # the order breaks only where the rule says a later framework is faster; a tie or "cannot tell" keeps it
            reversed_pair = _reversal(shown[shown["model"].eq(model)], reference)
            text = "holds" if reversed_pair is None else \
                f"does not hold ({reversed_pair[0]} is faster than {reversed_pair[1]} there)"
            sentences.append(f"At batch 1, fnn's order, fastest first ({', '.join(reference)}), "
                             f"{text} for {model} ({', '.join(ranks)}).")
    return sentences


def verification_matrix(results: Sequence[Any]) -> pd.DataFrame:
    """``VerifyResult`` list → one row per framework, one column per model: "max error / tolerance"."""
    table: dict[str, dict[str, str]] = {}
    for r in results:
        label = r.backend + (f"/{r.variant}" if r.variant else "")
        err = "-" if r.max_abs_err is None else f"{r.max_abs_err:.1e}"
        table.setdefault(label, {"framework": label})[r.model] = (
            f"{err} / {r.tolerance:.0e} {r.status}" if r.status != "skipped" else f"skipped: {r.reason}")
    return pd.DataFrame(list(table.values()))
