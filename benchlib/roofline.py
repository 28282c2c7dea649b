"""The machine's measured float32 peak: the yardstick for achieved GFLOP/s.

A large square matrix multiply is the best case for a CPU (compute-bound, tuned by every BLAS), so its
rate is the practical ceiling for any dense network on this machine. It is measured with NumPy's BLAS
and with PyTorch (oneDNN/MKL), at the sweep's thread count, best of both, each in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass

DEFAULT_SIZE = 2048
DEFAULT_REPEATS = 5


@dataclass(frozen=True)
class PeakMeasurement:
    """Best observed float32 matmul rate per library, and the overall peak."""

    threads: int | None
    size: int
    repeats: int
    gflops_by_library: dict[str, float]
    errors: dict[str, str]

    @property
    def peak_gflops(self) -> float:
        """Highest rate over the libraries that ran (0.0 if none did)."""
        return max(self.gflops_by_library.values(), default=0.0)

    @property
    def peak_library(self) -> str | None:
        if not self.gflops_by_library:
            return None
        return max(self.gflops_by_library, key=self.gflops_by_library.__getitem__)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["peak_gflops"] = self.peak_gflops
        data["peak_library"] = self.peak_library
        return data


def _best_seconds(run, repeats: int) -> float:
    run()  # warm-up: first call allocates, spins up the thread pool
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def numpy_gflops(size: int, repeats: int, threads: int | None) -> float:
    import numpy as np
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a = rng.random((size, size), dtype=np.float32)
    b = rng.random((size, size), dtype=np.float32)
    out = np.empty((size, size), np.float32)
    with threadpool_limits(limits=threads, user_api="blas"):
        seconds = _best_seconds(lambda: np.matmul(a, b, out=out), repeats)
    return 2.0 * size**3 / seconds / 1e9


def torch_gflops(size: int, repeats: int, threads: int | None) -> float:
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    a = torch.rand(size, size)
    b = torch.rand(size, size)
    out = torch.empty(size, size)
    seconds = _best_seconds(lambda: torch.matmul(a, b, out=out), repeats)
    return 2.0 * size**3 / seconds / 1e9


LIBRARIES = {"numpy": numpy_gflops, "pytorch": torch_gflops}


def measure_library(library: str, size: int = DEFAULT_SIZE, repeats: int = DEFAULT_REPEATS,
                    threads: int | None = None) -> float:
    """GFLOP/s of the best of ``repeats`` ``size``×``size`` float32 matmuls with ``library`` (this process)."""
    if library not in LIBRARIES:
        raise ValueError(f"library={library!r} is unknown; allowed: {', '.join(LIBRARIES)}")
    return LIBRARIES[library](size, repeats, threads)


def measure_peak(threads: int | None = None, size: int = DEFAULT_SIZE, repeats: int = DEFAULT_REPEATS,
                 timeout_s: float = 300.0) -> PeakMeasurement:
    """Measure each library in its own fresh process and keep every rate; a failing library is recorded."""
    rates: dict[str, float] = {}
    errors: dict[str, str] = {}
    for library in LIBRARIES:
        command = [sys.executable, "-m", "benchlib.roofline", "--library", library, "--size", str(size),
                   "--repeats", str(repeats)]
        if threads is not None:
            command += ["--threads", str(threads)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            errors[library] = f"timed out after {timeout_s:g} s"
            continue
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            errors[library] = f"exit status {done.returncode}: {tail}"
            continue
        rates[library] = float(json.loads(done.stdout.strip().splitlines()[-1])["gflops"])
    return PeakMeasurement(threads, size, repeats, rates, errors)


def percent_of_peak(flops_per_sample: int, batch_size: int, seconds_per_call: float, peak_gflops: float) -> float:
    """Achieved rate of one call as a percentage of the measured peak."""
    if seconds_per_call <= 0 or peak_gflops <= 0:
        raise ValueError("seconds_per_call and peak_gflops must be positive")
    achieved = flops_per_sample * batch_size / seconds_per_call / 1e9
    return 100.0 * achieved / peak_gflops


def _main() -> None:
    parser = argparse.ArgumentParser(description="Measure one library's float32 matmul rate (used by measure_peak).")
    parser.add_argument("--library", required=True, choices=sorted(LIBRARIES))
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE)
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    print(json.dumps({"library": args.library,
                      "gflops": measure_library(args.library, args.size, args.repeats, args.threads)}))


if __name__ == "__main__":
    _main()
