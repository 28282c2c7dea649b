"""Is A really faster than B? The ratio of two medians with a bootstrap 95% interval, and a verdict.

Every ``ok`` record stores its per-call samples (``samples_ms``, uniformly thinned to at most
10,000, which only widens the interval). The bootstrap distribution of a sample median has a
closed form: if ``x(1) <= ... <= x(n)`` are the sorted samples, the median ``m``-th order
statistic of a resample is at most ``x(k)`` with probability ``P(Binomial(n, k/n) >= m)``. Drawing
from that distribution gives exactly what resampling would, in O(n) instead of O(n × draws), so
the comparison of two 10,000-sample records takes milliseconds.

The verdict compares the interval of ``new / base`` with 1: ``faster`` when it lies entirely below,
``slower`` when entirely above, otherwise ``indistinguishable`` (a tie at this precision).

Samples read from a results file are checked before they are compared (:func:`samples_problem`):
a flat list of numbers (not true/false), each finite, above 0 and at most a day, whose median agrees
with the record's own ``latency_ms.p50``. A record that fails is reported as unusable with the
reason, never compared.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from benchlib.engine.params import MAX_SECONDS
from benchlib.results.records import case_identity

#: Draws of each side's bootstrap median (the interval's percentiles come from these).
DEFAULT_DRAWS = 4000
CONFIDENCE = 0.95
VERDICTS = ("faster", "slower", "indistinguishable")
#: Fewest samples a record needs to be compared (an interval needs a few).
MIN_SAMPLES = 3
#: Longest plausible call in milliseconds: a case's loop lasts at most MAX_SECONDS, so no call is longer.
MAX_SAMPLE_MS = MAX_SECONDS * 1000.0
#: The stored samples' median may differ from the record's ``latency_ms.p50`` by this fraction. The
#: p50 is computed on every call and the samples are a uniform thinning of them (at most 10,000), whose
#: median moves by far less; a larger gap means the samples or the percentiles were changed.
P50_TOLERANCE = 0.05
#: ... or the p50 may lie anywhere between these percentiles of the samples: with a gap in the
#: distribution at its median (two modes), a thinned median can sit on the other side of the gap.
P50_PERCENTILES = (40.0, 60.0)


@dataclass(frozen=True)
class Ratio:
    """``new`` median over ``base`` median, its interval, and what that means."""

    ratio: float
    lo: float
    hi: float
    verdict: str  # one of VERDICTS, for new relative to base
    n_base: int
    n_new: int

    def significant(self, min_change: float = 0.0) -> bool:
        """Whether the interval excludes 1 *and* the ratio moved by at least ``min_change`` (0.05 = 5%)."""
        return self.verdict != "indistinguishable" and abs(self.ratio - 1.0) >= min_change

    def to_dict(self) -> dict[str, float | int | str]:
        return {"ratio": self.ratio, "lo": self.lo, "hi": self.hi, "verdict": self.verdict,
                "n_base": self.n_base, "n_new": self.n_new}


def _clean(samples: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    values = np.asarray(samples, dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    if values.size < 3:
        raise ValueError(f"{name} has {values.size} usable sample(s); allowed: at least 3 positive finite samples")
    return np.sort(values)


def bootstrap_medians(samples: Sequence[float] | np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """``draws`` medians of bootstrap resamples of ``samples``, drawn from their exact distribution."""
    from scipy.stats import binom

    x = _clean(samples, "samples")
    n = x.size
    m = (n + 1) // 2  # the (lower) median's rank in a resample of n
    cdf = binom.sf(m - 1, n, np.arange(1, n + 1) / n)  # P(resample median <= x(k)), k = 1..n
    ranks = np.searchsorted(cdf, rng.random(draws), side="left")
    return x[np.minimum(ranks, n - 1)]


def compare_samples(base: Sequence[float] | np.ndarray, new: Sequence[float] | np.ndarray,
                    confidence: float = CONFIDENCE, draws: int = DEFAULT_DRAWS, seed: int = 0) -> Ratio:
    """Ratio of the medians of ``new`` and ``base`` (e.g. latencies in ms) with its interval and verdict."""
    if not 0.5 < confidence < 1.0:
        raise ValueError(f"confidence={confidence!r} is invalid; allowed: a number between 0.5 and 1")
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 100:
        raise ValueError(f"draws={draws!r} is invalid; allowed: an integer of at least 100")
    a, b = _clean(base, "base"), _clean(new, "new")
    rng = np.random.default_rng(seed)
    ratios = bootstrap_medians(b, draws, rng) / bootstrap_medians(a, draws, rng)
    tail = (1.0 - confidence) / 2.0
    lo, hi = (float(v) for v in np.quantile(ratios, [tail, 1.0 - tail]))
    ratio = float(np.median(b) / np.median(a))
    verdict = "faster" if hi < 1.0 else "slower" if lo > 1.0 else "indistinguishable"
    return Ratio(ratio, lo, hi, verdict, int(a.size), int(b.size))


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _keeps_samples(record: dict) -> bool:
    """Whether this kind of record stores per-call samples: the engine's timed loop does; LoadGen's scenarios
    and the article's protocol do not."""
    return record.get("protocol") != "article" and record.get("scenario") in (None, "single")


