"""Cross-machine views: one table per machine, and each framework's p50 on every machine side by side.

Milliseconds from two machines answer "which machine is faster for this framework", never "which
framework is faster": that question is answered within one machine, by the ratio to the fastest
framework of the same case there and by tie groups (frameworks the one rule for "faster" cannot tell
apart share a group, :func:`benchlib.studies.compare.tie_groups`; a record without rounds ties). So the
cross-machine table holds,
per machine, the p50 *and* that machine's ratio and tie group, no rank across machines, and the
views always carry the fingerprint fields in which the machines differ, to be shown beside it.

Machines are told apart by :func:`benchlib.system.env.machine_key` (CPU model, ISA flags, cores, quota),
so records from any source (``fleet``, ``sweep`` or ``run`` on each machine, merged) can be shown.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from benchlib.results.records import case_identity, case_value

if TYPE_CHECKING:
    import pandas as pd

#: The fields that say what the framework measured: the case fields (:data:`benchlib.results.schema.CASE_FIELDS`)
#: but backend and variant (the ``framework`` column), in the order the tables show them.
CASE_FIELDS: tuple[str, ...] = ("model", "batch_size", "threads", "protocol", "precision", "scenario")


@dataclass
class MachineViews:
    """The per-machine and cross-machine tables of a set of records (see :func:`machine_views`).

    ``machines``: one row per machine, indexed by a short id (``M1``, ``M2``, ...): its name
    (:func:`benchlib.results.records.machine_of`), machine key, hosts and number of (case, framework) results.
    ``per_machine``: machine id -> one row per (case, framework): p50 and its 95% interval over rounds (ms;
    empty for a record measured without rounds),
    ``ratio`` (p50 over the fastest framework's p50 in the same case on the same machine, so 1 is
    the fastest) and ``tie group`` (1 = the fastest group; equal numbers are a tie).
    ``cross``: one row per (case, framework); per machine id ``M`` its ``p50 (ms) M``, ``ratio M`` and
    ``tie group M``.
    ``differences``: the fingerprint fields in which the machines differ (index: field; one column per
    machine id; ISA flags as those beyond the flags all machines share). Empty for one machine.
    """

    machines: pd.DataFrame
    per_machine: dict[str, pd.DataFrame] = field(default_factory=dict)
    cross: pd.DataFrame | None = None
    differences: pd.DataFrame | None = None

    def markdown(self) -> str:
        """Every table as Markdown: machines, one section per machine, then the differences and the cross table."""
        from benchlib.report.tables import to_markdown

        if self.machines.empty:
            return "(no successful records)"
        parts = ["## Machines", "", to_markdown(self.machines.reset_index())]
        for machine_id, table in self.per_machine.items():
            parts += ["", f"## {machine_id}: {self.machines.loc[machine_id, 'machine']}", "",
                      "ratio: p50 over the fastest framework's p50 in the same case on this machine; "
                      "equal tie groups cannot be told apart.", "", to_markdown(table)]
        if len(self.machines) > 1:
            parts += ["", "## How the machines differ", "",
                      to_markdown(self.differences.reset_index()) if self.differences is not None
                      and not self.differences.empty else "(their fingerprints agree on every machine field)",
                      "", "## Each framework's p50 per machine", "",
                      "Compare ratios and tie groups within a machine; milliseconds across machines compare the "
                      "machines (see how they differ above), not the frameworks.", "", to_markdown(self.cross)]
        return "\n".join(parts)


def _records(source: Iterable[dict[str, Any]] | str | os.PathLike) -> Iterable[dict[str, Any]]:
    if isinstance(source, str | os.PathLike):
        from benchlib.results.store import iter_records

        return iter_records(source)
    return source


def _framework(record: dict[str, Any]) -> str:
    variant = record.get("variant")
    return f"{record.get('backend')}/{variant}" if variant else str(record.get("backend"))


def _case_key(record: dict[str, Any]) -> str:
    return case_identity(record, CASE_FIELDS)


def _case_order(record: dict[str, Any]) -> tuple[tuple[int, float, str], ...]:
    """Sort key of a case: numbers by value (batch 8 before 64), text by name, unset last."""
    def part(value: Any) -> tuple[int, float, str]:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return (0, float(value), "")
        return (1, 0.0, str(value)) if value is not None else (2, 0.0, "")

    return tuple(part(case_value(record, name)) for name in CASE_FIELDS)


#: How an unset case field (threads: the framework's default) is shown.
UNSET = "-"


def _newest_ok(records: Iterable[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The newest record of each (machine key, case, framework); kept only when it is ``ok``.

    A case whose newest record failed has no current number on that machine, so none is shown.
    """
    from benchlib.system.env import machine_key

    newest: dict[tuple[str, str, str], tuple[tuple[str, int], dict[str, Any]]] = {}
    for position, record in enumerate(records):
        key = machine_key(record.get("env"))
        if key is None:
            continue  # a record without a fingerprint belongs to no known machine
        slot = (key, _case_key(record), _framework(record))
        rank = (str(record.get("created") or ""), position)
        if slot not in newest or rank >= newest[slot][0]:
            newest[slot] = (rank, record)
    return {slot: record for slot, (_, record) in newest.items() if record.get("status") == "ok"
            and isinstance(record.get("latency_ms"), dict) and record["latency_ms"].get("p50")}


def _hosts(records: list[dict[str, Any]]) -> str:
    names = sorted({str((r.get("fleet") or {}).get("host") or "this machine") for r in records})
    return ", ".join(names)


