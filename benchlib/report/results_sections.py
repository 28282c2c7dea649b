"""The sections of a results page (:mod:`benchlib.report.results_page`), each a list of Markdown lines.

Every table is built by the function the notebooks and the HTML report use (the comparison table, the models
matrix, the precision table, the scenario tables); this module only chooses the records, names the columns
for people and writes Markdown. Text from records is escaped: a page shows it, never renders it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from benchlib.report.display import escape_markdown, halfwidth_text, label
from benchlib.report.tables import to_markdown
from benchlib.studies.compare import between_rounds_halfwidth

#: A table longer than this is folded (``<details>``), so the page stays readable.
FOLD_ROWS = 30
#: The ISA flags a summary names by themselves (the rest are counted by family).
BASE_ISA = ("sse4_2", "avx", "avx2", "fma", "f16c")


def _frame_text(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with record text escaped for Markdown (numbers untouched)."""
    return df.apply(lambda column: column.map(lambda v: escape_markdown(v) if isinstance(v, str) else v)
                    if column.dtype == object else column)


def table(df: pd.DataFrame, caption: str = "", constant: Iterable[str] = ()) -> list[str]:
    """``df`` as a Markdown table for people: columns named with units, ``constant`` columns that hold one
    value in every row named once above it instead, folded when long."""
    if df.empty:
        return []
    same = [c for c in constant if c in df.columns and df[c].astype(str).nunique() == 1 and len(df) > 1]
    notes = [f"{label(c)} {escape_markdown(str(df[c].iloc[0]))}" for c in same]
    shown = _frame_text(df.drop(columns=same)).rename(columns=label)
    above = " ".join(part for part in (caption, "All rows: " + ", ".join(notes) + "." if notes else "") if part)
    body = to_markdown(shown, max_cell=160)
    if len(df) > FOLD_ROWS:
        body = f"<details><summary>{len(df)} rows</summary>\n\n{body}\n\n</details>"
    return ([above, ""] if above else []) + [body, ""]


def _env(records: list[dict[str, Any]]) -> dict[str, Any]:
    newest = max(records, key=lambda r: str(r.get("created") or ""))
    return newest.get("env") if isinstance(newest.get("env"), dict) else {}


def cpu_name(env: dict[str, Any]) -> str:
    return escape_markdown(str(env.get("cpu_model") or "unknown CPU"))


def engine_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The flat frame of the fair-measurement records (protocol ``engine``): what the comparison ranks."""
    from benchlib.results.store import flatten

    kept = [r for r in records if r.get("protocol", "engine") == "engine"]
    return pd.DataFrame([flatten(r) for r in kept])


def summary(root: Path, count: int, others: int, problems: list[str], mode: str, how: str) -> str:
    """The page's first paragraph: where the records came from and which run made them."""
    run = {"quick": "the quick suite run (`make reproduce QUICK=1`)", "full": "the full suite run (`make reproduce`)",
           "commands": "single commands, not a suite run"}[mode]
    text = f"{count} records from `{escape_markdown(str(root))}`, measured by {run} ({escape_markdown(how)})."
    if others:
        text += f" {others} records of other machines in the folder are left out: one page describes one machine."
    if problems:
        text += f" {len(problems)} lines could not be read and are left out."
    return text


def isa_summary(flags: Iterable[str]) -> str:
    """The ISA flags in one line: the base vector extensions by name, AVX-512, VNNI, BF16 and AMX by family."""
    flags = sorted(set(flags))
    base = [f.upper() for f in BASE_ISA if f in flags]
    parts = [", ".join(base)] if base else []
    avx512 = [f for f in flags if f.startswith("avx512")]
    parts.append(f"AVX-512 ({len(avx512)} extensions)" if avx512 else "no AVX-512")
    for family, word in (("vnni", "VNNI"), ("bf16", "BF16"), ("amx", "AMX")):
        found = [f for f in flags if family in f]
        parts.append(f"{word}: {', '.join(found)}" if found else f"no {word}")
    return "; ".join(parts) if flags else "none recorded"


