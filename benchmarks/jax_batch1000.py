"""JAX at batch 1000: is benchlib's slower, wider distribution benchlib's doing, or JAX's own?

Every variant runs in a fresh process, in rounds that alternate the variants, each a fixed
``--seconds`` timed loop after a settling warm-up, on the same spec weights and the same kind of
input (uniform float32, 1000 × 200):

* ``minimal``: a plain jitted loop as a user would write it (``jax.jit(forward)``, ``block_until_ready``,
  ``np.asarray``, ``perf_counter_ns`` around each call into a list): no benchlib code in the loop;
* ``predictor``: benchlib's JAX predictor and input in a loop of the same shape (benchlib's
  backend code, none of its measuring);
* ``engine``: the same predictor through :func:`benchlib.engine.worker.measure` (timestamp storage,
  memory sampler thread, CPU window): what ``benchlib run`` does after the build;
* ``engine-no-sampler``: ``measure`` with the sampler thread asleep;
* ``worker``: the whole ``benchlib run`` case (:func:`benchlib.engine.launcher.run_case`);
* ``minimal-1-thread``: the minimal loop with XLA single-threaded (``XLA_FLAGS``), which tells
  whether the spread comes from XLA's thread pool sharing two cores with Python.

For each: p50, IQR, p5/p95, the share of calls more than 25% above the fastest decile's upper
edge (the "slow mode"), and the spread of 50 ms window medians (slow phases in time, rather than
per-call alternation). Run from the repository root: ``python benchmarks/jax_batch1000.py
[--rounds 3] [--seconds 2]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
VARIANTS = ("minimal", "predictor", "engine", "engine-no-sampler", "worker", "minimal-1-thread")


def summarise(samples_ns: np.ndarray, starts_ns: np.ndarray | None = None) -> dict[str, Any]:
    """Percentiles (ms), the slow mode's share and the spread of 50 ms window medians."""
    ms = np.asarray(samples_ns, dtype=np.float64) / 1e6
    p5, p10, p25, p50, p75, p95 = np.percentile(ms, [5, 10, 25, 50, 75, 95])
    out = {"calls": int(ms.size), "p5": p5, "p25": p25, "p50": p50, "p75": p75, "p95": p95, "iqr": p75 - p25,
           "slow_share": float(np.mean(ms > 1.25 * p10))}
    if starts_ns is not None and len(starts_ns) == len(ms):
        t = (np.asarray(starts_ns) - starts_ns[0]) / 1e9
        windows = [np.median(ms[(t >= a) & (t < a + 0.05)]) for a in np.arange(0, t[-1], 0.05)
                   if ((t >= a) & (t < a + 0.05)).sum() >= 5]
        out["window_p50_min"], out["window_p50_max"] = float(min(windows)), float(max(windows))
    return out


def _minimal(seconds: float) -> dict[str, Any]:
    import jax

    from benchlib.models.zoo import get_model

    spec = get_model("fnn")
    params = [(jax.numpy.asarray(p["weight"]), jax.numpy.asarray(p["bias"])) for p in spec.params]
    activations = [layer.activation for layer in spec.layers]

    def forward(params, x):  # noqa: ANN001, ANN202 - the user's own function
        for (w, b), act in zip(params, activations, strict=True):
            x = x @ w + b
            x = jax.nn.relu(x) if act == "relu" else jax.nn.sigmoid(x) if act == "sigmoid" else x
        return x

    f = jax.jit(forward)
    x = np.random.default_rng(0).random((1000, 200), dtype=np.float32)
    for _ in range(200):
        np.asarray(f(params, x).block_until_ready())
    starts, samples = [], []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter_ns()
        np.asarray(f(params, x).block_until_ready())
        t1 = time.perf_counter_ns()
        starts.append(t0)
        samples.append(t1 - t0)
    return summarise(np.asarray(samples), np.asarray(starts))


def child(payload: dict[str, Any]) -> dict[str, Any]:
    """One variant in this fresh process."""
    variant, seconds = payload["variant"], float(payload["seconds"])
    if variant in ("minimal", "minimal-1-thread"):
        return _minimal(seconds)
    from benchlib.backends.registry import create_backend
    from benchlib.engine.case import RunCase
    from benchlib.engine.timing import timed_loop, warm_up
    from benchlib.engine.worker import measure
    from benchlib.models.zoo import get_model

    spec = get_model("fnn")
    backend = create_backend("jax", spec, variant="jit")
    backend.import_framework()
    backend.build()
    predict = backend.raw_predictor()
    inputs = spec.random_input(1000, 0)
    predict(inputs)
    if variant == "predictor":
        warm_up(predict, inputs, 10, 0.05, 1.0)
        loop = timed_loop(predict, inputs, 50, seconds)
        return summarise(loop.samples_ns, loop.starts_ns) | {"aligned_64": inputs.ctypes.data % 64 == 0}
    case = RunCase("jax", batch_size=1000, variant="jit", min_time_s=seconds, warmup_calls=10, warmup_time_s=0.05,
                   warmup_max_s=1.0)
    interval = 3600.0 if variant == "engine-no-sampler" else 0.01
    fields = measure(predict, inputs, case, sampler_interval_s=interval)
    samples = np.asarray(fields["samples_ms"]) * 1e6  # thinned only beyond 10,000 calls
    return summarise(samples) | {"p50_engine": fields["latency_ms"]["p50"], "cpu_percent": fields["cpu_percent"]}


def run_variant(variant: str, seconds: float) -> dict[str, Any]:
    from benchlib.engine.case import RunCase
    from benchlib.engine.launcher import run_case
    from benchlib.system.child import run_in_child

    if variant == "worker":
        record = run_case(RunCase("jax", batch_size=1000, variant="jit", min_time_s=seconds, warmup_calls=10,
                                  warmup_time_s=0.05, warmup_max_s=1.0))
        if record["status"] != "ok":
            return {"error": record["error"]}
        return summarise(np.asarray(record["samples_ms"]) * 1e6) | {"p50_engine": record["latency_ms"]["p50"]}
    env = {"PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu"}
    if variant == "minimal-1-thread":
        env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    child_result = run_in_child("benchmarks.jax_batch1000:child", {"variant": variant, "seconds": seconds},
                                timeout_s=300, env=env)
    return child_result.value if child_result.ok else {"error": child_result.error}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}", file=sys.stderr)
    rows = []
    for round_ in range(1, args.rounds + 1):
        for variant in args.variants:
            rows.append((round_, variant, run_variant(variant, args.seconds)))
            print(f"round {round_} {variant}: done (load {os.getloadavg()[0]:.2f})", file=sys.stderr)
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}", file=sys.stderr)
    print("\n| round | variant | calls | p50 ms | IQR ms | p5 ms | p95 ms | slow share | 50 ms window p50 min-max |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for round_, variant, r in rows:
        if "error" in r:
            print(f"| {round_} | {variant} | failed: {r['error']} | | | | | | |")
            continue
        window = f"{r['window_p50_min']:.3f}-{r['window_p50_max']:.3f}" if "window_p50_min" in r else "-"
        print(f"| {round_} | {variant} | {r['calls']:,} | {r['p50']:.3f} | {r['iqr']:.3f} | {r['p5']:.3f} | "
              f"{r['p95']:.3f} | {r['slow_share']:.0%} | {window} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
