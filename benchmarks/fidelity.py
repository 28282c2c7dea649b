"""Fidelity benchmark: does benchlib's p50 agree with the frameworks' own benchmark tools?

Compares, on the same model and ONNX file, at batch 1 and 1000:

* benchlib's OpenVINO p50 (a fresh worker process, ``latency`` variant) with OpenVINO's
  ``benchmark_app -hint latency -infer_precision f32 -shape input[B,200]`` "Median" latency;
* benchlib's PyTorch p50 with ``torch.utils.benchmark.Timer(...).blocked_autorange()`` median
  on the same predictor callable, with the same thread count.

It also measures how much of the OpenVINO gap is the cost of calling from Python: the wall
time of each Python call minus the runtime's own per-request timer (``InferRequest.latency``).
Targets on a 2-core machine: ratio within 1.10x at batch 1000 and within 2x at batch 1.

Run: ``python benchmarks/fidelity.py [--min-time 2] [--batch-sizes 1 1000]``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchlib.engine import RunCase, run_case
from benchlib.models import get_model
from benchlib.models.onnx_export import INPUT_NAME, ensure_onnx_file

TARGETS = {1: 2.0, 1000: 1.10}


def benchmark_app_median_ms(model: Path, batch: int, seconds: float) -> float:
    """OpenVINO benchmark_app's "Median" latency (ms) for the model at ``batch``, latency hint, f32."""
    exe = shutil.which("benchmark_app") or str(Path(sys.executable).with_name("benchmark_app"))
    cmd = [exe, "-m", str(model), "-d", "CPU", "-hint", "latency", "-infer_precision", "f32",
           "-shape", f"{INPUT_NAME}[{batch},200]", "-t", f"{seconds:g}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    # benchmark_app prints "Median: 10.67 us" or "Median: 1.23 ms" depending on the magnitude.
    match = re.search(r"Median:\s*([0-9.]+)\s*(us|ms|s)\b", proc.stdout)
    if proc.returncode != 0 or match is None:
        raise RuntimeError(f"benchmark_app failed ({proc.returncode}): {proc.stdout[-800:]}{proc.stderr[-800:]}")
    return float(match.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[match.group(2)]


def benchlib_p50_ms(backend: str, batch: int, seconds: float, variant: str | None = None) -> float:
    """benchlib's p50 (ms) from a fresh worker process."""
    record = run_case(RunCase(backend, batch_size=batch, variant=variant, min_time_s=seconds))
    if record["status"] != "ok":
        raise RuntimeError(f"{backend} b={batch}: {record['status']}: {record['error']}")
    return record["latency_ms"]["p50"]


def torch_timer_median_ms(batch: int, seconds: float) -> tuple[float, int]:
    """torch.utils.benchmark median (ms) of the same predictor benchlib times, and its thread count."""
    import torch
    import torch.utils.benchmark as tb

    from benchlib.backends.registry import create_backend

    spec = get_model("fnn")
    backend = create_backend("pytorch", spec)
    predict = backend.raw_predictor()
    inputs = spec.random_input(batch, 0)
    threads = torch.get_num_threads()  # Timer defaults to 1 thread; benchlib uses the default
    timer = tb.Timer(stmt="predict(inputs)", globals={"predict": predict, "inputs": inputs}, num_threads=threads)
    return timer.blocked_autorange(min_run_time=seconds).median * 1e3, threads


def openvino_python_overhead_us(batch: int, calls: int = 2000) -> tuple[float, float, float]:
    """Median Python wall per call, runtime's own request latency, and the difference (µs)."""
    from benchlib.backends.registry import create_backend

    spec = get_model("fnn")
    backend = create_backend("openvino", spec, variant="latency")
    predict = backend.raw_predictor()
    inputs = spec.random_input(batch, 0)
    for _ in range(50):
        predict(inputs)
    request = backend.static_shape(batch).request  # the reused infer request the predictor calls
    calls = max(50, calls // max(1, batch // 10))
    wall = np.empty(calls)
    runtime = np.empty(calls)
    clock = time.perf_counter_ns
    for i in range(calls):
        t0 = clock()
        predict(inputs)
        wall[i] = clock() - t0
        runtime[i] = request.latency * 1e3  # ms -> µs, the runtime's own timer for that request
    wall_us, runtime_us = float(np.median(wall)) / 1e3, float(np.median(runtime))
    return wall_us, runtime_us, wall_us - runtime_us


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-time", type=float, default=2.0, help="seconds per measurement (default 2)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 1000])
    args = parser.parse_args()
    onnx_file = ensure_onnx_file(get_model("fnn"))
    print(f"model: {onnx_file}")
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    rows = []
    for batch in args.batch_sizes:
        print(f"batch {batch}: load average {os.getloadavg()[0]:.2f}", file=sys.stderr)
        ov_ours = benchlib_p50_ms("openvino", batch, args.min_time, "latency")
        ov_theirs = benchmark_app_median_ms(onnx_file, batch, args.min_time)
        wall_us, runtime_us, overhead_us = openvino_python_overhead_us(batch)
        pt_ours = benchlib_p50_ms("pytorch", batch, args.min_time)
        pt_theirs, threads = torch_timer_median_ms(batch, args.min_time)
        rows.append((batch, ov_ours, ov_theirs, wall_us, runtime_us, overhead_us, pt_ours, pt_theirs, threads))

    ok = True
    print("\n| batch | tool | benchlib p50 ms | reference median ms | ratio | target |")
    print("| ---: | --- | ---: | ---: | ---: | ---: |")
    for batch, ov_ours, ov_theirs, _w, _r, _o, pt_ours, pt_theirs, threads in rows:
        target = TARGETS.get(batch, 1.10 if batch >= 100 else 2.0)
        for tool, ours, theirs in (("openvino vs benchmark_app", ov_ours, ov_theirs),
                                   (f"pytorch vs torch Timer ({threads} thr)", pt_ours, pt_theirs)):
            ratio = ours / theirs
            ok &= ratio <= target
            print(f"| {batch} | {tool} | {ours:.4f} | {theirs:.4f} | {ratio:.2f}x | {target:.2f}x |")
    print("\nOpenVINO Python-call overhead (same process, static-shape model, reused request, bound buffers):")
    print("| batch | benchlib p50 µs | benchmark_app median µs | gap µs | Python wall per call µs "
          "| runtime request.latency µs | Python-side µs | Python-side share of gap |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for batch, ov_ours, ov_theirs, wall_us, runtime_us, overhead_us, *_ in rows:
        gap = (ov_ours - ov_theirs) * 1e3
        share = f"{overhead_us / gap:.0%}" if gap > 0 else "n/a (no gap)"
        print(f"| {batch} | {ov_ours * 1e3:.1f} | {ov_theirs * 1e3:.1f} | {gap:.1f} | {wall_us:.1f} "
              f"| {runtime_us:.1f} | {overhead_us:.1f} | {share} |")
    print("\nload average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print("\nall ratios within targets" if ok else "\nSOME RATIOS OUTSIDE TARGETS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
