"""Is A really faster than B? One rule for every view: :func:`compare_records`.

A record measured in interleaved rounds (:mod:`benchlib.engine.rounds`) keeps each block's median and its
round number (``rounds.block_ms``, ``rounds.round``) and the id of the rounds it shared with other cases
(``rounds.group``). :func:`compare_records` hands them to :func:`benchlib.engine.round_stats.compare_samples`:

* both records measured in the same rounds (one ``rounds.group``): the interval of the per-round ratios
  A/B, paired (both saw the same machine state in each round);
* records of different runs: unpaired, each side's rounds resampled on their own;
* a side with fewer than two rounds, or a record measured without rounds (a fixed-time protocol such as
  the article's or the ablation's, a LoadGen scenario, a record from an older run: one round as far as
  the variation between runs goes): "cannot tell", never a verdict.

The verdict is ``faster`` (A's interval of the ratio lies below 1), ``slower``, ``tie`` or ``cannot
tell``. Everything that says "faster" uses it: the comparison table's rank and ties
(:func:`tie_groups`), the insights, the models matrix, the sweep's summary and best variants, the
precision speed-ups, the machine views and ``compare BASE NEW`` (:func:`compare_runs`). The call-level
interval of one process (``within_process``) is a diagnostic only and decides nothing.

Round data read from a file is checked before it is compared (:func:`rounds_problem`): a flat list of
block medians (numbers, not true/false, each finite, above 0 and at most a day) with one whole round
number each, no round twice, whose median is the record's own ``latency_ms.p50``. A record that fails
is reported as unusable with the reason, never compared.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from benchlib.engine import round_stats as rs
from benchlib.engine.params import MAX_SECONDS
from benchlib.results.records import case_identity

#: The verdicts of :func:`compare_records`, for A relative to B.
FASTER, SLOWER, TIE, CANNOT_TELL = rs.FASTER, rs.SLOWER, rs.TIE, rs.CANNOT_TELL
VERDICTS = (FASTER, SLOWER, TIE, CANNOT_TELL)
#: Longest plausible block median in milliseconds: no call lasts longer than a case may run.
MAX_BLOCK_MS = MAX_SECONDS * 1000.0
#: A record's ``latency_ms.p50`` is the median of its block medians: only rounding may part them.
P50_TOLERANCE = 1e-6
#: The flat columns (:func:`benchlib.results.store.flatten`) a table needs to compare its rows.
ROUND_COLUMNS = ("latency_ms.p50", "rounds.group", "rounds.block_ms", "rounds.round", "rounds.interval.halfwidth")
#: Where a record keeps the relative half-width of its median's interval over rounds (the ``±95%`` column).
HALFWIDTH_FIELD = "rounds.interval.halfwidth"
#: Why a record without rounds gets no verdict.
NO_ROUNDS = ("measured without interleaved rounds (a fixed-time protocol, a LoadGen scenario or an older run): "
             "one round, so no interval between runs")


def _field(record: Mapping[str, Any], dotted: str) -> Any:
    """``record``'s value at ``dotted`` (``rounds.block_ms``), nested (a record) or flat (a frame's row)."""
    if dotted in record:
        return record[dotted]
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _present(value: Any) -> bool:
    """Whether a cell holds something (a frame holds a missing list as NaN)."""
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def has_rounds(record: Mapping[str, Any]) -> bool:
    """Whether ``record`` was measured in interleaved rounds (it stores its block medians)."""
    return _present(_field(record, "rounds.block_ms"))


def rounds_problem(record: Mapping[str, Any]) -> str | None:
    """Why ``record``'s round data cannot be compared, or ``None`` when it can (or when it has none).

    The data comes from a file, so it is checked as a command-line value would be (see the module's
    docstring), so that a comparison never contradicts the median ``report`` shows.
    """
    blocks, rounds = _field(record, "rounds.block_ms"), _field(record, "rounds.round")
    if not _present(blocks):
        if isinstance(_field(record, "rounds"), Mapping) and _field(record, "rounds"):
            return "it was measured in rounds but stores no block medians (rounds.block_ms is missing)"
        return None
    allowed = f"allowed: a flat list of block medians in milliseconds, each above 0 and at most {MAX_BLOCK_MS:.0f}"
    if not isinstance(blocks, list | tuple | np.ndarray):
        return f"rounds.block_ms={_shown(blocks)} is not a list; {allowed}"
    for index, value in enumerate(blocks):
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            kind = "a list (nested values)" if isinstance(value, list) else type(value).__name__
            return f"rounds.block_ms[{index}]={_shown(value)} is {kind}, not a number; {allowed}"
        if not (math.isfinite(value) and 0.0 < value <= MAX_BLOCK_MS):
            return f"rounds.block_ms[{index}]={value!r} is impossible; {allowed}"
    if not isinstance(rounds, list | tuple | np.ndarray) or len(rounds) != len(blocks):
        return (f"rounds.round={_shown(rounds)} does not give one round number per block; allowed: a list of "
                f"{len(blocks)} whole numbers")
    for index, value in enumerate(rounds):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
            return f"rounds.round[{index}]={_shown(value)} is not a round number; allowed: a whole number from 0"
    if len(set(int(v) for v in rounds)) != len(rounds):
        return "rounds.round names a round twice; allowed: one block per round"
    p50 = _field(record, "latency_ms.p50")
    if not _present(p50) or len(blocks) == 0:
        return None
    if isinstance(p50, bool) or not isinstance(p50, int | float | np.number) or not (math.isfinite(p50) and p50 > 0):
        return f"latency_ms.p50={_shown(p50)} is impossible; allowed: a finite number of milliseconds above 0"
    median = float(np.median(np.asarray(blocks, dtype=float)))
    if abs(median / p50 - 1.0) > P50_TOLERANCE:
        return (f"its block medians disagree with its own p50: their median is {median:.6g} ms, latency_ms.p50 is "
                f"{p50:.6g} ms; the blocks or the p50 were changed after the run")
    return None


def median_of(record: Mapping[str, Any]) -> float:
    """The record's median (``latency_ms.p50``) as a finite number, or NaN."""
    value = _field(record, "latency_ms.p50")
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return float("nan")
    return float(value) if math.isfinite(value) else float("nan")


