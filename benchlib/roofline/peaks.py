"""The machine's float32 peak: the yardstick for achieved GFLOP/s, measured by every installed framework.

A large square matrix multiply is the best case for a CPU (compute-bound, tuned by every BLAS), so its
rate is the practical ceiling for any dense network here. Which library is fastest depends on the
machine and on which builds are installed (an environment can pin NumPy's OpenBLAS to AVX2 kernels on
an AVX-512 CPU), so the yardstick is not one library's: :func:`measure_peak` runs the same float32
GEMM (:mod:`benchlib.roofline.gemm`) in every installed framework, each in its own fresh process through
:func:`benchlib.system.child.run_in_child`, at the given thread count, and the peak is the best of
them. Every framework's rate is kept, with its version, the precision it was held to and the kernels
it says it dispatched. Beside it, :func:`theoretical_peak` computes vector width × FMA units × 2 ×
frequency × threads where these can be read, naming the source of each number.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchlib.roofline.gemm import LIBRARIES

DEFAULT_SIZE = 2048
DEFAULT_REPEATS = 5
#: A library whose timed GEMMs kept more than ``threads`` + this many cores busy (CPU time over wall
#: time) did not honour its thread limit; its rate is kept in the details but not counted in the peak.
THREADS_SLACK = 0.3

__all__ = ["DEFAULT_REPEATS", "DEFAULT_SIZE", "LIBRARIES", "PeakMeasurement", "TheoreticalPeak", "measure_peak",
           "percent_of_peak", "theoretical_peak"]


@dataclass(frozen=True)
class TheoreticalPeak:
    """threads × float32 FLOP per cycle per core × GHz, and where each number came from."""

    flops_per_cycle: int | None  # float32 FLOP per cycle per core: 2 (FMA) × units × datapath lanes
    flops_source: str
    ghz: float | None
    ghz_source: str

    def gflops(self, threads: int) -> float | None:
        if self.flops_per_cycle is None or self.ghz is None:
            return None
        return threads * self.flops_per_cycle * self.ghz


# (vendor, family, first model, last model) → (microarchitecture, FMA units, datapath bits, source)
_FMA_TABLE: list[tuple[tuple[str, int, int, int], tuple[str, int, int, str]]] = [
    (("AuthenticAMD", 0x17, 0x00, 0x2F), ("Zen/Zen+", 2, 128, "AMD family 17h optimization guide: two 128-bit "
                                          "FMA pipes, 256-bit AVX instructions split in two")),
    (("AuthenticAMD", 0x17, 0x30, 0xFF), ("Zen 2", 2, 256, "AMD family 17h models 30h+ optimization guide: "
                                          "two 256-bit FMA pipes")),
    (("AuthenticAMD", 0x19, 0x00, 0x0F), ("Zen 3", 2, 256, "AMD family 19h optimization guide: two 256-bit FMA "
                                          "pipes")),
    (("AuthenticAMD", 0x19, 0x20, 0x5F), ("Zen 3", 2, 256, "AMD family 19h optimization guide: two 256-bit FMA "
                                          "pipes")),
    (("AuthenticAMD", 0x19, 0x10, 0x1F), ("Zen 4", 2, 256, "AMD family 19h models 10h+ optimization guide: "
                                          "AVX-512 executed on two 256-bit FMA pipes")),
    (("AuthenticAMD", 0x19, 0x60, 0xAF), ("Zen 4", 2, 256, "AMD family 19h models 10h+ optimization guide: "
                                          "AVX-512 executed on two 256-bit FMA pipes")),
    (("AuthenticAMD", 0x1A, 0x00, 0xFF), ("Zen 5", 2, 512, "AMD family 1Ah optimization guide: two 512-bit FMA "
                                          "pipes (server and desktop parts)")),
]


def _cpuinfo() -> dict[str, str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    info: dict[str, str] = {}
    for line in text.split("\n\n", 1)[0].splitlines():  # the first processor is enough
        key, _, value = line.partition(":")
        info[key.strip()] = value.strip()
    return info


def _fma(info: dict[str, str]) -> tuple[int | None, str]:
    vendor, flags = info.get("vendor_id", ""), set(info.get("flags", "").split())
    try:
        family, model = int(info.get("cpu family", "")), int(info.get("model", ""))
    except ValueError:
        return None, "CPU family/model not readable from /proc/cpuinfo"
    where = f"{vendor} family {family:#x} model {model:#x} (/proc/cpuinfo)"
    for (v, fam, first, last), (name, units, bits, source) in _FMA_TABLE:
        if vendor == v and family == fam and first <= model <= last:
            return 2 * units * bits // 32, f"{where} = {name}: {units} FMA units × {bits} bit; {source}"
    if vendor == "GenuineIntel" and "avx512f" in flags:
        return 64, (f"{where}, avx512f in the CPU flags: assumed 2 FMA units × 512 bit (Xeon Scalable Gold 6xxx/"
                    "Platinum and later; Silver, Bronze and some Gold 5xxx have 1, which halves this)")
    if vendor == "GenuineIntel" and {"avx2", "fma"} <= flags:
        return 32, f"{where}, avx2+fma in the CPU flags: 2 FMA units × 256 bit (Intel cores since Haswell)"
    return None, f"{where}: FMA units unknown for this CPU"


def _frequency(info: dict[str, str]) -> tuple[float | None, str]:
    cpufreq = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
    try:
        return int(cpufreq.read_text()) / 1e6, f"{cpufreq} (the highest frequency the kernel allows)"
    except (OSError, ValueError):
        pass
    nominal = re.search(r"@\s*([0-9.]+)\s*GHz", info.get("model name", ""))
    if nominal:
        return float(nominal.group(1)), "nominal frequency in the CPU's model name (/proc/cpuinfo); turbo may exceed it"
    try:
        mhz = float(info["cpu MHz"])
    except (KeyError, ValueError):
        return None, "no frequency readable (no cpufreq, no GHz in the model name, no cpu MHz)"
    return mhz / 1e3, ("'cpu MHz' in /proc/cpuinfo (no cpufreq here: under a hypervisor this is the host's nominal "
                       "rate; boost clocks can exceed it, so the measured share can pass 100%)")


def theoretical_peak() -> TheoreticalPeak:
    """Per-core float32 FLOP per cycle and the frequency, each with the source it was read from."""
    info = _cpuinfo()
    flops, flops_source = _fma(info)
    ghz, ghz_source = _frequency(info)
    return TheoreticalPeak(flops, flops_source, ghz, ghz_source)


@dataclass(frozen=True)
class PeakMeasurement:
    """Best observed float32 matmul rate per library, the overall peak, and how each library ran."""

    threads: int | None
    size: int
    repeats: int
    gflops_by_library: dict[str, float]
    errors: dict[str, str]
    #: per library: version, the precision it was held to, the kernels it dispatched
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    theoretical: TheoreticalPeak | None = None

    @property
    def peak_gflops(self) -> float:
        """Highest rate over the libraries that ran (0.0 if none did)."""
        return max(self.gflops_by_library.values(), default=0.0)

    @property
    def peak_library(self) -> str | None:
        if not self.gflops_by_library:
            return None
        return max(self.gflops_by_library, key=self.gflops_by_library.__getitem__)

    @property
    def theoretical_gflops(self) -> float | None:
        if self.theoretical is None:
            return None
        return self.theoretical.gflops(self.threads or 1)

    def table(self) -> list[dict[str, Any]]:
        """One row per library, fastest first: rate, share of the peak, version, precision, kernels."""
        rows = []
        for library, rate in sorted(self.gflops_by_library.items(), key=lambda kv: -kv[1]):
            detail = self.details.get(library, {})
            rows.append({"library": library, "gflops": rate, "share_of_peak": rate / self.peak_gflops,
                         "version": detail.get("version"), "precision": detail.get("precision"),
                         "dispatch": detail.get("dispatch")})
        rows += [{"library": library, "gflops": None, "share_of_peak": None, "error": error,
                  "version": self.details.get(library, {}).get("version")}
                 for library, error in self.errors.items()]
        return rows

    def to_dict(self) -> dict:
        data = asdict(self)
        data["peak_gflops"] = self.peak_gflops
        data["peak_library"] = self.peak_library
        data["theoretical_gflops"] = self.theoretical_gflops
        share = self.peak_gflops / self.theoretical_gflops if self.theoretical_gflops else None
        data["peak_share_of_theoretical"] = share
        data["table"] = self.table()
        return data


def installed_libraries() -> list[str]:
    """The frameworks of :data:`benchlib.roofline.gemm.LIBRARIES` installed here (NumPy always is)."""
    from benchlib.backends.registry import missing_requirement

    return [name for name in LIBRARIES if name == "numpy" or missing_requirement(name) is None]


def thread_limit_ignored(threads: int | None, cores_used: float | None, window_s: float | None) -> str | None:
    """Why a library's GEMM rate is not this thread count's peak, or None when it may count.

    Only a ratio taken over at least :data:`~benchlib.roofline.gemm.CORES_WINDOW_S` of calls can exclude a library:
    over a shorter window (or none recorded) CPU time over wall time says nothing about its threads.
    """
    from benchlib.roofline.gemm import CORES_WINDOW_S

    if threads is None or cores_used is None or window_s is None or window_s < CORES_WINDOW_S:
        return None
    if cores_used <= threads + THREADS_SLACK:
        return None
    return (f"not counted: asked for {threads} thread(s), kept {cores_used:.2f} cores busy "
            f"over {window_s:.2f} s of calls")


def measure_peak(threads: int | None = None, size: int = DEFAULT_SIZE, repeats: int = DEFAULT_REPEATS,
                 timeout_s: float = 300.0, libraries: list[str] | None = None) -> PeakMeasurement:
    """Measure each installed library in its own fresh process; a failing library is recorded, not fatal."""
    from benchlib.system.child import run_in_child

    rates: dict[str, float] = {}
    errors: dict[str, str] = {}
    details: dict[str, dict[str, Any]] = {}
    for library in libraries if libraries is not None else installed_libraries():
        payload = {"library": library, "size": size, "repeats": repeats, "threads": threads}
        # TensorFlow's oneDNN says which ISA it dispatched only in verbose mode, which it reads at start-up
        # (one line per call to a file: microseconds against a GEMM of tens of milliseconds); PyTorch
        # switches MKL's and oneDNN's verbose mode on for one untimed call instead.
        env = {"ONEDNN_VERBOSE": "1"} if library == "tensorflow" else {}
        child = run_in_child("benchlib.roofline.gemm:gemm_payload", payload, timeout_s, env=env, what="GEMM rate")
        if not child.ok or not isinstance(child.value, dict):
            errors[library] = child.error or "no result"
            continue
        details[library] = {k: child.value.get(k) for k in ("version", "precision", "dispatch", "seconds", "gflops",
                                                             "cores_used", "cores_window_s")}
        excess = thread_limit_ignored(threads, child.value.get("cores_used"), child.value.get("cores_window_s"))
        if excess:
            # A library that ignores its thread limit measures another machine: not this thread count's peak.
            errors[library] = f"{excess} ({float(child.value['gflops']):.0f} GFLOP/s with more cores than allowed)"
            continue
        rates[library] = float(child.value["gflops"])
    return PeakMeasurement(threads, size, repeats, rates, errors, details, theoretical_peak())


def percent_of_peak(gflops: Any, peak_gflops: Any) -> Any:
    """A record's achieved rate as a percentage of the measured float32 peak: the one rule for "% of peak".

    ``gflops`` is the rate the worker stored in the record (``gflops``: the spec's FLOPs per sample × batch
    over the median call), never recomputed here: a number, a pandas Series or a frame (element-wise).
    ``peak_gflops`` is one peak (a number above 0) or one per row (a Series, where a row without a positive
    peak has no percentage: NaN).
    """
    if peak_gflops is None or isinstance(peak_gflops, int | float):
        if isinstance(peak_gflops, bool) or not (peak_gflops is not None and peak_gflops > 0):  # NaN fails too
            raise ValueError(f"peak_gflops={peak_gflops!r} is invalid; allowed: a measured peak above 0 GFLOP/s")
        return 100.0 * gflops / peak_gflops
    return 100.0 * gflops / peak_gflops.where(peak_gflops > 0)


def _main() -> None:
    parser = argparse.ArgumentParser(description="Measure the float32 GEMM rate of every installed framework.")
    parser.add_argument("--threads", type=int, nargs="+", default=[1], help="thread counts (default: 1)")
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE)
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS)
    parser.add_argument("--json", action="store_true", help="print the full measurements as JSON")
    args = parser.parse_args()
    results = [measure_peak(t, args.size, args.repeats) for t in args.threads]
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2, default=str))
        return
    for result in results:
        theory = result.theoretical_gflops
        print(f"\nthreads={result.threads}: peak {result.peak_gflops:.0f} GFLOP/s ({result.peak_library})"
              + (f", {result.peak_gflops / theory:.0%} of the theoretical {theory:.0f}" if theory else ""))
        for row in result.table():
            rate = "failed: " + row["error"] if row["gflops"] is None else f"{row['gflops']:8.1f} GFLOP/s"
            print(f"  {row['library']:12s} {rate}  {row.get('precision') or ''}")
    if results and results[0].theoretical is not None:
        t = results[0].theoretical
        print(f"\nFLOP/cycle/core: {t.flops_per_cycle} ({t.flops_source})\nGHz: {t.ghz} ({t.ghz_source})")


if __name__ == "__main__":
    _main()
