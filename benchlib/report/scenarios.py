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

from benchlib.report.display import significant
from benchlib.scenarios.settings import LOADGEN_SCENARIOS

#: How sentences name the frameworks.
DISPLAY = {"numpy": "NumPy", "pytorch": "PyTorch", "tensorflow": "TensorFlow", "litert": "LiteRT", "jax": "JAX",
           "onnxruntime": "ONNX Runtime", "openvino": "OpenVINO"}

#: Why an order of scenario records is stated as measured, never as a winner: LoadGen records hold no
#: interleaved rounds, so the one rule for "faster" (:func:`benchlib.studies.compare.compare_records`)
#: cannot tell any two of them apart.
ONE_RUN = "each scenario is one LoadGen run per case, so the order is measured, not a tested verdict"

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


def _rate(record: dict[str, Any]) -> str:
    """A Server record's highest rate within the bound with the search's bracket: the lowest rate that failed."""
    failed = record.get("server_lowest_failing_qps")
    above = (f"{significant(failed)} failed" if isinstance(failed, int | float) and not isinstance(failed, bool)
             else "no rate tried failed: a lower bound")
    return f"{significant(_figure(record))} queries/s ({above})"


def _early_stopping(records: list[dict[str, Any]]) -> str:
    """LoadGen's early-stopping p90 estimates of SingleStream records (how far the p90 could move), or ""."""
    values = [(r.get("loadgen") or {}).get("early_stopping_p90_ms") if isinstance(r.get("loadgen"), dict) else None
              for r in records]
    if any(not isinstance(v, int | float) or isinstance(v, bool) for v in values):
        return ""
    return f"; LoadGen's early-stopping estimate{'s' if len(values) > 1 else ''} " + \
        " and ".join(f"{significant(v)} ms" for v in values)


def insights(records: list[dict[str, Any]]) -> list[str]:
    """Sentences computed from the records: the measured order of the frameworks within the bound, beside
    their single-stream latency, and of each framework's configurations.

    LoadGen records hold no interleaved rounds, so the one rule for "faster"
    (:func:`benchlib.studies.compare.compare_records`) gives no verdict between them: every order here is
    stated as measured (:data:`ONE_RUN`), with the intervals LoadGen's records do hold (the Server
    search's bracket, the early-stopping estimate), never as a winner.
    """
    sentences = []
    single, offline = _best(records, "SingleStream", higher=False), _best(records, "Offline", higher=True)
    server = _best(records, "Server", higher=True)
    for model in sorted({key[0] for key in (*single, *offline, *server)}, key=str):
        served = sorted((r for key, r in server.items() if key[0] == model), key=_figure, reverse=True)
        bound = served[0].get("latency_bound_ms") if served else None
        within = f"within {bound:g} ms" if isinstance(bound, int | float) else "within the bound"
        for other in served[1:]:  # each against the highest measured rate
            lead = served[0]
            text = (f"{model}: {name(lead['backend'])}'s highest measured rate {within}, {_rate(lead)}, is "
                    f"{_figure(lead) / _figure(other):.1f}× {name(other['backend'])}'s, {_rate(other)}")
            pair = [single.get((model, r["backend"])) for r in (lead, other)]
            if all(pair):
                text += (f", and its single-stream p90 is {_figure(pair[0]) / _figure(pair[1]):.2f}× "
                         f"{name(other['backend'])}'s ({significant(_figure(pair[0]))} ms against "
                         f"{significant(_figure(pair[1]))} ms{_early_stopping(pair)})")
            sentences.append(f"{text}; {ONE_RUN}.")
        fastest = sorted((r for key, r in single.items() if key[0] == model), key=_figure)
        most = sorted((r for key, r in offline.items() if key[0] == model), key=_figure, reverse=True)
        if fastest and most and fastest[0]["backend"] != most[0]["backend"]:
            sentences.append(f"{model}: the lowest measured single-stream p90 ({name(fastest[0]['backend'])}, "
                             f"{significant(_figure(fastest[0]))} ms{_early_stopping(fastest[:1])}) and the highest "
                             f"measured offline throughput ({name(most[0]['backend'])}, "
                             f"{significant(_figure(most[0]))} samples/s) come from different frameworks; "
                             f"{ONE_RUN}.")
        no_rate = [r for r in _ok(records, "Server") if r.get("model") == model and r.get("server_max_qps") is None]
        for r in no_rate:
            sentences.append(f"{model}: {name(r['backend'])} ({configuration(r)}): {r.get('server_result')}.")
    sentences += configuration_insights(records)
    return sentences


def configuration_insights(records: list[dict[str, Any]]) -> list[str]:
    """Each framework's configurations per scenario and model in measured order (when more than one ran),
    with the spread between the first and the last: one LoadGen run each, so no verdict (:data:`ONE_RUN`)."""
    sentences = []
    for scenario, higher, unit in (("Offline", True, "samples/s"), ("Server", True, "queries/s"),
                                   ("SingleStream", False, "ms p90")):
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for r in _ok(records, scenario):
            if _figure(r) is not None:  # a missing, NaN, infinite or zero figure is never ordered
                groups.setdefault((r.get("model"), r["backend"]), []).append(r)
        for (model, backend), runs in sorted(groups.items(), key=lambda item: (str(item[0][0]), item[0][1])):
            if len(runs) < 2:
                continue
            runs = sorted(runs, key=_figure, reverse=higher)
            first, last = runs[0], runs[-1]
            spread = _figure(first) / _figure(last) if higher else _figure(last) / _figure(first)
            order = ", ".join(f"{configuration(r)} {significant(_figure(r))} {unit}" for r in runs)
            sentences.append(f"{model} {scenario}: {name(backend)}'s configurations in measured order, "
                             f"{'highest' if higher else 'lowest'} first: {order} ({spread:.2f}× apart); "
                             f"{ONE_RUN}.")
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
