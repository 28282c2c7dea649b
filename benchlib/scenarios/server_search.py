"""The Server scenario's search: the highest Poisson arrival rate whose p99 latency stays within the bound.

LoadGen decides every step: a rate passes when its run is ``VALID`` (p99 within the bound, the
early-stopping estimate satisfied, enough queries in the minimum duration) and fails otherwise. The
search starts at half the rate the warm-up burst sustained, doubles until a rate fails (or halves
until one passes, not below :func:`lowest_rate`), then bisects (geometrically) between the highest
passing and the lowest failing rate until they are within :data:`PRECISION` of each other or the
tries run out. Every tried rate
is kept (the load curve: p99 against offered load); a search where no rate passed says so and names
the lowest rate tried, which is a result, not an error.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

#: Stop when the lowest failing rate is within this factor of the highest passing one.
PRECISION = 1.1
#: The first rate tried, as a fraction of the warm-up burst's samples per second.
START_FRACTION = 0.5
#: Rates below this (queries per second) are not tried.
MIN_RATE = 0.5
#: Nor rates so low that issuing the run's minimum query count would take longer than this many times
#: the minimum duration (or 5 s): a bound missed at such rates is a tail-latency problem, not load.
MAX_RUN_FACTOR = 10.0


def lowest_rate(settings: Any) -> float:
    """The lowest rate the search tries: :data:`MIN_RATE`, or the minimum queries in the longest run allowed."""
    return max(MIN_RATE, settings.queries / max(5.0, MAX_RUN_FACTOR * settings.min_duration_s))

#: Fields of each LoadGen run kept in the record's ``server_search`` list.
TRY_FIELDS = ("validity", "perf_constraints_met", "early_stopping_met", "min_duration_met", "min_queries_met",
              "overlatency_query_count", "query_count", "scheduled_samples_per_sec", "completed_samples_per_sec",
              "invalid_reason", "early_stopping_result", "errors", "log_dir", "wall_s")


def try_row(rate: float, summary: dict[str, Any]) -> dict[str, Any]:
    """One tried rate: LoadGen's verdict, its p50/p99 and rates, where its logs are."""
    latency = summary.get("latency_ms") or {}
    row = {"target_qps": rate, "passed": summary.get("validity") == "VALID",
           "p50_ms": latency.get("p50"), "p99_ms": latency.get("p99")}
    row.update({key: summary.get(key) for key in TRY_FIELDS})
    return row


def next_rate(rate: float, highest_pass: float | None, lowest_fail: float | None) -> float:
    """The next rate to try: double, halve, or the geometric middle of the bracket."""
    if lowest_fail is None:
        return rate * 2
    if highest_pass is None:
        return rate / 2
    return math.sqrt(highest_pass * lowest_fail)


def search(harness: Any, calibration: Any, log_root: Path) -> dict[str, Any]:
    """Run the search (or one run at the settings' fixed ``target_qps``); record fields.

    Returns ``server_search`` (every try), ``server_max_qps`` (the highest passing rate or None),
    ``server_result`` (a sentence) and ``best`` (LoadGen's summary of the run the record reports:
    the highest passing rate, else the lowest tried).
    """
    settings = harness.settings
    fixed = settings.target_qps
    floor = lowest_rate(settings)
    rate = fixed if fixed is not None else max(floor, START_FRACTION * calibration.samples_per_s)
    tries: list[dict[str, Any]] = []
    summaries: dict[float, dict[str, Any]] = {}
    highest_pass: float | None = None
    lowest_fail: float | None = None
    for index in range(1 if fixed is not None else settings.max_tries):
        summary = harness.run(calibration, log_root / f"try-{index + 1:02d}-{rate:.1f}qps", target_qps=rate)
        summaries[rate] = summary
        row = try_row(rate, summary)
        tries.append(row)
        if row["passed"]:
            highest_pass = rate if highest_pass is None else max(highest_pass, rate)
        else:
            lowest_fail = rate if lowest_fail is None else min(lowest_fail, rate)
        if highest_pass is not None and lowest_fail is not None and lowest_fail / highest_pass <= PRECISION:
            break
        rate = next_rate(rate, highest_pass, lowest_fail)
        if rate < floor:
            if min(summaries) <= floor * 1.001:
                break
            rate = floor  # one last try at the lowest rate allowed
    bound = settings.latency_bound_ms
    if highest_pass is not None:
        best = summaries[highest_pass]
        result = (f"{highest_pass:.1f} queries/s met the p99 bound of {bound:g} ms"
                  + (f"; {lowest_fail:.1f} queries/s did not" if lowest_fail is not None else
                     "; no tried rate failed (the highest may be higher)"))
    else:
        lowest = min(summaries)
        best = summaries[lowest]
        result = f"no rate met the bound of {bound:g} ms (lowest rate tried: {lowest:.1f} queries/s)"
        if fixed is None and lowest <= floor * 1.001:
            result += (f"; lower rates were not tried: issuing {settings.queries} queries would take more than "
                       f"{settings.queries / floor:.0f} s (raise --min-duration-s or lower --min-queries)")
    return {"server_search": sorted(tries, key=lambda row: row["target_qps"]), "server_max_qps": highest_pass,
            "server_lowest_failing_qps": lowest_fail, "server_result": result, "best": best}
