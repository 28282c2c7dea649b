"""Tables, the load curve and computed insights from scenario records (what the notebook and CLI show).

Every function takes records (:func:`scenario_records` reads the newest of each case from a results
file), so the notebook, the CLI and the report show the same numbers. Nothing here measures.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from typing import Any

import pandas as pd

from benchlib.scenarios.settings import LOADGEN_SCENARIOS

#: How sentences name the frameworks.
DISPLAY = {"numpy": "NumPy", "pytorch": "PyTorch", "tensorflow": "TensorFlow", "litert": "LiteRT", "jax": "JAX",
           "onnxruntime": "ONNX Runtime", "openvino": "OpenVINO"}

#: A configuration "wins" only by more than this factor: a few seconds of LoadGen on a shared 2-core
#: machine vary by several percent from run to run.
CLEAR_WIN = 1.10

NOT_MLPERF = ("These are not MLPerf-valid submissions: each LoadGen run lasts seconds, not LoadGen's official "
              "600 s, on a shared machine. LoadGen's own verdict (VALID/INVALID) and its early-stopping estimate "
              "are kept per run; the early-stopping estimate says how much the percentile could move given the "
              "number of queries run.")


def name(backend: str) -> str:
    return DISPLAY.get(backend, backend)


def scenario_records(results: str | os.PathLike | Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest record of each scenario case in ``results`` (a file, folder or records)."""
    from benchlib.results.records import latest

    if isinstance(results, str | os.PathLike):
        from benchlib.results.store import read_records

        records, _ = read_records(results) if os.path.exists(results) else ([], [])
    else:
        records = list(results)
    return [r for r in latest(records) if r.get("scenario") in LOADGEN_SCENARIOS]


def configuration(record: dict[str, Any]) -> str:
    """The concurrency configuration a record ran, in words (read back where the framework allows)."""
    conc = record.get("concurrency") if isinstance(record.get("concurrency"), dict) else {}  # odd files: anything
    strategy = conc.get("strategy")
    if strategy == "AsyncInferQueue":
        hint = str(conc.get("performance_hint") or record.get("variant") or "").lower()
        return f"{hint} hint: {conc.get('num_streams')} stream(s), {conc.get('requests_in_flight')} request(s)"
    if strategy == "asynchronous dispatch":
        return f"{conc.get('in_flight')} in flight"
    if strategy == "thread pool":
        unit = "session(s)" if conc.get("sessions") else "stream(s)"
        return f"{conc.get('streams')} {unit} × {conc.get('threads_per_stream') or 'default'} thread(s)"
    case = record.get("case") if isinstance(record.get("case"), dict) else {}
    extra = case.get("extra") if isinstance(case.get("extra"), dict) else {}
    streams = extra.get("streams")
    variant = f"{record.get('variant')} " if record.get("variant") else ""
    return f"{variant}{'auto' if streams is None else streams} stream(s), {record.get('threads') or 'default'} threads"


def _ok(records: Iterable[dict[str, Any]], scenario: str) -> list[dict[str, Any]]:
    return [r for r in records if r.get("status") == "ok" and r.get("scenario") == scenario]


