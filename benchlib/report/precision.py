"""Speed-up over fp32 against decision agreement: the precision notebook's table, chart and sentences.

A reduced-precision record is paired with the fp32 record of the same case (backend, variant, model, batch
size, threads, protocol and scenario) on the same machine (``env_key``); its speed-up is fp32's p50 over its own,
and whether it is faster is the one rule's verdict (``vs_fp32``, :func:`benchlib.studies.compare.compare_records`:
paired per-round ratios when both were measured in the same rounds; "cannot tell" without rounds). Every
row names its precision, so nothing is ranked against fp32 without saying at which precision.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd

from benchlib.results.records import case_identity, case_key
from benchlib.results.schema import CASE_FIELDS
from benchlib.studies.compare import CANNOT_TELL, FASTER, SLOWER, TIE, between_rounds_halfwidth, compare_records

#: What pairs a reduced-precision record with its fp32 baseline: the same environment and every case field
#: (:data:`benchlib.results.schema.CASE_FIELDS`) but the precision.
PAIR_FIELDS: tuple[str, ...] = tuple(name for name in CASE_FIELDS if name != "precision")
COLUMNS = ["backend", "variant", "model", "batch_size", "threads", "precision", "status", "p50_ms",
           "p50_halfwidth", "throughput_sps", "speedup_vs_fp32", "vs_fp32", "decision_agreement", "max_abs_err",
           "mean_abs_err", "native", "note"]


def precision_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per record (newest per case): p50 and its half-width over rounds, throughput, speed-up over fp32
    and the one rule's verdict against fp32 (``vs_fp32``: faster, slower, tie or cannot tell), accuracy,
    native or not."""
    rows = []
    for record in sorted(records, key=lambda r: str(r.get("created") or "")):
        accuracy = record.get("accuracy") or {}
        hardware = record.get("precision_hardware") or {}
        rows.append({
            **{key: record.get(key) for key in ("backend", "variant", "model", "batch_size", "threads")},
            "_pair": f"{record.get('env_key')}|{case_identity(record, PAIR_FIELDS)}",
            "precision": record.get("precision") or "fp32", "status": record.get("status"),
            "case_key": case_key(record),
            "p50_ms": (record.get("latency_ms") or {}).get("p50"),
            "p50_halfwidth": between_rounds_halfwidth(record),  # never the within-process interval
            "throughput_sps": record.get("throughput_sps"),
            "decision_agreement": accuracy.get("decision_agreement"), "max_abs_err": accuracy.get("max_abs_err"),
            "mean_abs_err": accuracy.get("mean_abs_err"), "native": hardware.get("native"),
            "note": record.get("error") or "", "_record": record,
        })
    if not rows:
        return pd.DataFrame(columns=COLUMNS)
    frame = pd.DataFrame(rows).drop_duplicates("case_key", keep="last")
    # a failed or skipped run measured nothing: it shows its reason, never a figure
    measured = ["p50_ms", "p50_halfwidth", "throughput_sps", "decision_agreement", "max_abs_err", "mean_abs_err"]
    frame[measured] = frame[measured].apply(pd.to_numeric, errors="coerce").where(frame["status"].eq("ok"))
    frame["threads"] = frame["threads"].astype(object).where(frame["threads"].notna(), "default")
    frame["variant"] = frame["variant"].astype(object).where(frame["variant"].notna(), "")
    key = frame["_pair"]
    p50 = frame["p50_ms"].where(np.isfinite(frame["p50_ms"]))  # a NaN or infinite median is compared with nothing
    fp32 = p50.where(frame["precision"].eq("fp32") & frame["status"].eq("ok"))
    baseline = fp32.groupby(key).transform("max")
    frame["speedup_vs_fp32"] = (baseline / p50).where(frame["status"].eq("ok"))
    frame["vs_fp32"] = _verdicts(frame, p50, fp32)
    order = {"fp32": 0, "bf16": 1, "int8-dynamic": 2, "int8-static": 3}
    frame = frame.assign(_order=frame["precision"].map(order)).sort_values(
        ["model", "batch_size", "backend", "_order"], kind="stable")
    return frame[COLUMNS].reset_index(drop=True)


