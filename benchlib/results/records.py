"""Record rules in one place: which cases are done, and which record of a case counts.

Resume (the launcher), sweeps, notebooks and every table use these two rules, so a count, a
chart and a table built from the same file always agree on what a case's result is.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas only when a frame is given: run workers never need it
    import pandas as pd

PathLike = str | os.PathLike

#: What identifies a case when a record has no ``case_key`` (records from elsewhere).
CASE_IDENTITY: tuple[str, ...] = ("model", "backend", "variant", "batch_size", "threads", "protocol")
#: Statuses that mean "measured": a resumed run does not repeat these cases.
OK_ONLY: tuple[str, ...] = ("ok",)
#: Statuses after which re-running in the same environment cannot teach anything new: a variant a
#: framework version cannot run (``skipped``) stays unrunnable while the environment key, which
#: includes the framework versions, is the same. Sweeps resume with these.
SETTLED: tuple[str, ...] = ("ok", "skipped")


def done_keys(results: PathLike | Iterable[dict[str, Any]], env_key: str,
              statuses: Sequence[str] = OK_ONLY) -> set[str]:
    """``case_key`` of every record in ``results`` with one of ``statuses``, measured in ``env_key``.

    ``results`` is a results file or folder (a missing one has no done cases) or records.
    """
    if isinstance(results, str | os.PathLike):
        if not Path(results).exists():
            return set()
        from benchlib.results.store import read_records

        records, _ = read_records(results)
    else:
        records = list(results)
    return {r["case_key"] for r in records
            if r.get("status") in statuses and r.get("env_key") == env_key and r.get("case_key")}


def record_identity(record: dict[str, Any]) -> str:
    """The key under which records of one case are the same case: ``case_key``, else identity fields."""
    key = record.get("case_key")
    if isinstance(key, str) and key:
        return key
    return "|".join(str(record.get(field)) for field in CASE_IDENTITY)


def latest(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest record of each case (by ``created``, then file order), in first-seen (file) order."""
    items = list(records)
    first_seen: dict[str, int] = {}
    for position, record in enumerate(items):
        first_seen.setdefault(record_identity(record), position)
    newest: dict[str, dict[str, Any]] = {}
    for _, record in sorted(enumerate(items), key=lambda item: (str(item[1].get("created") or ""), item[0])):
        newest[record_identity(record)] = record
    return [newest[key] for key in sorted(newest, key=first_seen.__getitem__)]


def latest_rows(frame: pd.DataFrame, identity: Sequence[str] | None = None) -> pd.DataFrame:
    """The newest row of each case in a flat results frame (:func:`benchlib.results.load`).

    Rows are ordered by ``created`` (stable, so file order breaks ties); a case is its
    ``case_key`` where present, else the ``identity`` columns (default :data:`CASE_IDENTITY`).
    """
    if frame is None or frame.empty:
        return frame
    data = frame
    if "created" in data.columns and data["created"].notna().any():
        data = data.sort_values("created", kind="stable")
    columns = [c for c in (identity or CASE_IDENTITY) if c in data.columns]
    fallback = data[columns].astype(str).agg("|".join, axis=1) if columns else data.index.astype(str)
    if identity is None and "case_key" in data.columns:
        key = data["case_key"].where(data["case_key"].notna() & data["case_key"].astype(bool), fallback)
    else:
        key = fallback
    return data[~key.duplicated(keep="last")]
