"""Tables and sentences of the method ablation, computed from its records (one per step and framework)."""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

from benchlib.studies.article.settings import ARTICLE_ORDER, DISPLAY_NAMES


def ablation_frame(source: str | os.PathLike | list[dict[str, Any]]) -> pd.DataFrame:
    """One row per (step, framework) of the newest ablation run in ``source`` (a file or the records)."""
    from benchlib.results.store import read_records

    records = source if isinstance(source, list) else read_records(source)[0]
    records = [r for r in records if r.get("protocol") == "ablation" and "step" in r]
    columns = ["step", "step_name", "backend", "framework", "status", "error", "latency_ms", "statistic",
               "cpu_percent", "memory_mb"]
    if not records:
        return pd.DataFrame(columns=columns)
    newest_run = records[-1].get("ablation_run")
    rows = [{"step": r["step"], "step_name": r.get("step_name"), "backend": r["backend"],
             "framework": DISPLAY_NAMES.get(r["backend"], r["backend"]), "status": r["status"],
             "error": r.get("error"), "latency_ms": r.get("latency_reported_ms"),
             "statistic": r.get("latency_statistic"), "cpu_percent": r.get("cpu_percent"),
             "memory_mb": r.get("memory_mb")}
            for r in records if r.get("ablation_run") == newest_run]
    frame = pd.DataFrame(rows, columns=columns)
    for column in ("latency_ms", "cpu_percent", "memory_mb"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame


def _order(columns: list[str]) -> list[str]:
    known = [DISPLAY_NAMES[f] for f in ARTICLE_ORDER if DISPLAY_NAMES[f] in columns]
    return known + [c for c in columns if c not in known]


def _pivot(frame: pd.DataFrame, value: str) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame()
    table = frame.pivot_table(index=["step", "step_name"], columns="framework", values=value, aggfunc="first")
    return table[_order(list(table.columns))].reset_index()


def latency_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Latency (ms) per step (rows) and framework (columns): the mean up to step 4, the p50 after."""
    table = _pivot(frame, "latency_ms")
    if not table.empty:
        statistic = frame.groupby("step")["statistic"].first()
        table.insert(2, "statistic", table["step"].map(statistic))
    return table


def ranking_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Each step's frameworks from fastest to slowest ("PyTorch < ONNX < ...")."""
    rows = []
    for (step, name), group in frame[frame["status"] == "ok"].groupby(["step", "step_name"]):
        ordered = group.sort_values("latency_ms")
        rows.append({"step": step, "step_name": name, "ranking": " < ".join(ordered["framework"]),
                     "fastest": ordered.iloc[0]["framework"],
                     "slowest / fastest": ordered.iloc[-1]["latency_ms"] / ordered.iloc[0]["latency_ms"]})
    return pd.DataFrame(rows)


def cpu_memory_table(frame: pd.DataFrame) -> pd.DataFrame:
    """CPU % and memory (MB) per framework at the first and the last step."""
    if frame.empty:
        return pd.DataFrame()
    first, last = frame["step"].min(), frame["step"].max()
    rows = []
    for framework, group in frame.groupby("framework"):
        before = group[group["step"] == first]
        after = group[group["step"] == last]
        if before.empty or after.empty:
            continue
        rows.append({"framework": framework, f"cpu % step {first}": before["cpu_percent"].iloc[0],
                     f"cpu % step {last}": after["cpu_percent"].iloc[0],
                     f"memory MB step {first}": before["memory_mb"].iloc[0],
                     f"memory MB step {last}": after["memory_mb"].iloc[0]})
    table = pd.DataFrame(rows)
    if not table.empty:
        table = table.set_index("framework").loc[_order(list(table["framework"]))].reset_index()
    return table


def step_sentences(frame: pd.DataFrame) -> list[str]:
    """One sentence per step: the framework whose latency moved most, with before, after and factor."""
    out = []
    ok = frame[frame["status"] == "ok"]
    steps = sorted(ok["step"].unique())
    for previous, step in zip(steps, steps[1:], strict=False):
        before = ok[ok["step"] == previous].set_index("framework")["latency_ms"]
        after = ok[ok["step"] == step].set_index("framework")["latency_ms"]
        common = before.index.intersection(after.index)
        if common.empty:
            continue
        ratio = (before[common] / after[common]).dropna()
        if ratio.empty:
            continue
        name = ok[ok["step"] == step]["step_name"].iloc[0]
        moved = ratio.apply(lambda r: max(r, 1 / r) if r > 0 else 0).idxmax()
        factor = ratio[moved]
        verb = "cut" if factor >= 1 else "raised"
        size = factor if factor >= 1 else 1 / factor
        others = ", ".join(f"{f} {before[f]:.3g}→{after[f]:.3g} ms" for f in common if f != moved)
        out.append(f"Step {step} ({name}) {verb} {moved}'s latency from {before[moved]:.3g} ms to "
                   f"{after[moved]:.3g} ms ({size:.1f}×); the others: {others}.")
    rank = ranking_table(frame)
    if len(rank) >= 2:
        out.append(f"The ranking went from {rank.iloc[0]['ranking']} (step {rank.iloc[0]['step']}) to "
                   f"{rank.iloc[-1]['ranking']} (step {rank.iloc[-1]['step']}); the spread between slowest and "
                   f"fastest from {rank.iloc[0]['slowest / fastest']:.0f}× "
                   f"to {rank.iloc[-1]['slowest / fastest']:.1f}×.")
    return out


def all_tables(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Every ablation table by file name."""
    return {"ablation_latency": latency_table(frame), "ablation_ranking": ranking_table(frame),
            "ablation_cpu_memory": cpu_memory_table(frame)}
