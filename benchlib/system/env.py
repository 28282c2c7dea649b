"""Environment fingerprint stored with every record, printed by ``benchlib env``.

Nothing here imports a framework: versions come from installed package metadata.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import math
import os
import platform
import sys
from pathlib import Path
from typing import Any

import psutil

# -- usable cores: the affinity mask and a cgroup CPU quota (containers often get a quota below the
#    machine's core count) ----------------------------------------------------------------------

def affinity_cores() -> int:
    """Number of CPUs this process may run on (its affinity mask)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def cgroup_dirs() -> list[tuple[int, Path]]:
    """Candidate cgroup directories of this process, as (cgroup version, path)."""
    dirs: list[tuple[int, Path]] = []
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, rel = parts
        rel = rel.lstrip("/")
        if hierarchy == "0" and controllers == "":
            dirs.append((2, Path("/sys/fs/cgroup") / rel))
        elif "cpu" in controllers.split(","):
            for mount in ("/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu"):
                dirs.append((1, Path(mount) / rel))
    # Inside a container the process's cgroup is usually mounted as the root.
    dirs += [(2, Path("/sys/fs/cgroup")), (1, Path("/sys/fs/cgroup/cpu,cpuacct")), (1, Path("/sys/fs/cgroup/cpu"))]
    return dirs


def cgroup_quota_cores() -> float | None:
    """CPU quota as a number of cores (e.g. 1.5), or ``None`` when there is no quota."""
    for version, directory in cgroup_dirs():
        try:
            if version == 2:
                text = (directory / "cpu.max").read_text().split()
                if text and text[0] != "max":
                    return int(text[0]) / int(text[1])
                if text:
                    return None
            else:
                quota = int((directory / "cpu.cfs_quota_us").read_text())
                period = int((directory / "cpu.cfs_period_us").read_text())
                return quota / period if quota > 0 and period > 0 else None
        except (OSError, ValueError, IndexError):
            continue
    return None


def usable_cores() -> dict[str, float | int | None]:
    """Cores available to this process: ``affinity``, cgroup ``quota`` (cores or None), ``usable``.

    ``usable`` is the smaller of the affinity count and the quota, rounded up (a 1.5-core quota
    still lets two threads run, but only for three quarters of the time each).
    """
    affinity = affinity_cores()
    quota = cgroup_quota_cores()
    usable = affinity if quota is None else max(1, min(affinity, math.ceil(quota)))
    return {"affinity": affinity, "quota": quota, "usable": usable}



#: Distributions whose versions matter for a result (first installed name wins per framework).
FRAMEWORK_DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "numpy": ("numpy",),
    "torch": ("torch",),
    "tensorflow": ("tensorflow-cpu", "tensorflow", "tensorflow-intel"),
    "keras": ("keras",),
    "jax": ("jax",),
    "jaxlib": ("jaxlib",),
    "onnxruntime": ("onnxruntime", "onnxruntime-openvino"),
    "onnx": ("onnx",),
    "openvino": ("openvino",),
}

#: Environment variables that change how many threads a framework uses or how it compiles.
THREAD_ENV_VARS = (
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "TF_ENABLE_ONEDNN_OPTS",
    "XLA_FLAGS", "JAX_PLATFORMS", "OMP_PROC_BIND", "OMP_PLACES", "KMP_AFFINITY", "KMP_BLOCKTIME",
    "ORT_NUM_THREADS", "OV_CPU_THREADS_NUM", "BENCHLIB_BLOCK_IMPORTS",
    # not a thread count, but it picks NumPy's BLAS kernels (Haswell's on an AVX-512 CPU): same effect on a median
    "OPENBLAS_CORETYPE",
)

#: CPU flags that decide which kernels an inference runtime can use.
ISA_PREFIXES = ("avx512", "amx")
ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx_vnni", "avx512_vnni", "avx512_bf16", "avx512_fp16")

#: Load average per usable core above which the machine is called busy.
BUSY_LOAD_PER_CORE = 0.5
#: Set by the first ``run_cases`` (or the suite) to the load average before its first run.
BATCH_LOAD_ENV = "BENCHLIB_LOAD_BEFORE_BATCH"


@functools.lru_cache(maxsize=1)
def cpu_info() -> dict[str, Any]:
    """CPU model and inference-relevant ISA flags (cached: read once per process).

    /proc/cpuinfo is read directly; py-cpuinfo is only a fallback because it can take a second
    (it may spawn a subprocess).
    """
    model, flags = "", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "model name" and not model:
                model = value.strip()
            elif key == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    if not model:
        try:
            import cpuinfo  # py-cpuinfo: slow, only when /proc/cpuinfo is unavailable

            info = cpuinfo.get_cpu_info()
            model, flags = info.get("brand_raw", ""), set(info.get("flags", []))
        except Exception:  # noqa: BLE001 - a missing CPU model must not stop a benchmark
            model = platform.processor() or platform.machine()
    isa = sorted(f for f in flags if f in ISA_FLAGS or f.startswith(ISA_PREFIXES) or "vnni" in f)
    return {"cpu_model": model or "unknown", "isa_flags": isa}


def framework_versions() -> dict[str, str | None]:
    """Installed version of every framework (``None`` when absent), from package metadata."""
    versions: dict[str, str | None] = {}
    for name, distributions in FRAMEWORK_DISTRIBUTIONS.items():
        versions[name] = None
        for dist in distributions:
            try:
                versions[name] = importlib.metadata.version(dist)
                break
            except importlib.metadata.PackageNotFoundError:
                continue
    return versions


