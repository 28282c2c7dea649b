"""Statistics of one run, computed from raw per-call times in nanoseconds.

Pure functions: no clock is read here, so the tests can feed known samples.
Percentiles use NumPy's default (linear interpolation between order statistics).

Two intervals for the median: the percentile bootstrap (:func:`bootstrap_quantile_ci`, stored
under ``latency_ci95_ms``) and the distribution-free order-statistic interval
(:func:`median_ci_ranks`), which the timed loop's precision check uses because it costs one
selection, O(n), instead of resampling. For the median of a few hundred calls or more the two
agree closely; the record's ``stopping.halfwidth`` is the order-statistic one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from statistics import NormalDist

import numpy as np

#: A run is flagged ``noisy`` when IQR / median exceeds this ("spread") ...
NOISY_IQR_RATIO = 0.10
#: ... or when p99 / median exceeds this ("tail": a few slow calls in a hundred, which the IQR
#: cannot see). Chosen from measured runs (docs/evidence/noisy-tail-threshold.md).
NOISY_TAIL_RATIO = 5.0
#: Bootstrap resamples for the confidence intervals.
BOOTSTRAP_RESAMPLES = 2000
NS_PER_MS = 1e6


@dataclass(frozen=True)
class LatencyStats:
    """Summary of per-call latencies; every time field is in nanoseconds."""

    n_calls: int
    mean: float
    std: float
    min: float
    p50: float
    p90: float
    p95: float
    p99: float
    max: float
    iqr: float
    cv: float  # std / mean (dimensionless)
    p50_ci95: tuple[float, float]
    p99_ci95: tuple[float, float]
    noisy: bool
    throughput_sps: float  # batch_size / p50 per-call time, samples per second
    #: which criteria made the run noisy, each as "name: measured value > threshold"
    noisy_reasons: tuple[str, ...] = field(default=())
    #: order-statistic 95% interval of the median and its relative half-width (larger side / p50)
    p50_ci95_ranks: tuple[float, float] = (float("nan"), float("nan"))
    p50_halfwidth: float = float("nan")

    def latency_ms(self) -> dict[str, float]:
        """The latency summary in milliseconds, as stored under ``latency_ms``."""
        keys = ("mean", "std", "min", "p50", "p90", "p95", "p99", "max", "iqr")
        return {key: getattr(self, key) / NS_PER_MS for key in keys}

    def ci95_ms(self) -> dict[str, list[float]]:
        """The bootstrap 95% intervals in milliseconds, as stored under ``latency_ci95_ms``."""
        return {
            "p50": [v / NS_PER_MS for v in self.p50_ci95],
            "p99": [v / NS_PER_MS for v in self.p99_ci95],
        }

    def to_dict(self) -> dict:
        """All fields, times converted to milliseconds (keys keep their names)."""
        data = asdict(self)
        data.update(self.latency_ms())
        data["p50_ci95"], data["p99_ci95"] = self.ci95_ms()["p50"], self.ci95_ms()["p99"]
        data["p50_ci95_ranks"] = [v / NS_PER_MS for v in self.p50_ci95_ranks]
        data["noisy_reasons"] = list(self.noisy_reasons)
        return data


def median_ci_ranks(n: int, level: float = 0.95) -> tuple[int, int] | None:
    """0-based indices (low, high) of the order statistics bounding the median's ``level`` interval.

    The number of samples below the true median is Binomial(n, 1/2) whatever the distribution, so
    [x_(l), x_(n-l+1)] (1-based) covers it with probability P(l <= B <= n-l). ``l`` comes from the
    normal approximation rounded down (wider, so coverage is at least ``level`` up to the
    approximation's error, which the seeded simulation test bounds). ``None`` when ``n`` is too
    small for any such interval (n < 6 at 95%).
    """
    if not 0 < level < 1:
        raise ValueError(f"level={level!r} is invalid; allowed: a probability strictly between 0 and 1")
    z = NormalDist().inv_cdf(0.5 + level / 2)  # z of the two-sided interval: 1.96 at 95%
    low = math.floor((n - z * math.sqrt(n)) / 2)  # 1-based rank of the lower bound
    if low < 1:
        return None
    return low - 1, n - low


def median_ci(samples: np.ndarray, level: float = 0.95, in_place: bool = False) -> tuple[float, float, float]:
    """(median, low, high): the sample median and its order-statistic ``level`` interval.

    One ``partition`` (O(n)) selects the needed order statistics; ``in_place`` lets it reorder
    ``samples`` instead of a copy. Bounds are NaN when ``n`` is too small for an interval.
    """
    n = int(samples.size)
    if n == 0:
        return (float("nan"),) * 3
    ranks = median_ci_ranks(n, level)
    middle = [(n - 1) // 2, n // 2]
    kth = sorted({*middle, *(ranks or ())})
    work = samples if in_place else samples.copy()
    work.partition(kth)
    median = (float(work[middle[0]]) + float(work[middle[1]])) / 2
    if ranks is None:
        return median, float("nan"), float("nan")
    return median, float(work[ranks[0]]), float(work[ranks[1]])


def relative_halfwidth(samples: np.ndarray, level: float = 0.95, in_place: bool = False) -> float:
    """The larger side of the median's order-statistic interval over the median (inf if undefined)."""
    median, low, high = median_ci(samples, level, in_place=in_place)
    return halfwidth_of(median, low, high)


def halfwidth_of(median: float, low: float, high: float) -> float:
    """The interval's larger side over the median; inf without an interval, 0 for a zero-width one at 0."""
    if math.isnan(low) or math.isnan(high):
        return math.inf
    side = max(median - low, high - median)
    if median <= 0:
        return 0.0 if side == 0 else math.inf
    return side / median


def noisy_reasons(p50: float, iqr: float, p99: float) -> tuple[str, ...]:
    """The criteria a run fails, each naming the measured ratio and its threshold (empty: not noisy)."""
    reasons = []
    if p50 > 0 and iqr / p50 > NOISY_IQR_RATIO:
        reasons.append(f"spread: IQR {iqr / p50:.0%} of the median > {NOISY_IQR_RATIO:.0%}")
    if p50 > 0 and p99 / p50 > NOISY_TAIL_RATIO:
        reasons.append(f"tail: p99 {p99 / p50:.1f}x the median > {NOISY_TAIL_RATIO:g}x")
    return tuple(reasons)


def bootstrap_quantile_ci(
    sorted_ns: np.ndarray, q: float, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile-bootstrap interval for the ``q`` quantile (0..1) of the sample.

    Resampling n values with replacement and taking the k-th smallest (k = ceil(q·n), the
    nearest-rank quantile) is the same as drawing the k-th smallest of n uniform indices. That
    order statistic of n continuous uniforms is Beta(k, n-k+1) distributed, and ceil(n·U) maps it
    onto a uniform index in 1..n, so each bootstrap replicate costs one Beta draw instead of a
    resample of n values. The result is the ordinary bootstrap, vectorised and O(resamples) even
    for a run of a million calls.
    """
    n = len(sorted_ns)
    if n == 0:
        return (float("nan"), float("nan"))
    if n == 1:
        return (float(sorted_ns[0]), float(sorted_ns[0]))
    k = min(max(int(np.ceil(q * n)), 1), n)
    rng = np.random.default_rng(seed)
    u = rng.beta(k, n - k + 1, size=resamples)
    index = np.clip(np.ceil(u * n).astype(np.int64) - 1, 0, n - 1)
    replicates = sorted_ns[index]
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(replicates, [alpha, 1.0 - alpha])
    return (float(low), float(high))


def compute_stats(samples_ns: Sequence[int] | np.ndarray, batch_size: int = 1, seed: int = 0) -> LatencyStats:
    """Summarise per-call times (ns) of a run at ``batch_size``.

    ``throughput_sps`` is ``batch_size / p50`` (the median per-call time), so one slow outlier
    does not move it; the mean-based figure is ``batch_size / mean``.
    """
    data = np.sort(np.asarray(samples_ns, dtype=np.float64))
    if data.size == 0:
        raise ValueError("samples_ns is empty; a run needs at least one timed call")
    p25, p50, p75, p90, p95, p99 = np.percentile(data, [25, 50, 75, 90, 95, 99])
    mean = float(data.mean())
    std = float(data.std(ddof=1)) if data.size > 1 else 0.0
    iqr = float(p75 - p25)
    reasons = noisy_reasons(float(p50), iqr, float(p99))
    ranks = median_ci_ranks(int(data.size))
    ranks_ci = (float(data[ranks[0]]), float(data[ranks[1]])) if ranks else (float("nan"), float("nan"))
    return LatencyStats(
        n_calls=int(data.size),
        mean=mean,
        std=std,
        min=float(data[0]),
        p50=float(p50),
        p90=float(p90),
        p95=float(p95),
        p99=float(p99),
        max=float(data[-1]),
        iqr=iqr,
        cv=std / mean if mean > 0 else 0.0,
        p50_ci95=bootstrap_quantile_ci(data, 0.50, seed=seed),
        p99_ci95=bootstrap_quantile_ci(data, 0.99, seed=seed + 1),
        noisy=bool(reasons),
        throughput_sps=float(batch_size / (p50 / 1e9)) if p50 > 0 else float("inf"),
        noisy_reasons=reasons,
        p50_ci95_ranks=ranks_ci,
        p50_halfwidth=halfwidth_of(float(p50), *ranks_ci),
    )


def subsample(samples_ns: Sequence[int] | np.ndarray, limit: int) -> tuple[list[float], int]:
    """Every ``stride``-th sample in milliseconds, at most ``limit`` of them, and the stride.

    Records keep raw samples for distribution charts; a long run of a fast call can make a
    million, so they are thinned by a uniform stride (which keeps the distribution's shape and
    the time order). Statistics are always computed on all samples.
    """
    data = np.asarray(samples_ns, dtype=np.float64)
    stride = max(1, -(-data.size // limit)) if limit > 0 else max(1, data.size)
    return (data[::stride] / NS_PER_MS).tolist(), stride