def _stored(record: dict) -> str:
    return "ok" if _keeps_samples(record) else f"no samples ({record.get('scenario') or record.get('protocol')})"


def samples_problem(record: dict) -> str | None:
    """Why ``record``'s stored ``samples_ms`` cannot be compared, or ``None`` when they can.

    The samples come from a file, so they are checked as a command-line value would be: a flat
    list of at least :data:`MIN_SAMPLES` numbers (not true/false), each finite, above 0 and at most
    :data:`MAX_SAMPLE_MS`; and they must agree with the record's own ``latency_ms.p50`` when it has
    one (the samples' median within :data:`P50_TOLERANCE`, or the p50 between the samples'
    :data:`P50_PERCENTILES`), so a comparison never contradicts what ``report`` shows.
    """
    samples = record.get("samples_ms")
    allowed = (f"allowed: a flat list of at least {MIN_SAMPLES} numbers of milliseconds, each above 0 and at "
               f"most {MAX_SAMPLE_MS:.0f}")
    if samples is None:
        return "it stores no samples (samples_ms is missing)"
    if not isinstance(samples, list):
        return f"samples_ms={_shown(samples)} is not a list; {allowed}"
    if len(samples) < MIN_SAMPLES:
        return f"samples_ms holds {len(samples)} sample(s); {allowed}"
    for index, value in enumerate(samples):
        if isinstance(value, bool) or not isinstance(value, int | float):
            kind = "a list (nested samples)" if isinstance(value, list) else type(value).__name__
            return f"samples_ms[{index}]={_shown(value)} is {kind}, not a number; {allowed}"
        if not (np.isfinite(value) and 0.0 < value <= MAX_SAMPLE_MS):
            return f"samples_ms[{index}]={value!r} is impossible; {allowed}"
    latency = record.get("latency_ms")
    p50 = latency.get("p50") if isinstance(latency, dict) else None
    if p50 is None:
        return None  # an older record without percentiles: nothing for the samples to contradict
    if isinstance(p50, bool) or not isinstance(p50, int | float) or not (np.isfinite(p50) and p50 > 0):
        return f"latency_ms.p50={_shown(p50)} is impossible; allowed: a finite number of milliseconds above 0"
    values = np.asarray(samples, dtype=float)
    median = float(np.median(values))
    if abs(median / p50 - 1.0) <= P50_TOLERANCE:
        return None
    low, high = (float(v) for v in np.percentile(values, P50_PERCENTILES))
    if low * (1 - 1e-9) <= p50 <= high * (1 + 1e-9):
        return None
    return (f"its samples disagree with its own p50: their median is {median:.4g} ms, latency_ms.p50 is "
            f"{p50:.4g} ms (allowed: within {P50_TOLERANCE:.0%}, or p50 between the samples' "
            f"{P50_PERCENTILES[0]:g}th and {P50_PERCENTILES[1]:g}th percentiles, {low:.4g}-{high:.4g} ms); "
            "the samples or the percentiles were changed after the run")