def fingerprint_key(env: dict[str, Any]) -> str:
    """Short hash of what makes results comparable: CPU model and framework versions."""
    what = {"cpu_model": env.get("cpu_model"), "frameworks": env.get("frameworks")}
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]


#: Fingerprint fields that describe the machine itself (not its software): records that differ in
#: these come from different machines and are never compared or collapsed without saying so.
MACHINE_FIELDS = ("cpu_model", "isa_flags", "usable_cores", "logical_cores", "cpu_quota_cores")


def machine_key(env: dict[str, Any] | None) -> str | None:
    """Short hash of the machine part of a fingerprint (:data:`MACHINE_FIELDS`); ``None`` without ``env``."""
    if not isinstance(env, dict):
        return None
    what = {name: env.get(name) for name in MACHINE_FIELDS}
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:16]


def fingerprint_differences(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, tuple[Any, Any]]:
    """Fields of two fingerprints that differ: machine fields and framework versions, as (a, b)."""
    a, b = a or {}, b or {}
    diff = {name: (a.get(name), b.get(name)) for name in MACHINE_FIELDS if a.get(name) != b.get(name)}
    fa, fb = a.get("frameworks") or {}, b.get("frameworks") or {}
    for name in sorted(set(fa) | set(fb)):
        if fa.get(name) != fb.get(name):
            diff[f"frameworks.{name}"] = (fa.get(name), fb.get(name))
    return diff


def collect_env() -> dict[str, Any]:
    """The environment fingerprint: CPU, cores, memory, OS, Python, frameworks, thread vars, load."""
    cores = usable_cores()
    try:
        load = list(os.getloadavg())
    except OSError:
        load = None
    memory = psutil.virtual_memory()
    env: dict[str, Any] = {
        **cpu_info(),
        "physical_cores": psutil.cpu_count(logical=False),
        "logical_cores": psutil.cpu_count(logical=True),
        "affinity_cores": cores["affinity"],
        "cpu_quota_cores": cores["quota"],
        "usable_cores": cores["usable"],
        "memory_total_mb": round(memory.total / 2**20, 1),
        "memory_available_mb": round(memory.available / 2**20, 1),
        "os": platform.system(),
        "kernel": platform.release(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "python_executable": sys.executable,
        "frameworks": framework_versions(),
        "thread_env": {name: os.environ[name] for name in THREAD_ENV_VARS if name in os.environ},
        "load_avg": load,
        "load_avg_before_batch": _stored_batch_start_load(),
    }
    env["key"] = fingerprint_key(env)
    env["warnings"] = env_warnings(env)
    return env


def _stored_batch_start_load() -> float | None:
    # The variable is checked once at the edge (CLI, suite, notebooks: benchlib.engine.env_params.ENV_CHECKS); every
    # worker reads the environment again, and a bad value that reached one (through the Python API) is
    # recorded as unknown rather than failing each case, and never stored.
    try:
        return batch_start_load()
    except ValueError:
        return None


def batch_start_load(value: str | None = None) -> float | None:
    """The load average before this batch of runs (``BENCHLIB_LOAD_BEFORE_BATCH``), or ``None`` when unset.

    ``value`` defaults to the variable's. A load average is a finite number, zero or more; anything
    else raises ``ValueError`` naming the variable, the value and what is allowed (a negative or NaN
    figure would hide a busy machine and be stored in every record).
    """
    value = os.environ.get(BATCH_LOAD_ENV) if value is None else value
    if not value:
        return None
    try:
        load = float(value)
    except ValueError:
        load = float("nan")
    if not math.isfinite(load) or load < 0:
        raise ValueError(f"{BATCH_LOAD_ENV}={value!r} is invalid; allowed: unset (benchlib sets it before a batch "
                         "of runs), or the 1-minute load average as a finite number >= 0, e.g. 0.35")
    return load


def env_warnings(env: dict[str, Any]) -> list[str]:
    """Reasons to distrust results measured in this environment.

    Within a batch of runs, the 1-minute load average mostly counts the batch's own earlier runs
    (it decays over minutes), so the figure taken before the batch started is the one judged; load
    that appears during the batch is caught by the worker's measurement of other processes' CPU
    time over each timed loop.
    """
    warnings: list[str] = []
    usable = env.get("usable_cores") or 1
    load = env.get("load_avg")
    before = env.get("load_avg_before_batch")
    if before is not None:
        if before > BUSY_LOAD_PER_CORE * usable:
            warnings.append(f"busy machine: 1-minute load average {before:.2f} before this batch of runs "
                            f"exceeds {BUSY_LOAD_PER_CORE} per usable core ({usable} usable)")
    elif load and load[0] > BUSY_LOAD_PER_CORE * usable:
        warnings.append(f"busy machine: 1-minute load average {load[0]:.2f} exceeds "
                        f"{BUSY_LOAD_PER_CORE} per usable core ({usable} usable)")
    quota = env.get("cpu_quota_cores")
    logical = env.get("logical_cores") or usable
    if quota is not None and quota < logical:
        warnings.append(f"CPU quota of {quota:g} cores is below the {logical} logical cores")
    affinity = env.get("affinity_cores")
    if affinity is not None and affinity < logical:
        warnings.append(f"affinity mask allows {affinity} of {logical} logical cores")
    return warnings