def _verdicts(frame: pd.DataFrame, p50: pd.Series, fp32: pd.Series) -> pd.Series:
    """Per ok reduced-precision row with an fp32 partner: :func:`compare_records` of it against that partner."""
    baselines = {key: frame.at[index, "_record"] for index, key in frame["_pair"].items() if pd.notna(fp32[index])}
    verdicts = pd.Series(None, index=frame.index, dtype=object)
    for index, row in frame.iterrows():
        partner = baselines.get(row["_pair"])
        if row["precision"] != "fp32" and partner is not None and pd.notna(p50[index]):
            verdicts[index] = compare_records(row["_record"], partner).verdict
    return verdicts


#: Speed-up ratios the scatter's log axis may label.
SPEEDUP_TICKS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 5, 7, 10, 20, 50)
#: The part of a skip reason that only repeats the row's own precision and backend.
_REPEATED = re.compile(r"^unsupported: (precision='[^']*' is not available for backend '[^']*': )?")


def measured_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows that ran (ok or failed) of :func:`precision_table`; a note column only if a row has one."""
    rows = table[table["status"].ne("skipped")].reset_index(drop=True)
    return rows if rows["note"].astype(str).str.strip().ne("").any() else rows.drop(columns="note")


def skipped_table(table: pd.DataFrame) -> pd.DataFrame:
    """The skipped cases of :func:`precision_table`, compactly: one row per framework and reason, naming
    the precisions it covers (the reason once, not once per batch size and precision)."""
    skipped = table[table["status"].eq("skipped")]
    if skipped.empty:
        return pd.DataFrame(columns=["backend", "precision", "reason"])
    reasons = skipped["note"].astype(str).str.replace(_REPEATED, "", regex=True)
    order = {"fp32": 0, "bf16": 1, "int8-dynamic": 2, "int8-static": 3}
    rows = []
    for (backend, reason), part in skipped.assign(reason=reasons).groupby(["backend", "reason"], sort=False):
        precisions = sorted(set(part["precision"]), key=lambda p: order.get(p, 9))
        rows.append({"backend": backend, "precision": ", ".join(precisions), "reason": reason})
    return pd.DataFrame(rows).sort_values(["backend", "precision"], kind="stable").reset_index(drop=True)


def skipped_view(table: pd.DataFrame) -> Any:
    """What the notebook shows about skipped precisions: the compact table, or a sentence when none was."""
    from IPython.display import Markdown

    from benchlib.report.display import people_table

    skipped = skipped_table(table)
    if skipped.empty:
        return Markdown("Every requested precision ran in every framework.")
    return people_table(skipped, caption="Not measured: each framework's precisions that it does not offer, "
                                         "at every batch size, with the reason once.", drop_constant=())


def speedup_scatter(table: pd.DataFrame) -> Any:
    """Scatter: speed-up over fp32 (x, log) against decision agreement (y), one panel per batch size and one
    point per reduced-precision record; colour per framework, marker per precision, hollow where the CPU
    only emulates the precision. Legends below the panels, no labels over the points (they collide).

    A matplotlib ``Figure`` under the report's chart rules (:mod:`benchlib.report.chart_style`); a
    notebook shows it as a cell's value.
    """
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    from benchlib.report.chart_style import FONT, legend_below, small_multiples, style_axes
    from benchlib.report.figures import colour

    data = table[table["status"].eq("ok") & table["precision"].ne("fp32") & table["speedup_vs_fp32"].notna()]
    title = "Reduced precision: speed against agreement (hollow: no native instructions here)"
    batches = sorted(set(data["batch_size"])) or [None]
    backends = list(dict.fromkeys(data["backend"]))
    markers = {"bf16": "o", "int8-dynamic": "s", "int8-static": "^"}
    fig, axes = small_multiples(len(batches), panel_width_in=5.2, panel_height_in=3.6, title=title,
                                legend_rows=2 if len(backends) > 3 else 1)
    for ax, batch in zip(axes, batches, strict=True):
        style_axes(ax, title=f"batch {batch}" if batch is not None else None,
                   xlabel="p50 speed-up over fp32 (×, log scale)", ylabel="decisions equal to reference (%)")
        if batch is None:
            ax.text(0.5, 0.5, "no reduced-precision run finished:\nnothing to compare with fp32",
                    transform=ax.transAxes, ha="center", va="center", fontsize=FONT["note"])
            ax.set_xlabel("p50 speed-up over fp32 (×)", fontsize=FONT["label"])
            ax.set_xticks([])  # an empty panel's 0..1 scale would mean nothing
            ax.set_yticks([])
            continue
        for _, row in data[data["batch_size"].eq(batch)].iterrows():
            tint = colour(row["backend"])
            ax.scatter(row["speedup_vs_fp32"], 100 * row["decision_agreement"], marker=markers[row["precision"]],
                       s=70, edgecolors=tint, facecolors=tint if row["native"] is True else "none", linewidths=1.5)
        ax.axvline(1.0, color="grey", linewidth=0.8, linestyle="--")
        ax.set_xscale("log")
        # a few round ratios inside the data's range: powers of ten alone are often absent, every minor tick collides
        low, high = ax.get_xlim()
        ticks = [t for t in SPEEDUP_TICKS if low <= t <= high]
        ax.xaxis.set_major_locator(FixedLocator(ticks[:: max(1, math.ceil(len(ticks) / 6))]))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}×"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.tick_params(axis="x", which="both", labelsize=FONT["tick"])
    # legend entries: frameworks by colour, precisions by shape (black)
    for backend in backends:
        axes[0].add_line(Line2D([], [], marker="o", linestyle="none", color=colour(backend), label=backend))
    for precision, marker in markers.items():
        if precision in set(data["precision"]):
            axes[0].add_line(Line2D([], [], marker=marker, linestyle="none", color="black", label=precision))
    legend_below(fig, axes, columns=4)
    return fig


def _where(rows: pd.DataFrame) -> str:
    """Each framework and precision with the models and batch sizes of ``rows`` and their speed-ups.

    A precision can be slower at one batch size and faster at another, so the sentence names the cases,
    e.g. "litert int8-dynamic (fnn at batch 1000: 0.91×)".
    """
    groups = []
    for (backend, precision), group in rows.groupby(["backend", "precision"], sort=True):
        cases = "; ".join(
            f"{model} at batch " + ", ".join(f"{int(r.batch_size)}: {r.speedup_vs_fp32:.2f}×"
                                             for r in by_model.sort_values("batch_size").itertuples())
            for model, by_model in group.groupby("model", sort=True))
        groups.append(f"{backend} {precision} ({cases})")
    return ", ".join(groups)


#: What each verdict of :func:`compare_records` says about a reduced precision against fp32.
VERDICT_TEXT = {FASTER: "faster than fp32: the 95% interval over rounds of the time ratio lies below 1",
                SLOWER: "slower than fp32: the 95% interval over rounds of the time ratio lies above 1",
                TIE: "indistinguishable from fp32 at this precision",
                CANNOT_TELL: "no verdict against fp32: one of the two has fewer than two rounds (or none)"}


def insights(table: pd.DataFrame) -> list[str]:
    """Sentences computed from the table: the best speed-up and its verdict, the lowest agreement, where the
    one rule calls a precision slower than fp32, what was skipped."""
    lines = []
    done = table[table["status"].eq("ok") & table["precision"].ne("fp32") & table["speedup_vs_fp32"].notna()]
    verdict = done["vs_fp32"] if "vs_fp32" in done else pd.Series(CANNOT_TELL, index=done.index)
    if not done.empty:
        best = done.loc[done["speedup_vs_fp32"].idxmax()]
        worst = done.loc[done["decision_agreement"].idxmin()]
        said = VERDICT_TEXT.get(verdict[best.name], VERDICT_TEXT[CANNOT_TELL])
        lines.append(f"Largest speed-up over fp32: {best['backend']} {best['precision']} on {best['model']} at batch "
                     f"{best['batch_size']}, {best['speedup_vs_fp32']:.2f}× ({said}) with "
                     f"{best['decision_agreement']:.1%} of decisions equal to the float64 reference.")
        lines.append(f"Lowest agreement: {worst['backend']} {worst['precision']} on {worst['model']} at batch "
                     f"{worst['batch_size']}, {worst['decision_agreement']:.1%} (max abs error "
                     f"{worst['max_abs_err']:.3g}).")
        slower = done[verdict.eq(SLOWER)]  # the one rule, not a ratio below 1 inside the noise
        if not slower.empty:
            lines.append(f"Slower than fp32 on this machine: {_where(slower)}.")
        unknown = done[verdict.eq(CANNOT_TELL) | verdict.isna()]
        if not unknown.empty:
            lines.append(f"No verdict against fp32 (measured without rounds): {_where(unknown)}.")
    skipped = table[table["status"].eq("skipped")]
    if not skipped.empty:
        names = ", ".join(sorted({f"{r.backend} {r.precision}" for r in skipped.itertuples()}))
        lines.append(f"Skipped (the reasons are in the table of skipped cases): {names}.")
    return lines