def between_rounds_halfwidth(record: Mapping[str, Any]) -> float | None:
    """The relative half-width of the median's 95% interval over rounds; ``None`` without one (no rounds,
    or a single round). The within-process interval is never returned: it is not the number's precision."""
    value = _field(record, HALFWIDTH_FIELD)
    if isinstance(value, bool) or not isinstance(value, int | float | np.number) or not math.isfinite(value):
        return None
    return float(value)


def _group(record: Mapping[str, Any]) -> str | None:
    value = _field(record, "rounds.group")
    return str(value) if isinstance(value, str) and value else None


def compare_records(a: Mapping[str, Any], b: Mapping[str, Any], *, paired: bool | None = None,
                    level: float = 0.95, seed: int = 0, names: tuple[str, str] = ("A", "B")) -> rs.Comparison:
    """How A's time compares with B's (ratio A/B, its interval, the verdict for A): the one rule for "faster".

    ``a`` and ``b`` are records, or rows of a flat results frame. ``paired`` defaults to whether they
    share ``rounds.group``; ``compare BASE NEW`` passes ``False`` (two runs). A record without rounds,
    with unusable round data (:func:`rounds_problem`) or with fewer than two rounds gets "cannot tell";
    the reason names the side by ``names``.
    """
    ratio = median_of(a) / median_of(b) if median_of(b) > 0 else float("nan")
    nan = float("nan")
    for side, record in zip(names, (a, b), strict=True):
        problem = rounds_problem(record)
        if problem is not None:
            return rs.Comparison(ratio, nan, nan, CANNOT_TELL, False, 0, f"{side}: {problem}")
    if not has_rounds(a) or not has_rounds(b):
        missing = [side for side, record in zip(names, (a, b), strict=True) if not has_rounds(record)]
        who = f"{missing[0]} was" if len(missing) == 1 else "both were"
        return rs.Comparison(ratio, nan, nan, CANNOT_TELL, False, 1, f"{who} {NO_ROUNDS}")
    same = _group(a) is not None and _group(a) == _group(b)
    together = same if paired is None else paired
    result = rs.compare_samples(list(_field(a, "rounds.block_ms")), list(_field(a, "rounds.round")),
                                list(_field(b, "rounds.block_ms")), list(_field(b, "rounds.round")),
                                paired=together, level=level, seed=seed)
    if result.verdict == CANNOT_TELL and not math.isfinite(result.ratio):
        result = replace(result, ratio=ratio)
    return result


def describe(comparison: rs.Comparison, a_name: str = "A", b_name: str = "B") -> str:
    """One sentence a reader can trust: a winner only where the rule gives one."""
    if comparison.verdict == CANNOT_TELL:
        return f"cannot tell whether {a_name} or {b_name} is faster: {comparison.reason}"
    how = (f"ratio {comparison.ratio:.3f}, 95% interval {comparison.low:.3f}-{comparison.high:.3f} over "
           f"{comparison.rounds} {'paired ' if comparison.paired else ''}rounds")
    if comparison.verdict == TIE:
        return f"{a_name} and {b_name} are indistinguishable at this precision ({how})"
    factor = 1.0 / comparison.ratio if comparison.verdict == FASTER else comparison.ratio
    return f"{a_name} is {factor:.2f}x {comparison.verdict} than {b_name} ({how})"