def _loads(records: list[dict[str, Any]]) -> str:
    envs = [r["env"] for r in records if isinstance(r.get("env"), dict)]
    before = sorted({float(e["load_avg_before_batch"]) for e in envs
                     if isinstance(e.get("load_avg_before_batch"), int | float)})
    during = [float(e["load_avg"][0]) for e in envs if isinstance(e.get("load_avg"), list) and e["load_avg"]]
    busy = sum(1 for r in records if any(str(w).startswith("busy machine") for w in r.get("warnings") or []))
    span = f"{min(during):.2f}" + (f"–{max(during):.2f}" if during and max(during) > min(during) else "") \
        if during else ""
    text = f"1-minute load average {span} at the runs' starts" if during else "load average not recorded"
    if before:
        text += f"; before the batch: {', '.join(f'{v:.2f}' for v in before)}"
    return text + f"; {busy} of {len(records)} records warn of a busy machine"


def machine(records: list[dict[str, Any]]) -> list[str]:
    """The machine's fingerprint, from the newest record (the load from all of them)."""
    env = _env(records)
    threads = dict(env.get("thread_env") or {})
    coretype = threads.pop("OPENBLAS_CORETYPE", None)
    cores = ", ".join(f"{n} {env.get(k)}" for k, n in (("physical_cores", "physical"), ("logical_cores", "logical"),
                                                       ("usable_cores", "usable")) if env.get(k) is not None)
    quota = env.get("cpu_quota_cores")
    memory = env.get("memory_total_mb")
    rows = [("CPU", cpu_name(env)), ("ISA flags", isa_summary(env.get("isa_flags") or [])),
            ("all ISA flags", escape_markdown(" ".join(env.get("isa_flags") or [])) or "–"),
            ("cores", cores + (f"; CPU quota {quota:g} cores" if isinstance(quota, int | float) else "")),
            ("memory", f"{memory / 1024:.1f} GiB" if isinstance(memory, int | float) else "–"),
            ("OPENBLAS_CORETYPE", escape_markdown(str(coretype)) if coretype else "unset (or not recorded)"),
            ("thread variables", escape_markdown(", ".join(f"{k}={v}" for k, v in threads.items())) or "none set"),
            ("load", _loads(records)),
            ("system", escape_markdown(f"{env.get('os', '')} {env.get('kernel', '')}, Python {env.get('python', '')}"))]
    return ["## Machine", "", "| what | value |", "| --- | --- |", *(f"| {k} | {v} |" for k, v in rows), ""]


def frameworks(records: list[dict[str, Any]]) -> list[str]:
    """Installed framework versions and what each measured (cases by status)."""
    from benchlib.results.records import status_counts

    versions = _env(records).get("frameworks") or {}
    rows = []
    backends = sorted({str(r.get("backend")) for r in records if r.get("backend")})
    for name in backends:
        mine = [r for r in records if r.get("backend") == name]
        counts = status_counts(mine)
        # the version the backend itself reported (its package can be named otherwise: torch, ai-edge-litert)
        built = sorted({str(r["framework_version"]) for r in mine if r.get("framework_version")})
        rows.append({"framework": name, "version": ", ".join(built) or versions.get(name) or "–",
                     **{status: counts.get(status, 0) for status in ("ok", "failed", "skipped")}})
    packages = ", ".join(f"{name} {version}" for name, version in sorted(versions.items())
                         if version and name not in backends)
    lines = ["## Frameworks", "", *table(pd.DataFrame(rows), "Records per framework, by status.")]
    return lines + ([f"Other packages in the environment: {escape_markdown(packages)}.", ""] if packages else [])


def _values(records: list[dict[str, Any]], get: Any) -> str:
    found = []
    for record in records:
        try:
            value = get(record)
        except (AttributeError, KeyError, TypeError):
            continue
        if value is not None and value not in found:
            found.append(value)
    shown = sorted(found, key=str)
    return escape_markdown(", ".join(map(str, shown))) if shown else "–"