def _figure(record: dict[str, Any]) -> float | None:
    """A record's headline figure when it can be compared: a finite number above 0 (else ``None``, never ranked)."""
    value = (record.get("metric") or {}).get("value") if isinstance(record.get("metric"), dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        return None
    return float(value)


def summary_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per record: scenario, framework, configuration, LoadGen's verdict and headline metric."""
    rows = []
    for r in records:
        loadgen = r.get("loadgen") or {}
        metric = r.get("metric") or {}
        rows.append({"scenario": r.get("scenario"), "backend": r.get("backend"), "model": r.get("model"),
                     "configuration": configuration(r), "status": r.get("status"),
                     "metric": metric.get("name"), "value": metric.get("value"), "unit": metric.get("unit"),
                     "loadgen verdict": loadgen.get("validity"), "queries": loadgen.get("query_count"),
                     "early stopping": loadgen.get("early_stopping_result")})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    order = {s: i for i, s in enumerate(LOADGEN_SCENARIOS)}
    return frame.sort_values(["scenario", "backend", "model"], key=lambda c: c.map(order) if c.name == "scenario"
                             else c, kind="stable").reset_index(drop=True)


def load_curve(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Every tried Server rate: offered load, completed rate, p99, LoadGen's verdict."""
    rows = []
    for r in _ok(records, "Server"):
        for tried in r.get("server_search") or []:
            rows.append({"backend": r["backend"], "model": r.get("model"), "configuration": configuration(r),
                         "offered_qps": tried.get("target_qps"),
                         "completed_qps": tried.get("completed_samples_per_sec"),
                         "p99_ms": tried.get("p99_ms"), "passed": tried.get("passed"),
                         "latency_bound_ms": r.get("latency_bound_ms")})
    return pd.DataFrame(rows)


def load_curve_figure(records: list[dict[str, Any]], model: str | None = None) -> Any:
    """p99 latency against offered load per framework and configuration (log-log), with the bound."""
    from matplotlib.figure import Figure

    from benchlib.report.figures import LINESTYLES, MARKERS, chart_text, colour

    curve = load_curve(records)
    if model is not None and not curve.empty:
        curve = curve[curve["model"] == model]
    fig = Figure(figsize=(9, 5.5))
    ax = fig.subplots()
    if curve.empty:
        ax.text(0.5, 0.5, "no Server runs", ha="center", va="center", transform=ax.transAxes)
        return fig
    seen: dict[str, int] = {}
    for (backend, config), group in curve.groupby(["backend", "configuration"], sort=True):
        index = seen[backend] = seen.get(backend, -1) + 1
        group = group.sort_values("offered_qps")
        ax.plot(group["offered_qps"], group["p99_ms"], color=colour(backend), marker=MARKERS[index % len(MARKERS)],
                linestyle=LINESTYLES[index % len(LINESTYLES)], label=chart_text(f"{name(backend)}: {config}"))
        failed = group[~group["passed"].astype(bool)]
        ax.scatter(failed["offered_qps"], failed["p99_ms"], color=colour(backend), marker="x", s=50, zorder=3)
    for bound in sorted(curve["latency_bound_ms"].dropna().unique()):
        ax.axhline(bound, color="black", linestyle="--", linewidth=1.2, label=f"p99 bound {bound:g} ms")
    where = f" ({chart_text(model)})" if model else ""
    ax.set(xscale="log", yscale="log", xlabel="offered load (queries/s, Poisson arrivals)", ylabel="p99 latency (ms)",
           title=f"Server scenario: p99 latency against offered load{where}; x = LoadGen: INVALID")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


def max_rate_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Highest rate within the bound per framework, model and configuration (best first per model)."""
    rows = [{"model": r.get("model"), "backend": r["backend"], "configuration": configuration(r),
             "bound_ms": r.get("latency_bound_ms"), "highest_qps_within_bound": r.get("server_max_qps"),
             "lowest_failing_qps": r.get("server_lowest_failing_qps"), "tries": len(r.get("server_search") or []),
             "result": r.get("server_result")} for r in _ok(records, "Server")]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    return frame.sort_values(["model", "highest_qps_within_bound"], ascending=[True, False],
                             na_position="last").reset_index(drop=True)


def _best(records: list[dict[str, Any]], scenario: str, higher: bool) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (model, backend), the record with the best headline value of ``scenario``."""
    best: dict[tuple[str, str], dict[str, Any]] = {}
    for r in _ok(records, scenario):
        value = _figure(r)
        if value is None:
            continue
        key = (r.get("model"), r["backend"])
        held = best.get(key)
        if held is None or (value > _figure(held) if higher else value < _figure(held)):
            best[key] = r
    return best


def tradeoff_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Per framework and model, each scenario's best configuration: latency beside throughput."""
    single = _best(records, "SingleStream", higher=False)
    multi = _best(records, "MultiStream", higher=False)
    offline = _best(records, "Offline", higher=True)
    server = _best(records, "Server", higher=True)
    rows = []
    for key in sorted(set(single) | set(multi) | set(offline) | set(server), key=lambda k: (str(k[0]), k[1])):
        def pick(table: dict, k: tuple = key) -> tuple[Any, str | None]:
            r = table.get(k)
            return (_figure(r), configuration(r)) if r else (None, None)

        (ss, ss_cfg), (ms, _), (off, off_cfg), (srv, srv_cfg) = pick(single), pick(multi), pick(offline), pick(server)
        rows.append({"model": key[0], "backend": key[1], "SingleStream p90 (ms)": ss, "MultiStream p99 (ms)": ms,
                     "Offline (samples/s)": off, "Server max qps within bound": srv,
                     "SingleStream best": ss_cfg, "Offline best": off_cfg, "Server best": srv_cfg})
    return pd.DataFrame(rows)


def insights(records: list[dict[str, Any]]) -> list[str]:
    """Sentences computed from the records: who serves most within the bound, and at what latency cost."""
    sentences = []
    table = tradeoff_table(records)
    for model, group in table.groupby("model") if not table.empty else []:
        served = group.dropna(subset=["Server max qps within bound"]).sort_values("Server max qps within bound",
                                                                                 ascending=False)
        bound = next((r.get("latency_bound_ms") for r in _ok(records, "Server") if r.get("model") == model), None)
        if len(served) >= 2:
            lead = served.iloc[0]
            for _, other in served.iloc[1:].iterrows():
                ratio = lead["Server max qps within bound"] / other["Server max qps within bound"]
                within = f"within {bound:g} ms" if isinstance(bound, int | float) else "within the bound"
                text = (f"{model}: {name(lead['backend'])} serves {ratio:.1f}× the queries of {name(other['backend'])} "
                        f"{within}")
                ss_lead, ss_other = lead["SingleStream p90 (ms)"], other["SingleStream p90 (ms)"]
                if pd.notna(ss_lead) and pd.notna(ss_other) and ss_other > 0:
                    rel = ss_lead / ss_other
                    text += (f" although its single-stream latency is {rel:.1f}× slower" if rel > 1.05 else
                             f" and its single-stream latency is {1 / rel:.1f}× faster" if rel < 0.95 else
                             " with about the same single-stream latency")
                sentences.append(text + ".")
        fastest = group.dropna(subset=["SingleStream p90 (ms)"]).sort_values("SingleStream p90 (ms)")
        most = group.dropna(subset=["Offline (samples/s)"]).sort_values("Offline (samples/s)", ascending=False)
        if not fastest.empty and not most.empty and fastest.iloc[0]["backend"] != most.iloc[0]["backend"]:
            sentences.append(f"{model}: the lowest single-stream latency ({name(fastest.iloc[0]['backend'])}, "
                             f"{fastest.iloc[0]['SingleStream p90 (ms)']:.3g} ms p90) and the highest offline "
                             f"throughput ({name(most.iloc[0]['backend'])}, {most.iloc[0]['Offline (samples/s)']:,.0f} "
                             "samples/s) come from different frameworks: the ranking depends on the deployment.")
        no_rate = [r for r in _ok(records, "Server") if r.get("model") == model and r.get("server_max_qps") is None]
        for r in no_rate:
            sentences.append(f"{model}: {name(r['backend'])} ({configuration(r)}): {r.get('server_result')}.")
    sentences += configuration_insights(records)
    return sentences


def configuration_insights(records: list[dict[str, Any]]) -> list[str]:
    """Which configuration wins per framework, scenario and model (when more than one ran)."""
    sentences = []
    for scenario, higher in (("Offline", True), ("Server", True), ("SingleStream", False)):
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for r in _ok(records, scenario):
            if _figure(r) is not None:  # a missing, NaN, infinite or zero figure is never ranked
                groups.setdefault((r.get("model"), r["backend"]), []).append(r)
        for (model, backend), runs in sorted(groups.items(), key=lambda item: (str(item[0][0]), item[0][1])):
            if len(runs) < 2:
                continue
            runs = sorted(runs, key=_figure, reverse=higher)
            best, worst = runs[0], runs[-1]
            ratio = _figure(best) / _figure(worst) if higher else _figure(worst) / _figure(best)
            if ratio < CLEAR_WIN:
                sentences.append(f"{model} {scenario}: {name(backend)}'s configurations are within "
                                 f"{(ratio - 1) * 100:.0f}% of each other: inside the noise of these short runs.")
                continue
            sentences.append(f"{model} {scenario}: {name(backend)} does best with {configuration(best)} "
                             f"({ratio:.2f}× {'more' if higher else 'lower latency'} than {configuration(worst)}).")
    return sentences


def not_measured_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Skipped and failed cases with the reason."""
    rows = [{"scenario": r.get("scenario"), "backend": r.get("backend"), "model": r.get("model"),
             "configuration": configuration(r), "status": r.get("status"), "reason": r.get("error")}
            for r in records if r.get("status") != "ok"]
    return pd.DataFrame(rows)


def validity_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """LoadGen's verdict per run, with the early-stopping numbers and the minimums used."""
    rows = []
    for r in records:
        if r.get("status") != "ok":
            continue
        lg = r.get("loadgen") or {}
        rows.append({"scenario": r["scenario"], "backend": r["backend"], "configuration": configuration(r),
                     "verdict": lg.get("validity"), "min duration (ms)": lg.get("effective_min_duration_ms"),
                     "min queries": lg.get("effective_min_query_count"), "queries": lg.get("query_count"),
                     "early stopping met": lg.get("early_stopping_met"),
                     "early-stopping p90 (ms)": lg.get("early_stopping_p90_ms"),
                     "early-stopping p99 (ms)": lg.get("early_stopping_p99_ms"),
                     "why invalid": lg.get("invalid_reason")})
    return pd.DataFrame(rows)
