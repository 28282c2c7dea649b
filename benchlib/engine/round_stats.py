"""Statistics of interleaved rounds: a case's median, its interval, paired ratios and machine states.

A run measures every case in rounds: in each round each case runs one short timed block, in an order
shuffled per round, in one of two or more warm processes (:mod:`benchlib.engine.rounds`). The unit of
these statistics is the *block median*, not the call: calls inside a block share one state of the
machine (a virtual machine's shared core switches between a fast and a slow state for seconds at a
time), so thousands of calls from one block are not thousands of independent samples, and an
interval computed from them (the within-process interval) is narrow and wrong on the next run.

* **A case's median** is the median of its block medians, and its 95% interval is a moving-block
  bootstrap of the rounds (Künsch 1989): resampling runs of consecutive rounds keeps the time
  correlation that machine states cause, and the block length grows with that correlation
  (:func:`block_length`). Blocks come from every process of the case, so the interval also holds the
  variation between processes (code layout, allocator state, thread placement).
* **A comparison** between two cases of one run uses the ratio of their block medians *in the same
  round*, where both saw the same machine state (a paired design); its interval is the same
  bootstrap over rounds of those ratios. :func:`compare_samples` is the one rule for "faster" that
  ranks, ties, insights, the models matrix, the precision speed-ups and ``compare`` all use.
* **Machine states**: :func:`machine_levels` finds rounds whose blocks were all fast or all slow
  together and says how much of the time each level held.

Pure functions on arrays: no clock, no process, seeded resampling; tests feed them known data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Bootstrap resamples for round-based intervals (rounds are few, so this is cheap).
ROUND_RESAMPLES = 4000
#: Two levels are a "state change" when the slower is at least this much slower than the faster ...
LEVEL_GAP = 1.15
#: ... the split explains at least this share of the spread of log block medians ...
LEVEL_EXPLAINED = 0.6
#: ... and the rarer level holds at least this share of the rounds.
LEVEL_MIN_SHARE = 0.1
#: Levels each holding at least this share are "near-even": the overall median can land on either.
NEAR_EVEN_SHARE = 0.3
#: Verdicts of :func:`compare_samples`.
FASTER, SLOWER, TIE, CANNOT_TELL = "faster", "slower", "tie", "cannot tell"
#: Fewest rounds on each side for any verdict (fewer: "cannot tell").
MIN_ROUNDS_FOR_VERDICT = 2


def _as_array(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    data = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=np.float64)
    if data.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {data.shape}")
    return data


def lag1_autocorrelation(values: Sequence[float] | np.ndarray) -> float:
    """Lag-1 autocorrelation of ``values`` in time order (0 for fewer than three values or no spread)."""
    data = _as_array(values, "values")
    if data.size < 3:
        return 0.0
    centred = data - data.mean()
    denominator = float(np.dot(centred, centred))
    if denominator <= 0:
        return 0.0
    return float(np.dot(centred[:-1], centred[1:]) / denominator)


def block_length(values: Sequence[float] | np.ndarray) -> int:
    """Rounds per bootstrap block: Carlstein's rule for an AR(1)-like series, ``(2ρ/(1-ρ²))^(2/3) n^(1/3)``.

    ρ is the lag-1 autocorrelation of the log block medians. Rounds with no evidence of correlation
    (ρ within two standard errors, 2/√n, of zero) give 1 (the ordinary bootstrap); rounds that stay in
    one machine state for several rounds give longer blocks.
    The length is at least 1 and at most half the rounds.
    """
    data = _as_array(values, "values")
    n = int(data.size)
    if n < 4:
        return 1
    rho = min(lag1_autocorrelation(np.log(np.maximum(data, 1e-300))), 0.95)
    if rho <= 2 / math.sqrt(n):  # within two standard errors of 0: no evidence of correlation
        return 1
    length = (2 * rho / (1 - rho * rho)) ** (2 / 3) * n ** (1 / 3)
    return int(min(max(1, math.ceil(length)), max(1, n // 2)))


def _block_bootstrap_medians(data: np.ndarray, length: int, resamples: int, seed: int) -> np.ndarray:
    """Medians of ``resamples`` circular moving-block resamples of ``data`` (time order kept inside blocks)."""
    n = int(data.size)
    blocks = math.ceil(n / length)
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, n, size=(resamples, blocks))
    index = (starts[:, :, None] + np.arange(length)[None, None, :]).reshape(resamples, -1)[:, :n] % n
    return np.median(data[index], axis=1)


@dataclass(frozen=True)
class RoundInterval:
    """A median over rounds and its interval; every value in the unit of the input."""

    median: float
    low: float
    high: float
    rounds: int
    block: int  # rounds per bootstrap block

    @property
    def halfwidth(self) -> float:
        """The interval's larger side over the median (inf without an interval)."""
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.median <= 0:
            return math.inf
        return max(self.median - self.low, self.high - self.median) / self.median

    def to_dict(self) -> dict[str, float | int]:
        return {"median": self.median, "low": self.low, "high": self.high, "rounds": self.rounds,
                "block": self.block, "halfwidth": self.halfwidth}


