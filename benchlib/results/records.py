"""Record rules in one place: what case a record measured, which statuses settle it, and which record of a
case counts.

Resume (:mod:`benchlib.results.resume`), sweeps, notebooks, ``compare``, the fleet views and every table use
these rules, so a count, a chart and a table built from the same file always agree on what a case and its
result are. Rules over records only: reading files is :mod:`benchlib.results.store`'s, which uses them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from benchlib.results.schema import CASE_DEFAULTS, CASE_FIELDS

if TYPE_CHECKING:  # pandas only when a frame is given: run workers never need it
    import pandas as pd

#: Statuses that mean "measured": a resumed run does not repeat these cases.
OK_ONLY: tuple[str, ...] = ("ok",)
#: Statuses after which re-running in the same environment cannot teach anything new: a variant a
#: framework version cannot run (``skipped``) stays unrunnable while the environment key, which
#: includes the framework versions, is the same. Sweeps resume with these.
SETTLED: tuple[str, ...] = ("ok", "skipped")


def status_counts(records: Iterable[dict[str, Any]]) -> dict[str, int]:
    """How many of ``records`` have each status (``"?"`` for a record without one), in order of first sight."""
    out: dict[str, int] = {}
    for record in records:
        status = record.get("status", "?")
        out[status] = out.get(status, 0) + 1
    return out


def case_value(record: dict[str, Any], name: str) -> Any:
    """Case field ``name`` of ``record`` (:data:`~benchlib.results.schema.CASE_FIELDS`) as a case names it.

    A field the record leaves unset means what it meant before that dimension existed
    (:data:`~benchlib.results.schema.CASE_DEFAULTS`: float32, one call at a time); an object is not a case
    value (records from before the rename kept how the timed loop stopped under ``precision``).
    """
    value = record.get(name)
    if isinstance(value, dict | list) or value is None or (isinstance(value, float) and math.isnan(value)):
        return CASE_DEFAULTS.get(name)
    return value


def case_identity(record: dict[str, Any], fields: Sequence[str] = CASE_FIELDS) -> str:
    """What case ``record`` measured, as text: its ``fields`` (default: every case field) joined by ``|``.

    Two records with the same identity measured the same thing, whatever the length of their timed loops.
    An unset field (a variant-less backend, the framework's default threads) is empty.
    """
    return "|".join("" if (value := case_value(record, name)) is None else str(value) for name in fields)


def case_identities(frame: pd.DataFrame, fields: Sequence[str] = CASE_FIELDS) -> pd.Series:
    """:func:`case_identity` of every row of a flat results frame (a field the frame lacks is unset)."""
    import pandas as pd

    parts = []
    for name in fields:
        column = frame[name].astype(object) if name in frame.columns else pd.Series(None, frame.index, object)
        column = column.where(column.notna(), CASE_DEFAULTS.get(name))
        parts.append(column.where(column.notna(), "").astype(str))
    if not parts:
        return pd.Series("", frame.index, object)
    return pd.concat(parts, axis=1).agg("|".join, axis=1)


def case_key(record: dict[str, Any]) -> str:
    """The key resume and the newest-record rule match a record by: its stored ``case_key`` (the hash of its
    :class:`~benchlib.engine.case.RunCase`, every case field included), else its :func:`case_identity`
    (a record from elsewhere)."""
    key = record.get("case_key")
    return key if isinstance(key, str) and key else case_identity(record)


def machine_of(record: dict[str, Any]) -> str | None:
    """The machine a record was measured on, e.g. ``"AMD EPYC, 2 CPUs [3fa2c1]"``; ``None`` if unknown.

    Two records share a machine exactly when :func:`benchlib.system.env.machine_key` of their ``env`` is the
    same (CPU model, ISA flags, usable and logical cores, CPU quota): the label ends with that key, so
    records from different machines are never taken for one case, while a framework upgrade on the
    same machine (a new environment key) still replaces the older record of a case. A flat row
    (:func:`benchlib.results.store.flatten`) carries the label in its ``machine`` column.
    """
    given = record.get("machine")
    if isinstance(given, str) and given:
        return given
    env = record.get("env")
    if not isinstance(env, dict) or not env:
        return None
    from benchlib.system.env import machine_key

    model = env.get("cpu_model") if isinstance(env.get("cpu_model"), str) else "unknown CPU"
    cpus = env.get("usable_cores") or env.get("logical_cores")
    count = f", {cpus:g} CPUs" if isinstance(cpus, int | float) and not isinstance(cpus, bool) else ""
    return f"{model}{count} [{(machine_key(env) or '')[:6]}]"


def record_identity(record: dict[str, Any]) -> str:
    """The key under which records are the same case: :func:`case_key` and machine."""
    key = case_key(record)
    machine = machine_of(record)
    return f"{key}@{machine}" if machine else key


def latest(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest record of each case (by ``created``, then file order), in first-seen (file) order.

    Streams: only the newest record of each case is held, so a large folder costs memory per case.
    """
    first_seen: dict[str, int] = {}
    newest: dict[str, tuple[tuple[str, int], dict[str, Any]]] = {}
    for position, record in enumerate(records):
        key = record_identity(record)
        first_seen.setdefault(key, position)
        rank = (str(record.get("created") or ""), position)
        if key not in newest or rank >= newest[key][0]:
            newest[key] = (rank, record)
    return [newest[key][1] for key in sorted(newest, key=first_seen.__getitem__)]


def latest_rows(frame: pd.DataFrame, identity: Sequence[str] | None = None) -> pd.DataFrame:
    """The newest row of each case in a flat results frame (:func:`benchlib.results.load`).

    Rows are ordered by ``created`` (stable, so file order breaks ties); a case is its :func:`case_key`
    (``case_key`` where present, else :func:`case_identities`), or the given ``identity`` columns, on one
    machine (the ``machine`` column, when present).
    """
    if frame is None or frame.empty:
        return frame
    data = frame
    if "created" in data.columns and data["created"].notna().any():
        data = data.sort_values("created", kind="stable")
    if identity is None:
        fallback = case_identities(data)
    else:
        columns = [c for c in identity if c in data.columns]
        fallback = data[columns].astype(str).agg("|".join, axis=1) if columns else data.index.astype(str)
    if identity is None and "case_key" in data.columns:
        key = data["case_key"].where(data["case_key"].notna() & data["case_key"].astype(bool), fallback)
    else:
        key = fallback
    if "machine" in data.columns:  # records from different machines are never one case
        machine = data["machine"]
        key = key.where(machine.isna() | machine.eq(""), key.astype(str) + "@" + machine.astype(str))
    return data[~key.duplicated(keep="last")]
