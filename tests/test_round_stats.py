"""Round-based statistics on known data: a simulated machine that switches between a fast and a slow state.

No clock and no process: every series is generated from a seed, so the coverage figures below are
exact for that seed and the tests never depend on the machine that runs them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchlib.engine import round_stats as rs


def two_state_machine(rng: np.random.Generator, rounds: int, dwell: float = 3.0, p_slow: float = 0.45,
                      slow: float = 1.9) -> np.ndarray:
    """Per round, the machine's speed factor: 1 or ``slow``, kept for ``dwell`` rounds on average."""
    state = rng.random() < p_slow
    out = []
    for _ in range(rounds):
        out.append(slow if state else 1.0)
        if rng.random() < 1 / dwell:
            state = rng.random() < p_slow
    return np.array(out)


def two_cases(rng: np.random.Generator, rounds: int, **machine: float) -> tuple[np.ndarray, np.ndarray]:
    """Block medians of a 20 µs and a 50 µs case measured in the same rounds (3% noise per block)."""
    state = two_state_machine(rng, rounds, **machine)
    return (20 * state * np.exp(rng.normal(0, 0.03, rounds)), 50 * state * np.exp(rng.normal(0, 0.03, rounds)))


def test_block_length_is_one_for_independent_rounds_and_longer_for_persistent_states() -> None:
    rng = np.random.default_rng(0)
    assert rs.block_length(np.exp(rng.normal(0, 0.05, 40))) == 1
    persistent = np.repeat([1.0, 2.0, 1.0, 2.0, 1.0], 8) * np.exp(rng.normal(0, 0.01, 40))
    assert rs.block_length(persistent) > 1
    assert rs.block_length([1.0, 2.0, 3.0]) == 1  # too few rounds to judge


def test_round_interval_holds_the_median_and_has_none_for_one_round() -> None:
    interval = rs.round_interval([10.0, 11.0, 9.0, 10.5, 9.5, 10.2])
    assert interval.low <= interval.median <= interval.high
    assert interval.median == pytest.approx(10.1)
    one = rs.round_interval([10.0])
    assert one.median == 10.0 and math.isnan(one.low) and one.halfwidth == math.inf
    with pytest.raises(ValueError, match="level=1.5"):
        rs.round_interval([1.0, 2.0], level=1.5)


def test_paired_ratios_cancel_the_machine_state_that_moves_each_median() -> None:
    """Over 200 simulated runs of 12 rounds the paired-ratio interval holds the true ratio (0.4) about
    95% of the time, although each case's median moves by tens of percent between runs."""
    rng = np.random.default_rng(1)
    held, medians = 0, []
    for seed in range(200):
        a, b = two_cases(rng, 12)
        medians.append(float(np.median(a)))
        comparison = rs.compare_samples(a, range(12), b, range(12), paired=True, seed=seed)
        held += comparison.low <= 0.4 <= comparison.high
        assert comparison.verdict == rs.FASTER and comparison.paired
    assert held / 200 >= 0.9
    assert np.std(medians) / np.median(medians) > 0.15  # the absolute medians do move


def test_call_level_intervals_would_not_hold_what_round_intervals_hold() -> None:
    """Why rounds: thousands of calls inside one state give a narrow interval around that state's time."""
    rng = np.random.default_rng(2)
    truth = 20 * 1.9 ** 0.45  # any point between the levels; a one-state run excludes it either way
    calls_held = rounds_held = 0
    for seed in range(100):
        state = two_state_machine(rng, 1, dwell=1e9)[0]  # a short run sits in one state
        calls = 20 * state * np.exp(rng.normal(0, 0.05, 5000))
        low, high = np.quantile(calls, [0.49, 0.51])  # roughly the within-process interval of the median
        calls_held += low <= truth <= high
        a, _ = two_cases(rng, 30)
        interval = rs.round_interval(a, seed=seed)
        rounds_held += interval.low <= np.median(a) <= interval.high
    assert calls_held == 0
    assert rounds_held == 100


