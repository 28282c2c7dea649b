"""Sentences computed from results: what a reader should take away, never fixed text.

A winner is named only when the one rule for "faster" (:func:`benchlib.studies.compare.compare_records`:
the 95% interval over rounds of the time ratio lies below 1) says so; otherwise the cases are
"indistinguishable at this precision", or, where a record was measured without rounds, no winner is
named. Noisy runs are counted in a sentence and listed in a table (:func:`noisy_runs_table`), shown
collapsed by :func:`insights_html`. Every summary takes one record per configuration
(:func:`benchlib.report.tables.one_per_case`).
"""

from __future__ import annotations

import html

import pandas as pd

from benchlib.report.display import details, people_table, significant
from benchlib.report.figures import MEMORY_DEFINITION
from benchlib.report.tables import (
    busy_machine,
    error_text,
    finite,
    number_text,
    one_per_case,
    single_call_rows,
    unverified_mask,
)
from benchlib.studies.compare import CANNOT_TELL, FASTER, compare_records

CI_LO = "latency_ci95_ms.p50.lo"
CI_HI = "latency_ci95_ms.p50.hi"


def _label(row: pd.Series, with_threads: bool = False) -> str:
    variant = row.get("variant")
    text = f"{row['backend']} ({variant})" if isinstance(variant, str) and variant else str(row["backend"])
    if with_threads:
        threads = row.get("threads")
        text += " t=" + ("default" if threads is None or pd.isna(threads) else str(int(threads)))
    return text


def _ms(value: float) -> str:
    return f"{significant(float(value))} ms"


def _interval(row: pd.Series) -> tuple[float, float] | None:
    low, high = finite(pd.Series([row.get(CI_LO), row.get(CI_HI)]))
    if pd.isna(low) or pd.isna(high):  # missing, NaN or infinite: no interval to compare
        return None
    return float(low), float(high)


def _range(low: float, high: float) -> str:
    """``low–high`` with enough significant figures that the two ends differ when they do."""
    for digits in (3, 4, 5, 6):
        first, second = significant(low, digits), significant(high, digits)
        if first != second or low == high:
            return f"{first}–{second}"
    return f"{first}–{second}"


def _several_threads(part: pd.DataFrame) -> bool:
    if "threads" not in part:
        return False
    variant = part["variant"] if "variant" in part else pd.Series("", index=part.index)
    return bool(part.groupby([part["backend"], variant.fillna("")])["threads"].nunique(dropna=False).gt(1).any())


def _speed_sentence(batch: int, part: pd.DataFrame) -> str:
    part = part.sort_values("latency_ms.p50")
    threads = _several_threads(part)
    best = part.iloc[0]
    p50 = best["latency_ms.p50"]
    if len(part) == 1:
        return (f"At batch size {batch}, the fastest is {_label(best, threads)} (the only valid run), "
                f"with a median of {_ms(p50)}.")
    tied = [best]
    unknown = False
    verdicts = {}
    for _, row in part.iloc[1:].iterrows():
        verdicts[row.name] = compare_records(best, row)  # the one rule: is the fastest median really faster?
        unknown = unknown or verdicts[row.name].verdict == CANNOT_TELL
        if verdicts[row.name].verdict != FASTER:
            tied.append(row)
    if unknown:
        line = (f"At batch size {batch}, {_label(best, threads)} has the lowest median ({_ms(p50)}), but some "
                "runs were measured without interleaved rounds (one round cannot tell), so no winner is named")
    elif len(tied) > 1:
        names = ", ".join(f"{_label(r, threads)} ({_ms(r['latency_ms.p50'])})" for r in tied)
        line = (f"At batch size {batch}, {names} are indistinguishable at this precision: the 95% interval over "
                "rounds of their time ratio includes 1")
    else:
        second = part.iloc[1]
        ratio = verdicts[second.name]
        interval = _interval(best)
        within = f" (95% interval over rounds {_range(*interval)} ms)" if interval else ""
        line = (f"At batch size {batch}, the fastest is {_label(best, threads)} with a median of {_ms(p50)}"
                f"{within}, {second['latency_ms.p50'] / p50:.2f}× ahead of {_label(second, threads)} "
                f"({_ms(second['latency_ms.p50'])}); the 95% interval of their time ratio over "
                f"{ratio.rounds} {'paired ' if ratio.paired else ''}rounds, {_range(ratio.low, ratio.high)}, "
                "lies below 1")
    slowest = part.iloc[-1]
    if len(part) > 2 and not unknown and all(slowest.name != r.name for r in tied):
        line += (f"; the slowest, {_label(slowest, threads)}, takes {significant(slowest['latency_ms.p50'] / p50)}× as "
                 f"long as {_label(best, threads)}")
    return line + "."


