"""Speed-up over fp32 against decision agreement: the precision notebook's table, chart and sentences.

A reduced-precision record is paired with the fp32 record of the same backend, variant, model, batch
size and threads on the same machine (``env_key``); its speed-up is fp32's p50 over its own. Every
row names its precision, so nothing is ranked against fp32 without saying at which precision.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

#: What pairs a reduced-precision record with its fp32 baseline.
PAIR = ("env_key", "backend", "variant", "model", "batch_size", "threads")
COLUMNS = ["backend", "variant", "model", "batch_size", "threads", "precision", "status", "p50_ms",
           "throughput_sps", "speedup_vs_fp32", "decision_agreement", "max_abs_err", "mean_abs_err", "native", "note"]


def precision_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per record (newest per case): p50, throughput, speed-up over fp32, accuracy, native or not."""
    rows = []
    for record in sorted(records, key=lambda r: str(r.get("created") or "")):
        accuracy = record.get("accuracy") or {}
        hardware = record.get("precision_hardware") or {}
        rows.append({
            **{key: record.get(key) for key in PAIR},
            "precision": record.get("precision") or "fp32", "status": record.get("status"),
            "case_key": record.get("case_key"),
            "p50_ms": (record.get("latency_ms") or {}).get("p50"), "throughput_sps": record.get("throughput_sps"),
            "decision_agreement": accuracy.get("decision_agreement"), "max_abs_err": accuracy.get("max_abs_err"),
            "mean_abs_err": accuracy.get("mean_abs_err"), "native": hardware.get("native"),
            "note": record.get("error") or "",
        })
    if not rows:
        return pd.DataFrame(columns=COLUMNS)
    frame = pd.DataFrame(rows).drop_duplicates("case_key", keep="last")
    frame["threads"] = frame["threads"].astype(object).where(frame["threads"].notna(), "default")
    frame["variant"] = frame["variant"].astype(object).where(frame["variant"].notna(), "")
    key = frame[list(PAIR)].astype(str).agg("|".join, axis=1)
    fp32 = frame["p50_ms"].where(frame["precision"].eq("fp32") & frame["status"].eq("ok"))
    baseline = fp32.groupby(key).transform("max")
    frame["speedup_vs_fp32"] = (baseline / frame["p50_ms"]).where(frame["status"].eq("ok"))
    order = {"fp32": 0, "bf16": 1, "int8-dynamic": 2, "int8-static": 3}
    frame = frame.assign(_order=frame["precision"].map(order)).sort_values(
        ["model", "batch_size", "backend", "_order"], kind="stable")
    return frame[COLUMNS].reset_index(drop=True)


def speedup_scatter(table: pd.DataFrame) -> Any:
    """Scatter: speed-up over fp32 (x, log) against decision agreement (y), one point per reduced-precision
    record; marker per precision, colour per framework; hollow where the CPU only emulates the precision."""
    import matplotlib.pyplot as plt

    data = table[table["status"].eq("ok") & table["precision"].ne("fp32") & table["speedup_vs_fp32"].notna()]
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    markers = {"bf16": "o", "int8-dynamic": "s", "int8-static": "^"}
    colours = {name: f"C{i}" for i, name in enumerate(sorted(table["backend"].dropna().unique()))}
    for _, row in data.iterrows():
        native = row["native"] is True
        ax.scatter(row["speedup_vs_fp32"], 100 * row["decision_agreement"], marker=markers[row["precision"]],
                   s=60, edgecolors=colours[row["backend"]], facecolors=colours[row["backend"]] if native else "none",
                   linewidths=1.5)
        ax.annotate(f"{row['backend']} {row['precision']} b={row['batch_size']}",
                    (row["speedup_vs_fp32"], 100 * row["decision_agreement"]), fontsize=7,
                    xytext=(4, 3), textcoords="offset points")
    ax.axvline(1.0, color="grey", linewidth=0.8, linestyle="--")
    ax.set_xscale("log")
    from matplotlib.ticker import FormatStrFormatter

    ax.xaxis.set_major_formatter(FormatStrFormatter("%g×"))
    ax.xaxis.set_minor_formatter(FormatStrFormatter("%g×"))
    ax.set_xlabel("speed-up of p50 over the same framework's fp32 (×, log scale)")
    ax.set_ylabel("decisions equal to the float64 reference (%)")
    ax.set_title("Reduced precision: speed against agreement (hollow: no native instructions here)")
    return fig


def insights(table: pd.DataFrame) -> list[str]:
    """Sentences computed from the table: the best speed-up, the lowest agreement, what was skipped."""
    lines = []
    done = table[table["status"].eq("ok") & table["precision"].ne("fp32") & table["speedup_vs_fp32"].notna()]
    if not done.empty:
        best = done.loc[done["speedup_vs_fp32"].idxmax()]
        worst = done.loc[done["decision_agreement"].idxmin()]
        lines.append(f"Largest speed-up over fp32: {best['backend']} {best['precision']} on {best['model']} at batch "
                     f"{best['batch_size']}, {best['speedup_vs_fp32']:.2f}× with {best['decision_agreement']:.1%} "
                     "of decisions equal to the float64 reference.")
        lines.append(f"Lowest agreement: {worst['backend']} {worst['precision']} on {worst['model']} at batch "
                     f"{worst['batch_size']}, {worst['decision_agreement']:.1%} (max abs error "
                     f"{worst['max_abs_err']:.3g}).")
        slower = done[done["speedup_vs_fp32"] < 1]
        if not slower.empty:
            names = ", ".join(sorted({f"{r.backend} {r.precision}" for r in slower.itertuples()}))
            lines.append(f"Slower than fp32 on this machine: {names}.")
    skipped = table[table["status"].eq("skipped")]
    if not skipped.empty:
        names = ", ".join(sorted({f"{r.backend} {r.precision}" for r in skipped.itertuples()}))
        lines.append(f"Skipped (the reason is in each row's note): {names}.")
    return lines
