"""Fidelity of the Offline scenario: benchlib's OpenVINO throughput under LoadGen against ``benchmark_app``.

On the same ONNX file and the same batch per inference, compares

* benchlib's OpenVINO Offline samples per second (LoadGen's ``result_samples_per_second``; the
  backend's ``throughput`` variant run by :mod:`benchlib.scenarios.openvino_async`: AsyncInferQueue
  on the throughput hint's streams and requests, one fresh process per run) with
* OpenVINO's own ``benchmark_app -api async -hint throughput -infer_precision f32`` FPS (samples per
  second: the batch axis is named with ``-layout``, so its FPS counts samples, not requests),

and reports the ratio benchlib / benchmark_app. The gap is what benchlib's Python SUT costs per
batch on top of the runtime (cutting LoadGen's query into batches, gathering their inputs, starting
each request and completing every sample with LoadGen); it shrinks as the batch grows.

Run: ``python benchmarks/loadgen_openvino_fidelity.py [--batch-sizes 64 1024] [--seconds 5] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from benchlib.engine.case import RunCase
from benchlib.engine.launcher import run_case
from benchlib.models.onnx_export import INPUT_NAME, ensure_onnx_file
from benchlib.models.zoo import get_model
from benchlib.scenarios.settings import ScenarioSettings


def benchmark_app_fps(model: Path, batch: int, seconds: float, shape: tuple[int, ...]) -> tuple[float, str]:
    """benchmark_app's throughput (samples/s) and the streams/requests line it printed."""
    exe = shutil.which("benchmark_app") or str(Path(sys.executable).with_name("benchmark_app"))
    cmd = [exe, "-m", str(model), "-d", "CPU", "-api", "async", "-hint", "throughput", "-infer_precision", "f32",
           "-shape", f"{INPUT_NAME}[{batch},{','.join(map(str, shape))}]",
           "-layout", f"{INPUT_NAME}[N{'?' * len(shape)}]", "-t", f"{seconds:g}"]
    # no -nthreads: benchmark_app accepts it only without a hint; with the hint both tools use every
    # usable core (benchlib: INFERENCE_NUM_THREADS = the usable cores, read back in the table)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    match = re.search(r"Throughput:\s*([0-9.]+)\s*FPS", proc.stdout)
    if proc.returncode != 0 or match is None:
        raise RuntimeError(f"benchmark_app failed ({proc.returncode}): {proc.stdout[-800:]}{proc.stderr[-800:]}")
    requests = re.search(r"\(Start inference asynchronously, ([^,]+)", proc.stdout)
    return float(match.group(1)), requests.group(1) if requests else "?"


def benchlib_offline(model: str, batch: int, seconds: float, threads: int) -> tuple[float, dict]:
    """benchlib's Offline samples per second for OpenVINO (throughput hint) and the configuration read back."""
    settings = ScenarioSettings("Offline", min_duration_s=seconds)
    case = RunCase("openvino", model=model, batch_size=batch, threads=threads, variant="throughput", scenario="Offline",
                   protocol="loadgen", extra=tuple(sorted(settings.to_extra().items())))
    record = run_case(case)
    if record["status"] != "ok":
        raise RuntimeError(f"benchlib Offline b={batch}: {record['status']}: {record['error']}")
    conc = record["concurrency"]
    return record["loadgen"]["samples_per_second"], {k: conc.get(k) for k in (
        "num_streams", "requests_in_flight", "inference_num_threads", "performance_hint")}


def main(argv: list[str] | None = None) -> int:
    from benchlib.system.env import usable_cores

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fnn", help="model of the zoo (default: fnn)")
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[64, 1024])
    parser.add_argument("--seconds", type=float, default=5.0, help="each run's duration")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each tool per batch size (interleaved)")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.repeats < 1 or any(b < 1 for b in args.batch_sizes):
        parser.error("--seconds, --repeats and --batch-sizes must be above 0")
    threads = int(usable_cores()["usable"] or 1)
    spec = get_model(args.model)
    model = ensure_onnx_file(spec)
    print(f"model: {model}\nthreads: {threads}\nload average before: {os.getloadavg()[0]:.2f}")
    rows = []
    for batch in args.batch_sizes:
        ours, theirs, config, requests = [], [], {}, "?"
        for _ in range(args.repeats):  # interleaved, so that a load change hits both tools alike
            value, config = benchlib_offline(args.model, batch, args.seconds, threads)
            ours.append(value)
            fps, requests = benchmark_app_fps(model, batch, args.seconds, spec.input_shape)
            theirs.append(fps)
        rows.append((batch, statistics.median(ours), min(ours), max(ours), statistics.median(theirs), min(theirs),
                     max(theirs), config, requests))
    print(f"load average after: {os.getloadavg()[0]:.2f}\n")
    print("| batch | benchlib Offline (samples/s) | range | benchmark_app (FPS) | range | ratio | benchlib config | "
          "benchmark_app |")
    print("| ---: | ---: | --- | ---: | --- | ---: | --- | --- |")
    for batch, ours, lo, hi, theirs, tlo, thi, config, requests in rows:
        print(f"| {batch} | {ours:,.0f} | {lo:,.0f}-{hi:,.0f} | {theirs:,.0f} | {tlo:,.0f}-{thi:,.0f} | "
              f"{ours / theirs:.2f} | {config} | {requests} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
