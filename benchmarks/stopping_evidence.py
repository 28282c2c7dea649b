"""Evidence for the timed loop's defaults: warm-up cap and tolerance, minimum time, precision target.

For each backend and batch size, a fresh process (:func:`benchlib.system.child.run_in_child`) builds
the model, makes its first call, then records the start and end reading of every call for
``--seconds`` with no warm-up at all. The parent then replays the recorded readings through the
real code (:func:`benchlib.engine.timing.warm_up` and :func:`~benchlib.engine.timing.timed_loop`
with a :class:`~benchlib.engine.clock.FakeClock`), so what is judged is exactly what runs:

* **warm-up**: where the settling rule stops, against the time after which every 50 ms window's
  median stays within 3% of the trace's steady median (the median of its second half);
* **minimum time**: for each candidate, precision loops started at several offsets after the
  warm-up: how long they ran, whether they met ±1%, and how often their 95% interval held the
  steady median (a short window sees only its own moment, so slow periodic effects show up as
  intervals that miss).

Run from the repository root: ``python benchmarks/stopping_evidence.py [--seconds 8]
[--backends ...] [--batch-sizes 1 1000]``. Prints Markdown tables and the load average.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
MIN_TIMES = (0.05, 0.1, 0.25, 0.5, 1.0)
WINDOW_S = 0.05
SETTLED = 0.03


def trace(payload: dict[str, Any]) -> dict[str, Any]:
    """Child: build, first call, then every call's readings for ``seconds`` into ``path`` (.npz)."""
    import time

    from benchlib.backends.registry import create_backend
    from benchlib.engine.timing import Timestamps, timed_loop
    from benchlib.models.zoo import get_model

    spec = get_model("fnn")
    backend = create_backend(payload["backend"], spec)
    t0 = time.perf_counter()
    backend.import_framework()
    backend.build()
    predict = backend.raw_predictor()
    build_s = time.perf_counter() - t0
    inputs = spec.random_input(payload["batch_size"], 0)
    predict(inputs)  # the cold call, as in the worker; everything after it is recorded
    storage = Timestamps(4_000_000)
    loop = timed_loop(predict, inputs, 1, payload["seconds"], storage=storage, max_calls=4_000_000)
    np.savez(payload["path"], starts=loop.starts_ns, ends=loop.ends_ns)
    return {"calls": loop.n_calls, "build_s": build_s, "version": backend.version()}


def _replay_clock(starts: np.ndarray, ends: np.ndarray, first: int):  # noqa: ANN202 - a FakeClock
    from benchlib.engine.clock import FakeClock

    readings = np.empty(2 * (starts.size - first), dtype=np.int64)
    readings[0::2], readings[1::2] = starts[first:], ends[first:]
    return FakeClock(readings.tolist(), step_ns=10**12)  # past the end: absurd times, never reached below


def analyse(starts: np.ndarray, ends: np.ndarray) -> dict[str, Any]:
    """Warm-up stop vs. true settling, and precision loops per minimum time from several offsets."""
    from benchlib.defaults import WARMUP_MAX_S
    from benchlib.engine.stats import median_ci
    from benchlib.engine.timing import timed_loop, warm_up

    t = (starts - starts[0]) / 1e9
    durations = ends - starts
    steady = float(np.median(durations[t >= t[-1] / 2]))
    edges = np.arange(0.0, t[-1], WINDOW_S)
    medians = [float(np.median(durations[(t >= a) & (t < a + WINDOW_S)])) for a in edges
               if ((t >= a) & (t < a + WINDOW_S)).any()]
    off = [i for i, m in enumerate(medians) if abs(m / steady - 1) > SETTLED]
    settled_s = (off[-1] + 1) * WINDOW_S if off else 0.0
    warm = warm_up(lambda _x: None, None, 10, 0.05, WARMUP_MAX_S, clock=_replay_clock(starts, ends, 0))
    out: dict[str, Any] = {"steady_us": steady / 1e3, "settled_s": settled_s, "warmup_s": warm.seconds,
                           "warmup_calls": warm.calls, "warmup_stable": warm.stable,
                           "after_warmup_vs_steady": float(np.median(durations[warm.calls: warm.calls + 200]))
                           / steady - 1, "loops": {}}
    begin = max(warm.seconds, 0.5)
    offsets = np.arange(begin, max(begin, t[-1] - 4.0), 0.5)
    for min_time in MIN_TIMES:
        rows = []
        for offset in offsets:
            first = int(np.searchsorted(t, offset))
            loop = timed_loop(lambda _x: None, None, 50, min_time, clock=_replay_clock(starts, ends, first),
                              target_ci=0.01, max_time_s=3.0)
            if first + loop.n_calls > starts.size:
                continue  # ran past the recording: not a loop this trace can judge
            _m, low, high = median_ci(loop.samples_ns.astype(np.float64))
            rows.append((loop.wall_ns / 1e9, loop.stop == "target met", low <= steady <= high, loop.n_calls))
        out["loops"][min_time] = rows
    return out


def main() -> int:
    from benchlib.backends.registry import available_backends
    from benchlib.system.child import run_in_child

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--backends", nargs="+", default=None)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 1000])
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}", file=sys.stderr)
    results = {}
    with tempfile.TemporaryDirectory(prefix="benchlib-evidence-") as tmp:
        for backend in args.backends or available_backends():
            for batch in args.batch_sizes:
                path = Path(tmp) / f"{backend}-{batch}.npz"
                child = run_in_child("benchmarks.stopping_evidence:trace", {
                    "backend": backend, "batch_size": batch, "seconds": args.seconds, "path": str(path)},
                    timeout_s=600, env={"PYTHONPATH": str(REPO)})
                if not child.ok:
                    print(f"{backend} b={batch}: {child.error}", file=sys.stderr)
                    continue
                data = np.load(path)
                results[(backend, batch)] = analyse(data["starts"], data["ends"])
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}", file=sys.stderr)
    print("\n| case | steady p50 µs | settled after (s) | warm-up stopped at (s) | calls | stable | "
          "first 200 calls vs steady |")
    print("| --- | ---: | ---: | ---: | ---: | --- | ---: |")
    for (backend, batch), r in results.items():
        print(f"| {backend} b={batch} | {r['steady_us']:.1f} | {r['settled_s']:.2f} | {r['warmup_s']:.3f} | "
              f"{r['warmup_calls']} | {r['warmup_stable']} | {r['after_warmup_vs_steady']:+.1%} |")
    print("\n| min time (s) | loops | met ±1% | interval holds the steady median | mean seconds | "
          "seconds of the loops that met it (p50 / p90 / max) | cases where any loop missed |")
    print("| ---: | ---: | ---: | ---: | ---: | --- | --- |")
    for min_time in MIN_TIMES:
        rows = [(case, row) for case, r in results.items() for row in r["loops"][min_time]]
        if not rows:
            continue
        missed = sorted({f"{b} b={n}" for (b, n), row in rows if not row[2]})
        met = [r[0] for _, r in rows if r[1]]
        spread = " / ".join(f"{v:.2f}" for v in np.percentile(met, [50, 90, 100])) if met else "-"
        print(f"| {min_time:g} | {len(rows)} | {np.mean([r[1] for _, r in rows]):.0%} | "
              f"{np.mean([r[2] for _, r in rows]):.0%} | {np.mean([r[0] for _, r in rows]):.2f} | {spread} | "
              f"{', '.join(missed) or '-'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