def test_compare_says_cannot_tell_with_one_round_on_a_side() -> None:
    result = rs.compare_samples([10.0], None, [12.0, 12.5, 11.8], None, paired=False)
    assert result.verdict == rs.CANNOT_TELL and "fewer than 2 rounds" in result.reason
    assert result.ratio == pytest.approx(10.0 / 12.0)


def test_unpaired_comparison_holds_each_runs_spread_between_rounds() -> None:
    rng = np.random.default_rng(3)
    fast = 10 * np.exp(rng.normal(0, 0.02, 12))
    slow = 13 * np.exp(rng.normal(0, 0.02, 12))
    assert rs.compare_samples(fast, None, slow, None, paired=False).verdict == rs.FASTER
    assert rs.compare_samples(slow, None, fast, None, paired=False).verdict == rs.SLOWER
    same = rs.compare_samples(fast, None, fast * np.exp(rng.normal(0, 0.02, 12)), None, paired=False)
    assert same.verdict == rs.TIE
    # two states between the runs: each run's rounds spread over both, so no verdict on a 5% difference
    mixed = 10 * two_state_machine(rng, 12, dwell=1.0, p_slow=0.5)
    other = 10.5 * two_state_machine(rng, 12, dwell=1.0, p_slow=0.5)
    assert rs.compare_samples(mixed, None, other, None, paired=False).verdict == rs.TIE


def test_paired_comparison_needs_shared_rounds() -> None:
    result = rs.compare_samples([1.0, 1.1], [0, 1], [2.0, 2.1], [5, 6], paired=True)
    assert result.verdict == rs.CANNOT_TELL and "share fewer than two rounds" in result.reason
    with pytest.raises(ValueError, match="round number"):
        rs.compare_samples([1.0, 1.1], None, [2.0, 2.1], None, paired=True)


def test_machine_levels_finds_two_levels_and_their_shares() -> None:
    rng = np.random.default_rng(4)
    states = np.concatenate([np.ones(12), np.full(8, 1.9)]) * np.exp(rng.normal(0, 0.02, 20))
    levels = rs.machine_levels(states)
    assert levels.split and levels.shares == (0.6, 0.4)
    assert levels.ratios[1] == pytest.approx(1.9, rel=0.05)
    assert levels.near_even and "rankings rest on the paired ratios" in levels.describe()
    assert levels.round_level == tuple([0] * 12 + [1] * 8)


def test_machine_levels_sees_one_level_in_plain_noise_or_a_rare_outlier() -> None:
    rng = np.random.default_rng(5)
    assert not rs.machine_levels(np.exp(rng.normal(0, 0.05, 30))).split
    one_outlier = np.ones(30)
    one_outlier[7] = 3.0
    assert not rs.machine_levels(one_outlier * np.exp(rng.normal(0, 0.01, 30))).split
    assert rs.machine_levels([1.0, 2.0]).describe() == "one speed level throughout"


def test_round_states_put_cases_of_different_speeds_on_one_scale() -> None:
    states = rs.round_states({"fast": ([1.0, 2.0, 1.0], [0, 1, 2]), "slow": ([100.0, 200.0, 100.0], [0, 1, 2])})
    assert states == {0: 1.0, 1: 2.0, 2: 1.0}


def test_case_interval_reaches_both_levels_when_either_could_hold_the_median() -> None:
    rounds = list(range(10))
    values = [10.0, 19.0, 10.2, 19.5, 9.9, 19.2, 10.1, 18.8, 10.0, 19.1]
    levels = rs.machine_levels(rs.round_states({"a": (values, rounds)}).values())
    assert levels.split and levels.near_even
    interval = rs.case_interval(values, rounds, levels, rounds)
    assert interval.low <= 10.0 and interval.high >= 19.0
    # mostly fast: the median stays on the fast level, and so does the interval
    mostly = [10.0, 10.1, 9.9, 10.2, 19.0, 10.0, 10.1, 9.8, 10.0, 10.1, 10.0, 9.9, 10.2, 10.0, 19.2, 10.1]
    r16 = list(range(16))
    levels = rs.machine_levels(rs.round_states({"a": (mostly, r16)}).values())
    narrow = rs.case_interval(mostly, r16, levels, r16)
    assert narrow.high < 15.0