def _valid_ok(df: pd.DataFrame) -> pd.DataFrame:
    """The rows that may be ranked: ok, valid (or unchecked) outputs that some check could verify, a finite p50,
    one call at a time (not a LoadGen scenario)."""
    df = single_call_rows(df)
    status = df["status"] if "status" in df else pd.Series("ok", index=df.index)
    valid = (df["outputs_valid"].astype(object).ne(False) if "outputs_valid" in df else True) & ~unverified_mask(df)
    p50 = finite(df["latency_ms.p50"]) if "latency_ms.p50" in df else pd.Series(float("nan"), index=df.index)
    return df[status.eq("ok") & valid & p50.notna()]


def _noisy_thresholds() -> str:
    from benchlib.engine import stats

    spread = getattr(stats, "NOISY_IQR_RATIO", 0.10)
    text = f"spread: IQR above {spread:.0%} of the median"
    tail = getattr(stats, "NOISY_TAIL_RATIO", None)
    if tail:
        text += f"; tail: p99 above {tail:g}× the median"
    return text


def noisy_runs_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per noisy ok run: framework, variant, batch, threads, p50, IQR / p50, p99 / p50, criterion."""
    columns = ["backend", "variant", "batch_size", "threads", "p50_ms", "iqr_ratio", "tail_ratio", "noisy_criteria"]
    if df is None or df.empty or "noisy" not in df:
        return pd.DataFrame(columns=columns)
    ok = _valid_ok(one_per_case(df))
    noisy = ok[ok["noisy"].astype(object).eq(True)]
    if noisy.empty:
        return pd.DataFrame(columns=columns)
    p50 = noisy["latency_ms.p50"].astype(float)
    reasons = next((noisy[c] for c in ("noisy_reasons", "latency_stats.noisy_reasons") if c in noisy), None)

    def criteria(value: object) -> str:
        if isinstance(value, list | tuple) and value:
            return "; ".join(map(str, value))
        return "spread (IQR)"  # records written before the tail criterion existed

    table = pd.DataFrame({
        "backend": noisy["backend"], "variant": noisy.get("variant"), "batch_size": noisy["batch_size"],
        "threads": noisy.get("threads"), "p50_ms": p50,
        "iqr_ratio": pd.to_numeric(noisy.get("latency_ms.iqr"), errors="coerce") / p50,
        "tail_ratio": pd.to_numeric(noisy.get("latency_ms.p99"), errors="coerce") / p50,
        "noisy_criteria": reasons.map(criteria) if reasons is not None else "spread (IQR)",
    })
    table["threads"] = table["threads"].astype(object).where(table["threads"].notna(), "default")
    return table[columns].sort_values(["backend", "variant", "batch_size"]).reset_index(drop=True)


def insights(df: pd.DataFrame, expected_backends: list[str] | None = None,
             memory_batch: int | None = None) -> list[str]:
    """Fastest framework per batch size (only when the one rule for "faster" says so), memory ranking,
    the count of noisy and busy-machine runs, invalid, failed and missing frameworks.

    ``memory_batch`` is the batch size whose framework memory is ranked (default: the largest measured).
    """
    if df is None or df.empty:
        return ["No results were found; run the framework notebooks or `python -m benchlib run` first."]
    df = one_per_case(df)
    sentences: list[str] = []
    status = df["status"] if "status" in df else pd.Series("ok", index=df.index)
    ok = _valid_ok(df)
    for batch, part in ok.groupby("batch_size"):
        sentences.append(_speed_sentence(int(batch), part))
    if "framework_mb" in ok and finite(ok["framework_mb"]).notna().any():
        measured = ok[finite(ok["framework_mb"]).notna()]
        batch = memory_batch if memory_batch in set(measured["batch_size"]) else int(measured["batch_size"].max())
        part = measured[measured["batch_size"] == batch].sort_values("framework_mb")
        threads = _several_threads(part)
        ranking = ", ".join(f"{_label(r, threads)} {significant(r['framework_mb'])} MB" for _, r in part.iterrows())
        sentences.append(f"Framework memory at batch size {batch}, lightest first: {ranking}. Framework memory "
                         f"is {MEMORY_DEFINITION}.")
    if "noisy" in ok and len(ok):
        noisy = noisy_runs_table(df)
        if len(noisy):
            sentences.append(f"{len(noisy)} of {len(ok)} runs were noisy ({_noisy_thresholds()}); the table of "
                             "noisy runs lists them. Re-run them on a quieter machine before trusting small "
                             "differences.")
        else:
            sentences.append(f"None of the {len(ok)} successful runs was noisy ({_noisy_thresholds()}).")
    if "warnings" in ok and len(ok):
        busy = ok[ok["warnings"].map(busy_machine)]
        if len(busy):
            sentences.append(f"{len(busy)} of {len(ok)} runs were measured on a busy machine (other processes used "
                             "the CPU); their timings are pessimistic (the note column of the tables marks them).")
    if "outputs_valid" in df:
        invalid = df[df["outputs_valid"].astype(object).eq(False)]
        for _, row in invalid.iterrows():
            error = row.get("max_abs_err")
            differ = (f"by {error:.3g}" if isinstance(error, int | float) and pd.notna(error)
                      else f"({error_text(error)})")
            sentences.append(f"{_label(row)} at batch size {row['batch_size']} produced outputs that differ from the "
                             f"reference {differ}; it is left out of the rankings.")
    for _, row in df[unverified_mask(df) & status.eq("ok")].iterrows():
        sentences.append(f"{_label(row)} at batch size {row['batch_size']} has outputs no reference check could "
                         "verify; it is left out of the rankings (the note column says why).")
    if "latency_ms.p50" in df:
        single = single_call_rows(df)
        unmeasured = single[single["status"].eq("ok") & finite(single["latency_ms.p50"]).isna()] \
            if "status" in single else single.iloc[0:0]
        for _, row in unmeasured.iterrows():
            sentences.append(f"{_label(row)} at batch size {row['batch_size']} has no finite median latency "
                             f"(p50 {number_text(row['latency_ms.p50'])}); it is left out of the rankings.")
    for label, wanted in (("failed", "failed"), ("skipped", "skipped")):
        rows = df[status.eq(wanted)]
        for _, row in rows.drop_duplicates(["backend", "variant"] if "variant" in rows else ["backend"]).iterrows():
            sentences.append(f"{_label(row)} {label}: {row.get('error')}.")
    if expected_backends:
        present = set(df["backend"])
        for name in expected_backends:
            if name not in present:
                sentences.append(f"{name} has no results here (not available or not run).")
    return sentences


def insights_html(df: pd.DataFrame, expected_backends: list[str] | None = None,
                  memory_batch: int | None = None) -> str:
    """The sentences as a list, then the noisy runs as a collapsible table (``<details>``)."""
    items = "".join(f"<li>{html.escape(s)}</li>" for s in insights(df, expected_backends, memory_batch))
    out = f"<ul>{items}</ul>"
    noisy = noisy_runs_table(df) if df is not None and not df.empty else pd.DataFrame()
    if len(noisy):
        table = people_table(noisy).to_html()
        out += details(f"Noisy runs ({len(noisy)}): click to list them", table)
    return out