def settings(records: list[dict[str, Any]], mode: str) -> list[str]:
    """What was measured and how: protocols, models, batch sizes, threads, precisions, loop and round settings."""
    rows = [("suite run", {"quick": "quick (`make reproduce QUICK=1`)", "full": "full (`make reproduce`)",
                           "commands": "none (single commands)"}[mode]),
            ("protocols", _values(records, lambda r: r["protocol"])),
            ("scenarios", _values(records, lambda r: r.get("scenario") or "single")),
            ("models", _values(records, lambda r: r["model"])),
            ("batch sizes", _values(records, lambda r: int(r["batch_size"]))),
            ("threads", _values(records, lambda r: "default" if r["threads"] is None else r["threads"])),
            ("variants", _values(records, lambda r: r["variant"])),
            ("precisions", _values(records, lambda r: r.get("precision") or "fp32")),
            ("precision target (±, fraction of the median)", _values(records, lambda r: r["case"]["target_ci"])),
            ("minimum loop time (s)", _values(records, lambda r: r["case"]["min_time_s"])),
            ("maximum loop time (s)", _values(records, lambda r: r["case"]["max_time_s"])),
            ("interleaved rounds: block (s), processes", _values(
                records, lambda r: f"{r['rounds']['block_s']:g} s × {r['rounds']['processes']}"))]
    return ["## Settings", "", "| setting | values |", "| --- | --- |", *(f"| {k} | {v} |" for k, v in rows), ""]


def comparison(frame: pd.DataFrame) -> list[str]:
    """Every single-call case ranked by median, with its ±95% half-width and ties (``comparison_table``)."""
    from benchlib.report.tables import comparison_table

    lines = ["## Comparison", "",
             "One row per case (the newest record of each), ranked within each model and batch size; `1=` is a tie "
             "(the one rule for \"faster\", the 95% interval over rounds of the time ratio, does not separate the "
             "row from its rank's fastest; a row measured without rounds cannot be told apart, so it ties). ± is "
             "the half-width of the median's 95% interval over rounds.", ""]
    ranked = comparison_table(frame) if not frame.empty else pd.DataFrame()
    return lines + (table(ranked, constant=("machine", "model", "precision", "threads", "status"))
                    or ["No single-call case in the folder.", ""])


def models(frame: pd.DataFrame) -> list[str]:
    """The model × framework matrices (``models_matrix.ranking_matrices``), when more than one model was measured."""
    from benchlib.report import models_matrix as matrix

    measured = frame["model"].nunique() if "model" in frame.columns else 0
    if measured < 2:
        return ["## Models", "", "One model measured: its cases are in the comparison above.", ""]
    matrices = matrix.ranking_matrices(frame)
    p50 = matrix.with_halfwidth(matrices["p50_batch1_ms"], matrices["p50_batch1_halfwidth"])
    ratios = {"The median at batch 1, × the fastest framework's.": matrices["p50_batch1_vs_fastest"],
              "Time per sample at the model's largest batch, × the fastest framework's.":
                  matrices["throughput_largest_vs_fastest"]}
    lines = ["## Models", "", *table(p50.reset_index(), "Median at batch 1 (ms) and its ±95% half-width over rounds.")]
    for caption, values in ratios.items():
        shown = values.map(lambda v: f"{v:.2f}×" if pd.notna(v) and math.isfinite(v) else "not run")
        lines += table(shown.reset_index(), caption)
    return lines + [f"- {escape_markdown(s)}" for s in matrix.ranking_insights(frame)] + [""]


