"""Timed-loop memory and harness overhead: Python lists of ints (before) against preallocated int64 (now).

Each variant runs in a fresh process (:func:`benchlib.system.child.run_in_child`): build the
predictor, warm up, start the memory sampler, make ``--calls`` timed calls, stop the sampler. The
RSS growth is the sampler's peak minus its first reading (taken just before the loop, after the
int64 storage was allocated and written). The harness overhead is the median per-call time of the
same loop around a no-op (best of 15 × 20,000 calls: the best is the least disturbed by other
processes), and the loop's wall time per no-op call says
what storing the readings costs between calls.

* ``list``: the loop as it was: ``starts[i] = clock()``, the call, ``ends[i] = clock()`` into
  preallocated lists per block, blocks concatenated into growing lists (36 bytes per reading).
* ``int64``: :func:`benchlib.engine.worker.measure`'s path: readings into two local names, stored
  after the call into int64 arrays sized from the warm-up's pace and written before the loop.

Run from the repository root: ``python benchmarks/timed_loop_memory.py [--calls 300000]
[--backend onnxruntime] [--batch-size 1] [--repeats 3]``. Prints a Markdown table; numbers depend on the
machine and its load (the load average is printed before and after).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def _list_loop(predict: Any, inputs: Any, calls: int, clock: Any = time.perf_counter_ns, chunk: int = 1_000_000) -> Any:
    """The previous timed loop, kept here to compare against: lists of Python ints, grown per block."""
    import numpy as np

    all_starts: list[int] = []
    all_ends: list[int] = []
    done = 0
    while done < calls:
        n = min(chunk, calls - done)
        starts = [0] * n
        ends = [0] * n
        for i in range(n):
            starts[i] = clock()
            predict(inputs)
            ends[i] = clock()
        all_starts += starts
        all_ends += ends
        done += n
    return np.asarray(all_ends, dtype=np.int64) - np.asarray(all_starts, dtype=np.int64)


def _noop(_x: Any) -> None:
    return None


def _list_overhead_ns(calls: int = 20_000, repeats: int = 15) -> tuple[float, float]:
    import numpy as np

    best, wall = float("inf"), float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        samples = _list_loop(_noop, None, calls)
        wall = min(wall, (time.perf_counter_ns() - t0) / calls)
        best = min(best, float(np.median(samples)))
    return best, wall


def _int64_overhead_ns(calls: int = 20_000, repeats: int = 15) -> tuple[float, float]:
    import numpy as np

    from benchlib.engine.timing import Timestamps, timed_loop

    storage = Timestamps(calls)
    best, wall = float("inf"), float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        loop = timed_loop(_noop, None, calls, 0.0, max_calls=calls, storage=storage)
        wall = min(wall, (time.perf_counter_ns() - t0) / calls)
        best = min(best, float(np.median(loop.samples_ns)))
    return best, wall


def child(payload: dict[str, Any]) -> dict[str, Any]:
    """One variant in this (fresh) process; returns RSS growth, storage size and overheads."""
    import numpy as np

    from benchlib.backends.registry import create_backend
    from benchlib.engine.case import RunCase
    from benchlib.engine.sampler import Sampler
    from benchlib.engine.timing import warm_up
    from benchlib.engine.worker import measure
    from benchlib.models.zoo import get_model

    spec = get_model("fnn")
    backend = create_backend(payload["backend"], spec)
    backend.import_framework()
    backend.build()
    predict = backend.raw_predictor()
    inputs = spec.random_input(payload["batch_size"], 0)
    predict(inputs)
    calls = int(payload["calls"])
    out: dict[str, Any] = {"variant": payload["storage"]}
    if payload["storage"] == "list":
        warm_up(predict, inputs, 10, 0.05, 1.0)
        sampler = Sampler(interval_s=0.01, uss_every=5)
        sampler.start()
        samples = _list_loop(predict, inputs, calls)
        seen = sampler.stop()
        out.update(rss_growth_mb=seen.rss_peak_mb - seen.rss_first_mb, storage_mb=None,
                   p50_us=float(np.median(samples)) / 1e3, calls=int(samples.size))
        out["overhead_ns"], out["noop_wall_ns"] = _list_overhead_ns()
    else:
        case = RunCase(payload["backend"], batch_size=payload["batch_size"], min_calls=calls, min_time_s=0.0,
                       warmup_calls=10, warmup_time_s=0.05, warmup_max_s=1.0)
        fields = measure(predict, inputs, case)
        out.update(rss_growth_mb=fields["loop_rss_growth_mb"], storage_mb=fields["timing_storage_mb"],
                   p50_us=fields["latency_ms"]["p50"] * 1e3, calls=fields["n_calls"])
        out["overhead_ns"], out["noop_wall_ns"] = _int64_overhead_ns()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300_000)
    parser.add_argument("--backend", default="onnxruntime")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each variant")
    args = parser.parse_args()
    from benchlib.system.child import run_in_child

    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}", file=sys.stderr)
    rows = []
    for _ in range(args.repeats):
        for storage in ("list", "int64"):
            payload = {"storage": storage, "calls": args.calls, "backend": args.backend,
                       "batch_size": args.batch_size}
            result = run_in_child("benchmarks.timed_loop_memory:child", payload, timeout_s=900,
                                  env={"PYTHONPATH": str(REPO)})
            if not result.ok:
                print(f"{storage}: failed: {result.error}\n{result.stderr_tail}", file=sys.stderr)
                return 1
            rows.append(result.value)
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}", file=sys.stderr)
    print(f"\n{args.backend} batch {args.batch_size}, {args.calls:,} timed calls per run\n")
    print("| storage | calls | RSS growth during the loop (MB) | storage (MB, resident before the loop) "
          "| harness overhead (ns/call) | no-op loop wall (ns/call) | p50 (µs) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        storage = "-" if row["storage_mb"] is None else f"{row['storage_mb']:.2f}"
        print(f"| {row['variant']} | {row['calls']:,} | {row['rss_growth_mb']:.2f} | {storage} | "
              f"{row['overhead_ns']:.0f} | {row['noop_wall_ns']:.0f} | {row['p50_us']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
