"""LoadGen scenario records beside the others: their own table, never ranked with single calls.

A Server record's p50 is the latency of queries arriving at a rate the search chose, and its
result is a rate within a latency bound (or "no rate met the bound"): ranking it with the engine's
one-call-at-a-time medians would compare different quantities. Wherever records are shown together
(``benchlib report``, the comparison notebook, the report), scenario records are listed here: one
row per scenario case, keyed by its scenario and settings (two Server runs with different bounds
are two rows), with LoadGen's headline figure and its result in words.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from benchlib.report.tables import _col, finite, one_per_case, scenario_mask

#: The scenario settings a record keeps (``scenario_settings.<name>``; :class:`ScenarioSettings` fields).
SETTINGS = ("latency_bound_ms", "target_qps", "streams", "samples_per_query", "min_duration_s", "min_queries",
            "max_tries", "sample_count")
#: Flat columns the table reads (what ``benchlib report`` keeps of each record besides the comparison's).
SCENARIO_COLUMNS = ("scenario", "metric.name", "metric.value", "metric.unit", "server_result", "server_max_qps",
                    "latency_bound_ms", "loadgen.validity", *(f"scenario_settings.{name}" for name in SETTINGS))
COLUMNS = ["model", "backend", "variant", "precision", "batch_size", "threads", "scenario", "settings", "status",
           "metric", "value", "unit", "result"]
#: What a reader of the table needs to know (its caption and the line above it in ``report``).
CAPTION = ("LoadGen scenario runs: one row per scenario and its settings; not ranked with the single-call "
           "cases above (a scenario's figure is a rate or a percentile under load, not one call's median).")


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and pd.isna(value))


def _count(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


def settings_text(row: pd.Series) -> str:
    """A scenario's settings in words ("p99 bound 10 ms, 2 stream(s)"); "–" when the record has none."""
    def get(name: str) -> Any:
        value = row.get(f"scenario_settings.{name}")
        if not _present(value) and name == "latency_bound_ms":
            value = row.get("latency_bound_ms")  # Server records also keep the bound at the top level
        return value if _present(value) else None

    parts = []
    scenario = row.get("scenario")
    if scenario == "Server" and get("latency_bound_ms") is not None:
        parts.append(f"p99 bound {_count(get('latency_bound_ms'))} ms")
    if scenario == "Server" and get("target_qps") is not None:
        parts.append(f"fixed rate {_count(get('target_qps'))} queries/s")
    if scenario == "MultiStream" and get("samples_per_query") is not None:
        parts.append(f"{_count(get('samples_per_query'))} samples/query")
    if get("streams") is not None:
        parts.append(f"{_count(get('streams'))} stream(s)")
    if get("min_duration_s") is not None:
        parts.append(f"at least {_count(get('min_duration_s'))} s")
    if get("min_queries") is not None:
        parts.append(f"at least {_count(get('min_queries'))} queries")
    return ", ".join(parts) or "–"


def _result(row: pd.Series) -> str:
    """The run's result in words: the Server search's verdict, LoadGen's, or why nothing was measured."""
    if row.get("status") != "ok":
        return str(row.get("error") or "") if _present(row.get("error")) else ""
    if _present(row.get("server_result")):
        return str(row["server_result"])
    if row.get("scenario") == "Server" and not _present(row.get("server_max_qps")):
        return "no rate met the bound"
    validity = row.get("loadgen.validity")
    return f"LoadGen: {validity}" if _present(validity) else ""


def scenario_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per LoadGen scenario case in a flat results frame (the newest record of each), never ranked.

    ``value`` is LoadGen's headline figure in ``unit`` (p90 or p99 latency, samples/s, or the highest
    rate within the bound); a failed or skipped run shows no figure, only its reason in ``result``,
    and an ok run whose figure is missing, NaN or infinite shows it as such. Empty when no row is a
    scenario record.
    """
    if frame is None or frame.empty:
        return pd.DataFrame(columns=COLUMNS)
    data = frame[scenario_mask(frame)]
    if data.empty:
        return pd.DataFrame(columns=COLUMNS)
    data = one_per_case(data.copy())
    ok = _col(data, "status").eq("ok")
    value = pd.to_numeric(_col(data, "metric.value"), errors="coerce").astype(float)
    table = pd.DataFrame({
        "machine": _col(data, "machine").fillna("").astype(str),
        **{c: _col(data, c) for c in ("model", "backend", "variant", "precision", "batch_size", "threads",
                                      "scenario")},
        "settings": [settings_text(row) for _, row in data.iterrows()],
        "status": _col(data, "status"),
        "metric": _col(data, "metric.name").where(ok),
        "value": value.where(ok),  # a failed or skipped run measured nothing
        "unit": _col(data, "metric.unit").where(ok),
        "result": [_result(row) for _, row in data.iterrows()],
    })
    table["precision"] = table["precision"].where(table["precision"].notna(), "fp32")
    table["threads"] = table["threads"].astype(object).where(table["threads"].notna(), "default")
    columns = list(COLUMNS)
    if table["machine"][table["machine"] != ""].nunique() > 1:
        columns.insert(0, "machine")
    order = {name: index for index, name in enumerate(("SingleStream", "MultiStream", "Offline", "Server"))}
    table = table.assign(_scenario=table["scenario"].map(order).fillna(len(order)),
                         _value=finite(table["value"]))
    table = table.sort_values(["machine", "model", "_scenario", "scenario", "backend", "settings", "_value"],
                              kind="stable", na_position="last", key=lambda c: c.astype(str)
                              if c.name not in ("_scenario", "_value") else c)
    return table[columns].reset_index(drop=True)