def tie_groups(records: Sequence[Mapping[str, Any]], **options: Any) -> list[list[int]]:
    """Positions of ``records`` grouped by :func:`compare_records`, fastest median first.

    Walking from the fastest, a record joins the current group unless the rule says that group's
    leader (its fastest member) is faster; "cannot tell" ties. Records without a finite median are
    left out.
    """
    order = sorted((i for i in range(len(records)) if not math.isnan(median_of(records[i]))),
                   key=lambda i: median_of(records[i]))
    groups: list[list[int]] = []
    for index in order:
        if groups and compare_records(records[groups[-1][0]], records[index], **options).verdict != FASTER:
            groups[-1].append(index)
            continue
        groups.append([index])
    return groups


# -- two result sets ----------------------------------------------------------------------------------

@dataclass
class RunComparison:
    """Case-by-case comparison of two result sets (``compare BASE NEW``)."""

    rows: list[dict] = field(default_factory=list)  # one per case measured ok on both sides
    only_base: list[dict] = field(default_factory=list)  # newest record of cases only in BASE
    only_new: list[dict] = field(default_factory=list)
    other_machine: list[dict] = field(default_factory=list)  # pairs left out: different machines
    not_ok: list[dict] = field(default_factory=list)  # pairs where either side is not ok
    #: pairs left out because a record's round data is unusable: {"case", "problems": {"BASE"|"NEW": reason}}
    unusable: list[dict] = field(default_factory=list)

    def regressions(self, min_change: float) -> list[dict]:
        """Rows the rule calls slower, by at least ``min_change``."""
        return [r for r in self.rows if r["verdict"] == SLOWER and abs(r["ratio"] - 1.0) >= min_change]


def case_label(record: dict) -> str:
    """``backend/variant model b=N t=T`` for tables."""
    variant = f"/{record.get('variant')}" if record.get("variant") else ""
    threads = record.get("threads")
    precision = record.get("precision")  # shown unless float32: a reduced precision is never unlabelled
    shown = f" {precision}" if isinstance(precision, str) and precision != "fp32" else ""
    return (f"{record.get('backend')}{variant} {record.get('model')} b={record.get('batch_size')}"
            f" t={threads if threads is not None else 'default'}{shown}")


def _newest_by_measured_case(records: list[dict]) -> dict[str, dict]:
    # A case is what was measured (benchlib.results.records.case_identity): timing settings (minimum time,
    # precision target) are left out on purpose, so a run with a longer loop or another target still matches.
    newest: dict[str, dict] = {}
    for _, record in sorted(enumerate(records), key=lambda item: (str(item[1].get("created") or ""), item[0])):
        newest[case_identity(record)] = record
    return newest


def compare_runs(base: list[dict], new: list[dict], across_machines: bool = False, **options: Any) -> RunComparison:
    """Match the newest record of each measured case (its case identity) on both sides; compare their rounds.

    Two runs share no rounds, so each pair is compared unpaired (:func:`compare_records` with
    ``paired=False``); a side with one round (no rounds stored) gives "cannot tell". Pairs measured on
    different machines (:func:`benchlib.system.env.machine_key`) are compared only with ``across_machines``,
    and then each row lists the fingerprint fields that differ.
    """
    from benchlib.system.env import fingerprint_differences, machine_key

    old, now = _newest_by_measured_case(base), _newest_by_measured_case(new)
    result = RunComparison()
    result.only_base = [r for key, r in old.items() if key not in now]
    result.only_new = [r for key, r in now.items() if key not in old]
    for key, a in old.items():
        b = now.get(key)
        if b is None:
            continue
        if a.get("status") != "ok" or b.get("status") != "ok":
            result.not_ok.append({"case": case_label(b), "base": a.get("status"), "new": b.get("status")})
            continue
        differs = fingerprint_differences(a.get("env"), b.get("env"))
        same_machine = machine_key(a.get("env")) == machine_key(b.get("env"))
        if not same_machine and not across_machines:
            result.other_machine.append({"case": case_label(b), "differs": differs})
            continue
        # each side is judged on its own: one side's bad round data is never blamed on the other
        problems = {side: why for side, record in (("BASE", a), ("NEW", b))
                    if (why := rounds_problem(record)) is not None}
        if problems:
            result.unusable.append({"case": case_label(b), "problems": problems})
            continue
        comparison = compare_records(b, a, paired=False, names=("NEW", "BASE"), **options)  # NEW relative to BASE
        result.rows.append({"case": case_label(b), "base_p50_ms": median_of(a), "new_p50_ms": median_of(b),
                            **comparison.to_dict(),
                            "fingerprint_differs": ", ".join(f"{k}: {x} -> {y}" for k, (x, y) in differs.items())})
    return result