def precision(records: list[dict[str, Any]]) -> list[str]:
    """Reduced precisions beside their fp32 baselines (``precision.precision_table``)."""
    from benchlib.report.precision import PAIR_FIELDS, measured_rows, precision_table, skipped_table
    from benchlib.results.records import case_identity

    def pair(record: dict[str, Any]) -> str:
        return f"{record.get('env_key')}|{case_identity(record, PAIR_FIELDS)}"

    engine = [r for r in records if r.get("protocol", "engine") == "engine"]
    reduced = {pair(r) for r in engine if (r.get("precision") or "fp32") != "fp32"}
    if not reduced:
        return ["## Precision", "", "Every case ran in fp32.", ""]
    data = precision_table([r for r in engine if pair(r) in reduced])
    lines = ["## Precision", "", *table(measured_rows(data), "Speed-up over the same framework's fp32 and the share "
                                        "of decisions equal to the float64 reference.",
                                        constant=("model", "threads", "status"))]
    return lines + table(skipped_table(data), "Not measured, with the reason.")


def scenarios(records: list[dict[str, Any]]) -> list[str]:
    """LoadGen's scenarios (``scenarios.summary_table`` and the Server rates), never ranked with single calls."""
    from benchlib.report import scenarios as report

    runs = report.scenario_records(records)
    if not runs:
        return ["## Scenarios", "", "No LoadGen scenario run.", ""]
    summary_rows = report.summary_table(runs).drop(columns=["early stopping"], errors="ignore")
    return ["## Scenarios", "", *table(summary_rows, "LoadGen's headline figure per run (short runs: not "
                                                     "MLPerf-valid submissions).", constant=("model", "status")),
            *table(report.max_rate_table(runs), "Server: the highest arrival rate within the p99 bound.")]


def noise_audit(records: list[dict[str, Any]]) -> list[str]:
    """The machine's speed levels per group of interleaved rounds, idle CPU, steal and throttling."""
    lines = ["## Noise audit: machine speed levels", ""]
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        rounds = record.get("rounds")
        if isinstance(rounds, dict) and rounds.get("group"):
            groups.setdefault(str(rounds["group"]), []).append(record)
    rows = []
    for group, members in groups.items():
        levels = next((r.get("machine_levels") for r in members if isinstance(r.get("machine_levels"), dict)), {})
        shares, ratios = levels.get("shares") or [1.0], levels.get("ratios") or [1.0]
        rows.append({"group": group[:8], "cases": len(members),
                     "rounds": max(int(r["rounds"].get("n") or 0) for r in members),
                     "processes per case": max(int(r["rounds"].get("processes") or 0) for r in members),
                     "two levels": bool(levels.get("split")),
                     "slow rounds": f"{shares[-1]:.0%}" if levels.get("split") else "–",
                     "slow level": f"{ratios[-1]:.2f}× the fast" if levels.get("split") else "–",
                     "near even": bool(levels.get("near_even")),
                     "idle CPU, most": f"{max(float(r['rounds'].get('idle_cpu_share') or 0) for r in members):.1%} "
                                       "of a core",
                     "stop": str(members[0]["rounds"].get("stop") or "")})
    if rows:
        split = sum(1 for row in rows if row["two levels"])
        lines += [f"{len(rows)} group(s) of interleaved rounds; the machine ran at two speed levels in {split} of them "
                  "(*Machine states* in docs/measurement.md). Where it did, rankings rest on the paired ratios.", "",
                  *table(pd.DataFrame(rows))]
    else:
        lines += ["No case was measured in interleaved rounds (fixed-time loops, or one process per case): the "
                  "page cannot say whether the machine switched speed levels. `benchlib env` probes for it.", ""]
    steal = sum(float((r.get("noise") or {}).get("steal_s") or 0) for r in records)
    throttled = sum(int((r.get("noise") or {}).get("nr_throttled") or 0) for r in records)
    noisy = sum(1 for r in records if r.get("noisy") is True)
    spread = [w for w in (between_rounds_halfwidth(r) for r in records) if w is not None]
    widest = f"; the widest ±95% half-width over rounds {halfwidth_text(max(spread))}" if spread else ""
    lines += [f"Over the timed loops: CPU steal {steal:.2f} s, {throttled} throttled quota periods; {noisy} of "
              f"{len(records)} records flagged noisy{widest}.", ""]
    return lines