def round_interval(values: Sequence[float] | np.ndarray, level: float = 0.95, seed: int = 0,
                   resamples: int = ROUND_RESAMPLES) -> RoundInterval:
    """The median of per-round values (block medians, or paired ratios) and its moving-block bootstrap interval.

    With one round there is no interval (NaN bounds): one block cannot say how far the next would be.
    """
    if not 0 < level < 1:
        raise ValueError(f"level={level!r} is invalid; allowed: a probability strictly between 0 and 1")
    data = _as_array(values, "values")
    data = data[np.isfinite(data)]
    if data.size == 0:
        nan = float("nan")
        return RoundInterval(nan, nan, nan, 0, 1)
    median = float(np.median(data))
    if data.size < 2:
        return RoundInterval(median, float("nan"), float("nan"), int(data.size), 1)
    length = block_length(data)
    medians = _block_bootstrap_medians(data, length, resamples, seed)
    alpha = (1 - level) / 2
    low, high = np.quantile(medians, [alpha, 1 - alpha])
    # a percentile interval of a median can exclude the sample median when rounds are few: keep it inside
    return RoundInterval(median, float(min(low, median)), float(max(high, median)), int(data.size), length)


def paired_ratios(a: Sequence[float], a_rounds: Sequence[int], b: Sequence[float],
                  b_rounds: Sequence[int]) -> np.ndarray:
    """``a / b`` block by block in the rounds both measured, in round order."""
    first = {int(r): float(v) for r, v in zip(a_rounds, a, strict=True)}
    second = {int(r): float(v) for r, v in zip(b_rounds, b, strict=True)}
    common = sorted(set(first) & set(second))
    return np.array([first[r] / second[r] for r in common if second[r] > 0], dtype=np.float64)


@dataclass(frozen=True)
class Comparison:
    """How case A's time compares with case B's: the ratio A/B, its interval and the verdict for A."""

    ratio: float
    low: float
    high: float
    verdict: str  # FASTER (A is faster), SLOWER, TIE, CANNOT_TELL
    paired: bool  # True: per-round ratios of one run; False: two runs' intervals combined
    rounds: int
    reason: str = ""

    def to_dict(self) -> dict[str, object]:
        return {"ratio": self.ratio, "low": self.low, "high": self.high, "verdict": self.verdict,
                "paired": self.paired, "rounds": self.rounds, "reason": self.reason}


def _verdict(low: float, high: float) -> str:
    if high < 1:
        return FASTER
    if low > 1:
        return SLOWER
    return TIE


