"""Statistics of one run, computed from raw per-call times in nanoseconds.

Pure functions: no clock is read here, so the tests can feed known samples.
Percentiles use NumPy's default (linear interpolation between order statistics).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

#: A run is flagged ``noisy`` when IQR / median exceeds this.
NOISY_IQR_RATIO = 0.10
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
        return data


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
        noisy=bool(p50 > 0 and iqr / p50 > NOISY_IQR_RATIO),
        throughput_sps=float(batch_size / (p50 / 1e9)) if p50 > 0 else float("inf"),
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
