"""Tables from a sweep's results: throughput, roofline (percent of peak), best variants, thread scaling,
cold start, and the issue's performance targets evaluated from the data.

Every function takes the tidy frame of :func:`sweep_frame` (one row per case, newest record wins) and
returns a DataFrame; sentences about results are built from those frames, never written by hand.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from benchlib.report.sweep_verdicts import ROUND_FIELDS, batch_sentence, variant_verdict
from benchlib.report.tables import _col, finite, one_per_case, single_call_rows, tied_ranks
from benchlib.results.schema import CASE_FIELDS
from benchlib.roofline.peaks import percent_of_peak
from benchlib.studies.compare import HALFWIDTH_FIELD

#: The columns that name a sweep's case: its case fields (:data:`benchlib.results.schema.CASE_FIELDS`) but
#: the protocol and scenario, which a sweep's single-call records all share.
IDENTITY = [name for name in CASE_FIELDS if name not in ("protocol", "scenario")]
#: The issue's performance targets (stated in the README as results, never asserted in tests).
TARGET_FASTEST_PCT = 80.0
TARGET_EVERY_PCT = 50.0
TARGET_BATCH = 1000
TARGET_BATCH1_US = 25.0


def _num(df: pd.DataFrame, column: str) -> pd.Series:
    if column not in df.columns:
        return pd.Series([float("nan")] * len(df), index=df.index, dtype=float)
    return pd.to_numeric(df[column], errors="coerce")


def sweep_frame(results: str | os.PathLike | pd.DataFrame, peaks: dict[int, float] | None = None) -> pd.DataFrame:
    """One row per case with p50 (ms), throughput, achieved GFLOP/s (the record's own) and percent of peak,
    and the round data (:data:`benchlib.report.sweep_verdicts.ROUND_FIELDS`) the one rule for "faster" reads.

    ``results`` is a results file/folder or a frame from :func:`benchlib.results.load`. ``peaks`` maps
    thread count to peak GFLOP/s (:func:`benchlib.studies.sweep.peaks_by_threads`); percent of peak uses the
    peak measured with the case's own thread count (:func:`benchlib.roofline.peaks.percent_of_peak`).
    """
    from benchlib.results.store import load

    df = results if isinstance(results, pd.DataFrame) else load(results)
    columns = [*IDENTITY, "status", "error", "p50_ms", "p50_halfwidth", "throughput_sps", "gflops", "pct_of_peak",
               "peak_gflops", "import_s", "load_s", "first_call_ms", "cpu_percent", "outputs_valid", "flops_per_sample",
               *ROUND_FIELDS]
    if df.empty:
        return pd.DataFrame(columns=columns)
    data = one_per_case(single_call_rows(df))  # the newest record of each case, as in every other summary
    out = pd.DataFrame({c: data[c] if c in data.columns else None for c in [*IDENTITY, "status", "error"]})
    out["p50_ms"] = _num(data, "latency_ms.p50")
    # relative, over rounds; NaN without rounds (the within-process interval is never the number's precision)
    out["p50_halfwidth"] = finite(_num(data, HALFWIDTH_FIELD))
    out["throughput_sps"] = _num(data, "throughput_sps")
    out["flops_per_sample"] = _num(data, "flops_per_sample")
    out["gflops"] = _num(data, "gflops")  # the worker's: flops/sample × batch over the median call
    peak_map = peaks or {}
    out["peak_gflops"] = out["threads"].map(lambda t: peak_map.get(int(t)) if pd.notna(t) else None).astype(float)
    out["pct_of_peak"] = percent_of_peak(out["gflops"], out["peak_gflops"])
    for column in ("import_s", "load_s", "first_call_ms", "cpu_percent"):
        out[column] = _num(data, column)
    out["outputs_valid"] = data["outputs_valid"] if "outputs_valid" in data.columns else None
    for column in ROUND_FIELDS:  # lists in a cell: a record without rounds has none
        out[column] = _col(data, column)
    measured = [c for c in columns if c not in (*IDENTITY, "status", "error", "outputs_valid", "flops_per_sample",
                                                   "peak_gflops", *ROUND_FIELDS)]
    out[measured] = out[measured].where(out["status"].eq("ok"))  # a failed or skipped run measured nothing
    return out[columns].sort_values(["model", "backend", "variant", "threads", "batch_size"]).reset_index(drop=True)


def _ok(df: pd.DataFrame) -> pd.DataFrame:
    valid = df["outputs_valid"].astype(object).ne(False)
    return _with_halfwidth(df[df["status"].eq("ok") & finite(df["p50_ms"]).notna() & valid])  # never rank NaN or inf


def _with_halfwidth(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with a ``p50_halfwidth`` column (empty for a frame made before the column existed) and a model."""
    if "p50_halfwidth" not in df.columns:
        df = df.assign(p50_halfwidth=float("nan"))
    return df if "model" in df.columns else df.assign(model="fnn")


def main_threads(df: pd.DataFrame) -> int | None:
    """The largest thread count in the sweep: the setting the per-batch tables compare at."""
    threads = pd.to_numeric(df["threads"], errors="coerce").dropna()
    return int(threads.max()) if len(threads) else None


def _at_threads(df: pd.DataFrame, threads: int | None) -> pd.DataFrame:
    threads = main_threads(df) if threads is None else threads
    return df[df["threads"] == threads]


def _pivot(df: pd.DataFrame, value: str, threads: int | None, unit: str) -> pd.DataFrame:
    data = _at_threads(_ok(df), threads)
    if data.empty:
        return pd.DataFrame()
    table = data.pivot_table(index=["model", "backend", "variant"], columns="batch_size", values=value, aggfunc="first")
    table.columns = [f"b={c} ({unit})" for c in table.columns]  # the unit in every column's name
    return table.reset_index()


def throughput_table(df: pd.DataFrame, threads: int | None = None) -> pd.DataFrame:
    """Samples per second, one row per backend/variant, one column per batch size."""
    return _pivot(df, "throughput_sps", threads, "samples/s")


def percent_of_peak_table(df: pd.DataFrame, threads: int | None = None) -> pd.DataFrame:
    """Achieved GFLOP/s as percent of the measured peak, one row per backend/variant, one column per batch."""
    return _pivot(df, "pct_of_peak", threads, "% of peak")


def best_variant_table(df: pd.DataFrame, threads: int | None = None) -> pd.DataFrame:
    """For each backend and batch size, the variant with the lowest p50, its p50, GFLOP/s and % of peak.

    ``variant_verdict`` says whether the one rule for "faster" (:func:`benchlib.studies.compare.compare_records`)
    calls that variant faster than the backend's others; ``rank`` ranks the backends' best variants per
    model and batch, a tie shown as a tie (:func:`benchlib.report.tables.tied_ranks`: "cannot tell" ties).
    """
    data = _at_threads(_ok(df), threads)
    columns = ["model", "batch_size", "rank", "backend", "best_variant", "variant_verdict", "p50_ms", "p50_halfwidth",
               "gflops", "pct_of_peak", "vs_fastest"]
    if data.empty:
        return pd.DataFrame(columns=columns)
    keys = ["model", "batch_size", "backend"]
    verdicts = {key: variant_verdict(part) for key, part in data.groupby(keys)}
    best = data.loc[data.groupby(keys)["p50_ms"].idxmin()]
    best = best.rename(columns={"variant": "best_variant"})
    best["variant_verdict"] = [verdicts[tuple(row)] for row in best[keys].itertuples(index=False)]
    best["vs_fastest"] = best["p50_ms"] / best.groupby(["model", "batch_size"])["p50_ms"].transform("min")
    best["rank"] = tied_ranks(best, best["p50_ms"], [best["model"], best["batch_size"]])
    return best[columns].sort_values(["model", "batch_size", "p50_ms"]).reset_index(drop=True)


def threads_scaling_table(df: pd.DataFrame) -> pd.DataFrame:
    """p50 per thread count for each backend/variant/batch, and the speed-up of the most threads over 1."""
    data = _ok(df)
    if data.empty or data["threads"].nunique() < 1:
        return pd.DataFrame()
    index = ["model", "backend", "variant", "batch_size"]
    table = data.pivot_table(index=index, columns="threads", values="p50_ms", aggfunc="first")
    widths = data.pivot_table(index=index, columns="threads", values="p50_halfwidth", aggfunc="first", dropna=False)
    counts = sorted(table.columns)
    table.columns = [f"p50 (ms) t={c}" for c in counts]
    for position, count in enumerate(counts):  # each median with its ±95% half-width beside it
        column = widths[count] if count in widths.columns else float("nan")
        table.insert(2 * position + 1, f"t={count} p50_halfwidth", column)
    if len(counts) > 1:
        table[f"speedup t={counts[-1]} vs t={counts[0]}"] = (table[f"p50 (ms) t={counts[0]}"]
                                                             / table[f"p50 (ms) t={counts[-1]}"])
    return table.reset_index()


def cold_start_table(df: pd.DataFrame, threads: int | None = None) -> pd.DataFrame:
    """Per framework, default variant: import, load/compile, first call, steady-state p50 (smallest batch).

    The first call includes one-off work the framework defers (graph tracing, JIT compilation), so
    ``first_call_ms`` minus ``p50_ms`` is the cost a server pays once per model and input shape.
    """
    from benchlib.backends.registry import backend_variants

    data = _at_threads(_with_halfwidth(df[df["status"].eq("ok")]), threads)
    columns = ["model", "backend", "variant", "batch_size", "import_s", "load_s", "first_call_ms", "p50_ms",
               "p50_halfwidth", "total_s"]
    rows = []
    for (_, backend), group in data.groupby(["model", "backend"], sort=False):
        default = backend_variants(str(backend))[0]
        group = group[group["variant"] == default]
        if group.empty:
            continue
        row = group.sort_values("batch_size").iloc[0]
        rows.append({c: row[c] for c in columns[:-1]})
    table = pd.DataFrame(rows, columns=columns[:-1])
    table["total_s"] = table["import_s"] + table["load_s"] + table["first_call_ms"] / 1e3
    return table.sort_values(["model", "total_s"]).reset_index(drop=True)


def not_measured_table(df: pd.DataFrame) -> pd.DataFrame:
    """Cases that were skipped or failed, with the reason (nothing is dropped silently)."""
    data = _with_halfwidth(df[df["status"].ne("ok")])
    return data[["model", "backend", "variant", "batch_size", "threads", "status", "error"]].reset_index(drop=True)


# -- targets ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    name: str
    measured: str
    met: bool | None
    explanation: str


def _layer_count(model: str) -> int | None:
    """A zoo model's layers; None for a user's model (its graph's nodes are not layers)."""
    from benchlib.models.zoo import MODELS, get_model

    return len(get_model(model).layers) if model in MODELS else None


def _per_layer(fixed: dict[str, float], before: str = " ≈ ") -> str:
    """`` ≈ N µs per layer`` of a fixed cost, or nothing for a user's model."""
    value = fixed["per_layer_us"]
    return f"{before}{value:.1f} µs per layer" if math.isfinite(value) else ""


def _fixed_overhead_us(df: pd.DataFrame, backend: str, variant: str, threads: int | None) -> dict[str, float] | None:
    """Per-call fixed cost of a backend/variant: its batch-1 p50 minus the FLOP time at peak (µs)."""
    data = _at_threads(_ok(df), threads)
    row = data[(data["backend"] == backend) & (data["variant"] == variant) & (data["batch_size"] == 1)]
    if row.empty:
        return None
    row = row.iloc[0]
    flop_us = row["flops_per_sample"] / (row["peak_gflops"] * 1e9) * 1e6 if row["peak_gflops"] > 0 else 0.0
    fixed = row["p50_ms"] * 1e3 - flop_us
    layers = _layer_count(str(row["model"]))
    return {"p50_us": row["p50_ms"] * 1e3, "flop_us": flop_us, "fixed_us": fixed,
            "per_layer_us": fixed / layers if layers else math.nan}


def _explain_rate(df: pd.DataFrame, row: pd.Series, threads: int | None) -> str:
    """Why a case reaches only part of the peak: fixed per-call cost vs. the compute time at peak."""
    flop_ms = row["flops_per_sample"] * row["batch_size"] / (row["peak_gflops"] * 1e9) * 1e3
    excess_ms = row["p50_ms"] - flop_ms
    fixed = _fixed_overhead_us(df, row["backend"], row["variant"], threads)
    text = (f"{row['backend']}/{row['variant']}: p50 {row['p50_ms'] * 1e3:.0f} µs vs {flop_ms * 1e3:.0f} µs of "
            f"FLOPs at peak; {excess_ms * 1e3:.0f} µs elsewhere")
    if fixed is not None:
        share = 100.0 * min(fixed["fixed_us"] / 1e3, excess_ms) / excess_ms if excess_ms > 0 else 0.0
        text += (f"; its per-call fixed cost (batch-1 p50 minus FLOP time) is {fixed['fixed_us']:.0f} µs"
                 f"{_per_layer(fixed)}, {share:.0f}% of that gap; the rest is the "
                 f"kernels running below peak on this model's narrow layers")
    return text


def target_model(df: pd.DataFrame) -> str:
    """The model the performance targets, the dispatch costs and the summary are about: the article's fnn
    when the sweep has it, else its first model (the targets were set for fnn)."""
    models = list(dict.fromkeys(_with_halfwidth(df)["model"].dropna().astype(str)))
    return "fnn" if "fnn" in models or not models else models[0]


def _of_target_model(df: pd.DataFrame) -> pd.DataFrame:
    data = _with_halfwidth(df)
    return data[data["model"].eq(target_model(data))]


def targets_table(df: pd.DataFrame, threads: int | None = None) -> pd.DataFrame:
    """The issue's performance targets, measured: target, measured value, met, explanation for a miss."""
    df = _of_target_model(df)
    threads = main_threads(df) if threads is None else threads
    data = _at_threads(_ok(df), threads)
    rows: list[Target] = []
    at_target = data[(data["batch_size"] == TARGET_BATCH) & data["pct_of_peak"].notna()]
    name1 = f"fastest variant >= {TARGET_FASTEST_PCT:.0f}% of peak at batch {TARGET_BATCH}"
    name2 = f"every framework's best >= {TARGET_EVERY_PCT:.0f}% of peak at batch {TARGET_BATCH}"
    if at_target.empty:
        rows.append(Target(name1, "not measured", None, f"no ok case at batch {TARGET_BATCH} with a roofline"))
        rows.append(Target(name2, "not measured", None, f"no ok case at batch {TARGET_BATCH} with a roofline"))
    else:
        best = at_target.loc[at_target["pct_of_peak"].idxmax()]
        met = bool(best["pct_of_peak"] >= TARGET_FASTEST_PCT)
        rows.append(Target(name1, f"{best['pct_of_peak']:.1f}% ({best['backend']}/{best['variant']}, "
                                  f"{best['gflops']:.0f} of {best['peak_gflops']:.0f} GFLOP/s)", met,
                           "" if met else _explain_rate(df, best, threads)))
        per_backend = at_target.loc[at_target.groupby("backend")["pct_of_peak"].idxmax()]
        misses = per_backend[per_backend["pct_of_peak"] < TARGET_EVERY_PCT].sort_values("pct_of_peak")
        measured = ", ".join(f"{r.backend} {r.pct_of_peak:.0f}%" for r in per_backend.sort_values(
            "pct_of_peak", ascending=False).itertuples())
        rows.append(Target(name2, measured, misses.empty,
                           " | ".join(_explain_rate(df, r, threads) for _, r in misses.iterrows())))
    batch1 = data[data["batch_size"] == 1]
    name3 = f"fastest p50 at batch 1 <= {TARGET_BATCH1_US:.0f} µs"
    if batch1.empty:
        rows.append(Target(name3, "not measured", None, "no ok case at batch 1"))
    else:
        best = batch1.loc[batch1["p50_ms"].idxmin()]
        p50_us = best["p50_ms"] * 1e3
        met = bool(p50_us <= TARGET_BATCH1_US)
        explanation = ""
        if not met:
            fixed = _fixed_overhead_us(df, best["backend"], best["variant"], threads)
            explanation = (f"{best['backend']}/{best['variant']}: the FLOPs of one sample take "
                           f"{fixed['flop_us']:.2f} µs at peak, so {fixed['fixed_us']:.1f} µs of the "
                           f"{p50_us:.1f} µs is fixed per-call cost (Python call, framework dispatch"
                           f"{_per_layer(fixed, before=', ≈ ')})") if fixed else ""
        rows.append(Target(name3, f"{p50_us:.1f} µs ({best['backend']}/{best['variant']})", met, explanation))
    table = pd.DataFrame([{"target": t.name, "measured": t.measured,
                           "met": "n/a" if t.met is None else ("yes" if t.met else "no"),
                           "explanation": t.explanation} for t in rows])
    return table


def dispatch_cost_table(df: pd.DataFrame, threads: int | None = None) -> pd.DataFrame:
    """Per backend/variant: batch-1 p50, FLOP time at peak, fixed per-call cost and its share per layer (µs)."""
    df = _of_target_model(df)
    threads = main_threads(df) if threads is None else threads
    data = _at_threads(_ok(df), threads)
    rows = []
    for (backend, variant), _ in data[data["batch_size"] == 1].groupby(["backend", "variant"]):
        fixed = _fixed_overhead_us(df, backend, variant, threads)
        if fixed is not None:
            rows.append({"backend": backend, "variant": variant, **fixed})
    return pd.DataFrame(rows).sort_values("p50_us").reset_index(drop=True) if rows else pd.DataFrame()


# -- sentences ----------------------------------------------------------------------------------------

def summary_sentences(df: pd.DataFrame, peaks: dict[int, float]) -> list[str]:
    """Plain sentences about the measured results, computed from ``df`` and ``peaks``; who is fastest at
    batch 1 and at the target batch is the one rule's (:func:`benchlib.report.sweep_verdicts.batch_sentence`)."""
    out: list[str] = []
    models = sorted(set(_with_halfwidth(df)["model"].dropna().astype(str)))
    if len(models) > 1:
        out.append(f"The sweep covers {', '.join(models)}; the sentences and targets below are about "
                   f"{target_model(df)}, the tables show every model.")
    df = _of_target_model(df)
    threads = main_threads(df)
    if threads is not None and threads in peaks:
        out.append(f"The measured float32 matmul peak with {threads} thread(s) is {peaks[threads]:.0f} GFLOP/s.")
    candidates = _at_threads(_ok(df), threads)
    for batch in (1, TARGET_BATCH):  # every case at the batch is a candidate: the one rule names a fastest or not
        sentence = batch_sentence(batch, candidates[candidates["batch_size"] == batch])
        if sentence:
            out.append(sentence)
    cold = cold_start_table(df, threads)
    if len(cold) >= 2:
        first, last = cold.iloc[0], cold.iloc[-1]
        out.append(f"From import to first answer, {first['backend']} is ready in {first['total_s']:.2f} s and "
                   f"{last['backend']} in {last['total_s']:.2f} s.")
    over = _ok(df)[_ok(df)["pct_of_peak"] > 100.0]
    if not over.empty:  # a network cannot outrun the matmul it is made of: the yardstick is too short
        worst = over.loc[over["pct_of_peak"].idxmax()]
        out.append(f"Defect of the yardstick: {len(over)} case(s) exceed the measured peak (up to "
                   f"{worst['pct_of_peak']:.0f}%: {worst['backend']}/{worst['variant']} at batch {worst['batch_size']} "
                   f"reached {worst['gflops']:.0f} GFLOP/s against a peak of {worst['peak_gflops']:.0f}). A network "
                   f"of matrix multiplies cannot run faster than the fastest matrix multiply, so the measured peak "
                   f"is below what this CPU does and every percent of peak here is too high.")
    skipped = not_measured_table(df)
    if not skipped.empty:
        out.append(f"{len(skipped)} case(s) were not measured (skipped or failed); the table below gives each reason.")
    return out


def write_tables(tables: dict[str, pd.DataFrame], tables_dir: str | os.PathLike) -> list[Path]:
    """Write each table as Markdown and CSV into ``tables_dir`` (:func:`benchlib.report.table_files.write_table`,
    so a later run knows them as its own); return the paths."""
    from benchlib.report.table_files import write_table
    from benchlib.report.tables import to_markdown

    paths = []
    for name, table in tables.items():
        paths += write_table(table, tables_dir, name,
                             to_markdown(table, precision="full") if not table.empty else "(no data)")
    return paths


def all_tables(df: pd.DataFrame) -> dict[str, Any]:
    """Every sweep table by file name."""
    return {
        "sweep_throughput": throughput_table(df),
        "sweep_percent_of_peak": percent_of_peak_table(df),
        "sweep_best_variant": best_variant_table(df),
        "sweep_threads_scaling": threads_scaling_table(df),
        "sweep_cold_start": cold_start_table(df),
        "sweep_dispatch_cost": dispatch_cost_table(df),
        "sweep_targets": targets_table(df),
        "sweep_not_measured": not_measured_table(df),
    }