def compare_samples(a: Sequence[float], a_rounds: Sequence[int] | None, b: Sequence[float],
                    b_rounds: Sequence[int] | None, *, paired: bool, level: float = 0.95,
                    seed: int = 0) -> Comparison:
    """The one rule for "faster": is A's time below B's, with 95% confidence over rounds?

    ``paired`` (both cases measured in the same rounds of one run): the interval of the per-round
    ratios A/B, which cancels the machine's state. Unpaired (two runs, ``compare BASE NEW``): each
    side's rounds are resampled on their own and the ratio of the two bootstrap medians taken, so the
    interval holds each run's variation between rounds; with fewer than
    :data:`MIN_ROUNDS_FOR_VERDICT` rounds on a side the verdict is "cannot tell".
    """
    a_data, b_data = _as_array(a, "a"), _as_array(b, "b")
    if min(a_data.size, b_data.size) < MIN_ROUNDS_FOR_VERDICT:
        ratio = float(np.median(a_data) / np.median(b_data)) if a_data.size and b_data.size else float("nan")
        return Comparison(ratio, float("nan"), float("nan"), CANNOT_TELL, paired, int(min(a_data.size, b_data.size)),
                          f"fewer than {MIN_ROUNDS_FOR_VERDICT} rounds on a side: no interval between rounds")
    if paired:
        if a_rounds is None or b_rounds is None:
            raise ValueError("paired=True needs the round number of every block of both cases")
        ratios = paired_ratios(a_data, a_rounds, b_data, b_rounds)
        if ratios.size < MIN_ROUNDS_FOR_VERDICT:
            return Comparison(float("nan"), float("nan"), float("nan"), CANNOT_TELL, True, int(ratios.size),
                              "the two cases share fewer than two rounds")
        interval = round_interval(ratios, level=level, seed=seed)
        return Comparison(interval.median, interval.low, interval.high, _verdict(interval.low, interval.high),
                          True, interval.rounds)
    alpha = (1 - level) / 2
    a_med = _block_bootstrap_medians(a_data, block_length(a_data), ROUND_RESAMPLES, seed)
    b_med = _block_bootstrap_medians(b_data, block_length(b_data), ROUND_RESAMPLES, seed + 1)
    ratios = a_med / b_med
    low, high = (float(x) for x in np.quantile(ratios, [alpha, 1 - alpha]))
    ratio = float(np.median(a_data) / np.median(b_data))
    return Comparison(ratio, min(low, ratio), max(high, ratio), _verdict(min(low, ratio), max(high, ratio)),
                      False, int(min(a_data.size, b_data.size)))


@dataclass(frozen=True)
class MachineLevels:
    """Whether the machine ran at two speed levels during the rounds, and how long each held."""

    split: bool  # True: two levels found
    shares: tuple[float, ...]  # share of rounds at each level, fastest first
    ratios: tuple[float, ...]  # each level's typical time over the fastest level's
    round_level: tuple[int, ...]  # the level of each round (0: fastest), in round order
    explained: float  # share of the spread of log round states the split explains

    @property
    def near_even(self) -> bool:
        """Each level held at least :data:`NEAR_EVEN_SHARE` of the rounds: the median can land on either."""
        return self.split and min(self.shares) >= NEAR_EVEN_SHARE

    def describe(self) -> str:
        """One sentence for the console and the report."""
        if not self.split:
            return "one speed level throughout"
        slow = self.ratios[1]
        text = (f"the machine ran at two speed levels: fast for {self.shares[0]:.0%} of the rounds, "
                f"{slow:.2f}x slower for {self.shares[1]:.0%}")
        if self.near_even:
            text += "; near-even, so a median can land on either level: rankings rest on the paired ratios"
        return text

    def to_dict(self) -> dict[str, object]:
        return {"split": self.split, "shares": list(self.shares), "ratios": list(self.ratios),
                "round_level": list(self.round_level), "explained": self.explained,
                "near_even": self.near_even, "text": self.describe()}


def round_states(blocks: dict[str, tuple[Sequence[float], Sequence[int]]]) -> dict[int, float]:
    """Per round, the median over cases of each block median relative to its case's median.

    ``blocks`` maps a case to (block medians, round numbers). A round where every case ran slow has a
    state above 1; cases of very different speeds count alike because each is divided by its own median.
    """
    relative: dict[int, list[float]] = {}
    for values, rounds in blocks.values():
        data = _as_array(values, "values")
        if data.size == 0:
            continue
        centre = float(np.median(data))
        if centre <= 0:
            continue
        for value, round_number in zip(data, rounds, strict=True):
            relative.setdefault(int(round_number), []).append(float(value) / centre)
    return {r: float(np.median(v)) for r, v in sorted(relative.items())}


