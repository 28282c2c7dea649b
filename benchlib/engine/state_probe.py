"""Does this machine switch speed levels now? A short probe for the noise audit (``benchlib env``).

A fixed NumPy workload is timed in blocks of :data:`BLOCK_S` for a few seconds; the block medians go
through the same two-level detection the interleaved rounds use (:func:`benchlib.engine.round_stats.
machine_levels`). A virtual machine whose physical core is shared with other guests often shows two
levels that each hold for seconds; a benchmark measured entirely inside one of them is narrow and wrong
on the next run, which is why benchlib measures in interleaved rounds.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from benchlib.engine.round_stats import machine_levels

#: Length of one timed block of the probe, in seconds.
BLOCK_S = 0.1
#: Default length of the whole probe, in seconds.
PROBE_S = 3.0


def probe_speed_levels(seconds: float = PROBE_S, block_s: float = BLOCK_S) -> dict[str, Any]:
    """Block medians of a small matrix product over ``seconds``, and the levels they fall into."""
    if not 0 < block_s <= seconds <= 600:
        raise ValueError(f"seconds={seconds!r}, block_s={block_s!r} are invalid; allowed: 0 < block_s <= "
                         "seconds <= 600")
    a = np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)
    medians = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        calls = []
        block_end = time.perf_counter() + block_s
        while True:
            start = time.perf_counter_ns()
            a @ a
            stop = time.perf_counter_ns()
            calls.append(stop - start)
            if time.perf_counter() >= block_end:
                break
        medians.append(float(np.median(calls)) / 1e3)
    levels = machine_levels(medians)
    return {"seconds": seconds, "block_s": block_s, "block_median_us": medians, **levels.to_dict()}