def _machine_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """One machine's rows with ratio to the fastest and tie group, per case."""
    import pandas as pd

    from benchlib.studies.compare import has_rounds, tie_groups

    out = []
    by_case: dict[str, list[dict[str, Any]]] = {}
    for record in rows:
        by_case.setdefault(_case_key(record), []).append(record)
    for _, records in sorted(by_case.items(), key=lambda item: _case_order(item[1][0])):
        fastest = min(r["latency_ms"]["p50"] for r in records)
        names = [_framework(r) for r in records]
        # the one rule: unusable round data, or none, gives "cannot tell", which ties
        groups = tie_groups(records)
        group_of = {names[i]: number for number, group in enumerate(groups, start=1) for i in group}
        for record, name in sorted(zip(records, names, strict=True), key=lambda item: item[0]["latency_ms"]["p50"]):
            # the interval over rounds only: a record without rounds has none to show
            ci = ((record.get("latency_ci95_ms") or {}).get("p50") if has_rounds(record) else None) or [None, None]
            warnings = record.get("warnings") or []
            case = {f: UNSET if case_value(record, f) is None else case_value(record, f) for f in CASE_FIELDS}
            out.append({**case, "framework": name,
                        "p50 (ms)": record["latency_ms"]["p50"], "p50 lo (ms)": ci[0], "p50 hi (ms)": ci[1],
                        "ratio": record["latency_ms"]["p50"] / fastest, "tie group": group_of.get(name),
                        "host": _hosts([record]),
                        "co-located": any(str(w).startswith("co-located") for w in warnings)})
    return pd.DataFrame(out)


def _flag_extras(flags: Any, common: set[str]) -> str:
    extra = sorted(set(flags or []) - common)
    return " ".join(f"+{f}" for f in extra) if extra else "(shared flags only)"


def _differences(envs: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Fingerprint fields that differ between machines: one row per field, one column per machine id."""
    import pandas as pd

    from benchlib.system.env import MACHINE_FIELDS

    rows: dict[str, dict[str, Any]] = {}
    ids = list(envs)
    for name in (*MACHINE_FIELDS, "memory_total_mb", "kernel", "python"):
        values = {i: envs[i].get(name) for i in ids}
        if len({repr(v) for v in values.values()}) <= 1:
            continue
        if name == "isa_flags":
            common = set.intersection(*(set(v or []) for v in values.values()))
            values = {i: _flag_extras(v, common) for i, v in values.items()}
        rows[name] = values
    frameworks = sorted({n for env in envs.values() for n in (env.get("frameworks") or {})})
    for name in frameworks:
        values = {i: (envs[i].get("frameworks") or {}).get(name) for i in ids}
        if len(set(values.values())) > 1:
            rows[f"frameworks.{name}"] = values
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=ids)
    frame.index.name = "field"
    return frame.astype(object).where(frame.notna(), "absent")


def machine_views(records: Iterable[dict[str, Any]] | str | os.PathLike) -> MachineViews:
    """Per-machine tables and the cross-machine table of ``records`` (records, or a results file/folder).

    Uses the newest record of each (machine, case, framework), where it is ``ok``. Machines are
    numbered M1, M2, ... in the order of their first record.
    """
    import pandas as pd

    from benchlib.results.records import machine_of

    newest = _newest_ok(_records(records))
    order: list[str] = []
    by_machine: dict[str, list[dict[str, Any]]] = {}
    for (key, _, _), record in newest.items():
        if key not in by_machine:
            order.append(key)
        by_machine.setdefault(key, []).append(record)
    ids = {key: f"M{number}" for number, key in enumerate(order, start=1)}
    envs = {ids[key]: max(by_machine[key], key=lambda r: str(r.get("created") or ""))["env"] for key in order}
    machines = pd.DataFrame([{"id": ids[key], "machine": machine_of(by_machine[key][0]) or key, "machine_key": key,
                              "hosts": _hosts(by_machine[key]), "results": len(by_machine[key])} for key in order],
                            columns=["id", "machine", "machine_key", "hosts", "results"]).set_index("id")
    per_machine = {ids[key]: _machine_table(by_machine[key]) for key in order}
    cross = _cross(per_machine)
    present = [c for c in CASE_FIELDS if cross[c].ne(UNSET).any()]  # drop case fields no record sets
    cross = cross.drop(columns=[c for c in CASE_FIELDS if c not in present])
    per_machine = {i: t.drop(columns=[c for c in CASE_FIELDS if c not in present]) for i, t in per_machine.items()}
    return MachineViews(machines=machines, per_machine=per_machine, cross=cross,
                        differences=_differences(envs) if len(envs) > 1 else pd.DataFrame())


def _cross(per_machine: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per (case, framework) seen on any machine; per machine its p50, ratio and tie group."""
    import pandas as pd

    index = [*CASE_FIELDS, "framework"]
    quantities = ("p50 (ms)", "ratio", "tie group")
    rows: dict[tuple[str, ...], dict[str, Any]] = {}
    for machine_id, table in per_machine.items():
        for row in table.to_dict("records"):
            entry = rows.setdefault(tuple(str(row[c]) for c in index), {c: row[c] for c in index})
            entry.update({f"{q} {machine_id}": row[q] for q in quantities})

    def order(entry: dict[str, Any]) -> tuple:
        unset = {c: None if entry[c] == UNSET else entry[c] for c in CASE_FIELDS}
        return (_case_order(unset), str(entry["framework"]))

    columns = [*index, *(f"{q} {m}" for m in per_machine for q in quantities)]
    frame = pd.DataFrame(sorted(rows.values(), key=order), columns=columns)
    for machine_id in per_machine:  # whole numbers, None where the machine has no such result
        column = f"tie group {machine_id}"
        frame[column] = pd.Series([None if pd.isna(v) else int(v) for v in frame[column]], dtype=object)
    return frame