def machine_levels(states: Sequence[float]) -> MachineLevels:
    """Two speed levels in per-round states, or one: the best split of the sorted log states (1-D 2-means).

    Levels are declared when the slower level's centre is at least :data:`LEVEL_GAP` times the faster's,
    the split explains at least :data:`LEVEL_EXPLAINED` of the spread, and the rarer level holds at
    least :data:`LEVEL_MIN_SHARE` of the rounds.
    """
    data = np.log(np.maximum(_as_array(states, "states"), 1e-300))
    n = int(data.size)
    one = MachineLevels(False, (1.0,), (1.0,), tuple(0 for _ in range(n)), 0.0)
    if n < 4:
        return one
    order = np.sort(data)
    total = float(((order - order.mean()) ** 2).sum())
    if total <= 0:
        return one
    best = None
    for cut in range(1, n):
        low, high = order[:cut], order[cut:]
        within = float(((low - low.mean()) ** 2).sum() + ((high - high.mean()) ** 2).sum())
        if best is None or within < best[0]:
            best = (within, cut)
    within, cut = best
    explained = 1 - within / total
    threshold = (order[cut - 1] + order[cut]) / 2
    fast_centre, slow_centre = float(np.median(order[:cut])), float(np.median(order[cut:]))
    shares = (cut / n, (n - cut) / n)
    if (math.exp(slow_centre - fast_centre) < LEVEL_GAP or explained < LEVEL_EXPLAINED
            or min(shares) < LEVEL_MIN_SHARE):
        return MachineLevels(False, (1.0,), (1.0,), tuple(0 for _ in range(n)), explained)
    levels = tuple(int(value > threshold) for value in data)
    return MachineLevels(True, shares, (1.0, math.exp(slow_centre - fast_centre)), levels, explained)


def level_medians(values: Sequence[float], rounds: Sequence[int], levels: MachineLevels,
                  round_numbers: Sequence[int]) -> tuple[float, ...]:
    """A case's median block time at each machine level (NaN for a level it never ran in)."""
    level_of = dict(zip((int(r) for r in round_numbers), levels.round_level, strict=True))
    out = []
    for level in range(len(levels.shares)):
        chosen = [float(v) for v, r in zip(values, rounds, strict=True) if level_of.get(int(r)) == level]
        out.append(float(np.median(chosen)) if chosen else float("nan"))
    return tuple(out)


def case_interval(values: Sequence[float], rounds: Sequence[int], levels: MachineLevels | None = None,
                  round_numbers: Sequence[int] | None = None, level: float = 0.95, seed: int = 0) -> RoundInterval:
    """A case's median over its rounds and the interval the next run's median should fall in.

    The moving-block bootstrap of :func:`round_interval`, widened when the machine ran at two levels and
    the share of slow rounds is not clearly on one side of one half (its binomial interval over the
    effective number of independent rounds, rounds / block length, includes 0.5): the median of another
    run of this length can then land on either level, so the interval reaches from the fast level's
    median to the slow level's. A run that saw one level only cannot know of another; the noise audit
    and the reproducibility benchmark (benchmarks/reproducibility.py) say how often that happens.
    """
    interval = round_interval(values, level=level, seed=seed)
    if levels is None or not levels.split or round_numbers is None or interval.rounds < 2:
        return interval
    slow_share = levels.shares[1]
    effective = max(1.0, len(levels.round_level) / max(interval.block, block_length(list(values))))
    z = 1.959963984540054
    reach = z * math.sqrt(slow_share * (1 - slow_share) / effective)
    if not slow_share - reach <= 0.5 <= slow_share + reach:
        return interval
    fast, slow = level_medians(values, rounds, levels, round_numbers)
    low = min(interval.low, fast) if math.isfinite(fast) else interval.low
    high = max(interval.high, slow) if math.isfinite(slow) else interval.high
    return RoundInterval(interval.median, low, high, interval.rounds, interval.block)
