"""Sentences computed from results: what a reader should take away, never fixed text."""

from __future__ import annotations

import pandas as pd


def _label(row: pd.Series) -> str:
    variant = row.get("variant")
    return f"{row['backend']} ({variant})" if isinstance(variant, str) and variant else str(row["backend"])


def insights(df: pd.DataFrame, expected_backends: list[str] | None = None) -> list[str]:
    """Fastest framework per batch size, memory ranking, noisy runs, invalid, failed and missing frameworks."""
    if df is None or df.empty:
        return ["No results were found; run the framework notebooks or `python -m benchlib run` first."]
    sentences: list[str] = []
    status = df["status"] if "status" in df else pd.Series("ok", index=df.index)
    valid = df["outputs_valid"].astype(object).ne(False) if "outputs_valid" in df else True
    ok = df[status.eq("ok") & valid & df["latency_ms.p50"].notna()]
    for batch, part in ok.groupby("batch_size"):
        part = part.sort_values("latency_ms.p50")
        best = part.iloc[0]
        line = f"At batch size {batch}, the fastest is {_label(best)} with a median of {best['latency_ms.p50']:.4g} ms"
        if len(part) > 1:
            second = part.iloc[1]
            ratio = second["latency_ms.p50"] / best["latency_ms.p50"]
            line += f", {ratio:.2f}× ahead of {_label(second)} ({second['latency_ms.p50']:.4g} ms)"
        slowest = part.iloc[-1]
        if len(part) > 2:
            line += f"; the slowest, {_label(slowest)}, takes {slowest['latency_ms.p50'] / best['latency_ms.p50']:.1f}×"
        sentences.append(line + ".")
    if "framework_mb" in ok and ok["framework_mb"].notna().any():
        memory = ok.groupby("backend")["framework_mb"].max().sort_values()
        ranking = ", ".join(f"{name} {value:.0f} MB" for name, value in memory.items())
        sentences.append(f"Memory of each framework alone (largest peak over its runs), lightest first: {ranking}.")
    if "noisy" in ok and len(ok):
        noisy = ok[ok["noisy"].astype(object).eq(True)]
        if len(noisy):
            names = ", ".join(sorted({f"{_label(r)} b={r['batch_size']}" for _, r in noisy.iterrows()}))
            sentences.append(f"{len(noisy)} of {len(ok)} runs were noisy (IQR above 10% of the median): {names}; "
                             "re-run them on a quieter machine before trusting small differences.")
        else:
            sentences.append(f"None of the {len(ok)} successful runs was noisy (IQR at most 10% of the median).")
    if "warnings" in ok and len(ok):
        from benchlib.report.tables import busy_machine

        busy = ok[ok["warnings"].map(busy_machine)]
        if len(busy):
            names = ", ".join(sorted({f"{_label(r)} b={r['batch_size']}" for _, r in busy.iterrows()}))
            sentences.append(f"{len(busy)} of {len(ok)} runs were measured on a busy machine (other processes "
                             f"used the CPU): {names}; their timings are pessimistic.")
    if "outputs_valid" in df:
        invalid = df[df["outputs_valid"].astype(object).eq(False)]
        for _, row in invalid.iterrows():
            error = row.get("max_abs_err", float("nan"))
            sentences.append(f"{_label(row)} at batch size {row['batch_size']} produced outputs that differ from the "
                             f"reference by {error:.3g}; it is left out of the rankings.")
    for label, wanted in (("failed", "failed"), ("skipped", "skipped")):
        rows = df[status.eq(wanted)]
        for _, row in rows.drop_duplicates(["backend", "variant"]).iterrows():
            sentences.append(f"{_label(row)} {label}: {row.get('error')}.")
    if expected_backends:
        present = set(df["backend"])
        for name in expected_backends:
            if name not in present:
                sentences.append(f"{name} has no results here (not available or not run).")
    return sentences