def compare_records(base: dict, new: dict, **options: float | int) -> Ratio | None:
    """:func:`compare_samples` on two records' stored samples; ``None`` when either is unusable
    (:func:`samples_problem` says why)."""
    if samples_problem(base) is not None or samples_problem(new) is not None:
        return None
    return compare_samples(base["samples_ms"], new["samples_ms"], **options)


def describe(ratio: Ratio, new_name: str = "new", base_name: str = "base") -> str:
    """One sentence a reader can trust: a winner only where the interval supports it."""
    if ratio.verdict == "indistinguishable":
        return (f"{new_name} and {base_name} are indistinguishable at this precision "
                f"(ratio {ratio.ratio:.3f}, 95% interval {ratio.lo:.3f}-{ratio.hi:.3f})")
    factor = 1.0 / ratio.ratio if ratio.verdict == "faster" else ratio.ratio
    word = "faster" if ratio.verdict == "faster" else "slower"
    return (f"{new_name} is {factor:.2f}x {word} than {base_name} "
            f"(ratio {ratio.ratio:.3f}, 95% interval {ratio.lo:.3f}-{ratio.hi:.3f})")


def tie_groups(names: Sequence[str], samples: Sequence[Sequence[float]], **options: float | int) -> list[list[str]]:
    """Rank by median and group neighbours whose difference the interval does not support.

    Walks from the fastest: a name joins the current group while it is indistinguishable from
    the group's first (fastest) member; otherwise it starts the next group. Names whose samples
    are unusable are left out.
    """
    usable = []
    for name, values in zip(names, samples, strict=True):
        try:
            usable.append((float(np.median(_clean(values, name))), name, values))
        except ValueError:
            continue
    usable.sort(key=lambda item: item[0])
    groups: list[list[str]] = []
    leader: Sequence[float] | None = None
    for _, name, values in usable:
        if leader is not None and compare_samples(leader, values, **options).verdict == "indistinguishable":
            groups[-1].append(name)
            continue
        groups.append([name])
        leader = values
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
    #: pairs left out because a record's samples are unusable: {"case", "problems": {"BASE"|"NEW": reason}}
    unusable: list[dict] = field(default_factory=list)

    def regressions(self, min_change: float) -> list[dict]:
        """Rows significantly slower by at least ``min_change``."""
        return [r for r in self.rows if r["verdict"] == "slower" and abs(r["ratio"] - 1.0) >= min_change]


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


def compare_runs(base: list[dict], new: list[dict], across_machines: bool = False,
                 **options: float | int) -> RunComparison:
    """Match the newest record of each measured case (its case identity) on both sides; compare samples.

    Pairs measured on different machines (:func:`benchlib.system.env.machine_key`) are compared only
    with ``across_machines``, and then each row lists the fingerprint fields that differ.
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
        # LoadGen scenario and article-protocol records store no per-call samples by design: such a pair
        # is listed as not compared (as a failed pair is), never as unusable, so a gate is not failed by it.
        # An engine record without samples is another matter: samples_problem makes it unusable.
        if not (_keeps_samples(a) and _keeps_samples(b)):
            result.not_ok.append({"case": case_label(b), "base": _stored(a), "new": _stored(b)})
            continue
        # each side is judged on its own: one side's bad samples are never blamed on the other
        problems = {side: why for side, record in (("BASE", a), ("NEW", b))
                    if (why := samples_problem(record)) is not None}
        if problems:
            result.unusable.append({"case": case_label(b), "problems": problems})
            continue
        ratio = compare_samples(a["samples_ms"], b["samples_ms"], **options)
        result.rows.append({"case": case_label(b), "base_p50_ms": float(np.median(a["samples_ms"])),
                            "new_p50_ms": float(np.median(b["samples_ms"])), **ratio.to_dict(),
                            "fingerprint_differs": ", ".join(f"{k}: {x} -> {y}" for k, (x, y) in differs.items())})
    return result
