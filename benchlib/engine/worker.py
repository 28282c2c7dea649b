"""What one run does inside its own process (started by :mod:`benchlib.system.child`), whatever its scenario.

Every case loads its model (a zoo spec, a user's ONNX file or a PyTorch factory's export), builds its
backend at the case's precision (:mod:`benchlib.engine.build`), checks its outputs with the one output
check and turns any exception into its record (:mod:`benchlib.engine.outcome`). A ``single`` case then
runs the timed loop; its phases, each timed with ``time.perf_counter_ns``: interpreter baseline memory,
framework import, model build, first (cold) call, warm-up, the timed loop (with the memory sampler, CPU
time and context switches measured around it, never inside), the output check against the reference,
and the harness overhead. A case with one of LoadGen's scenarios runs it instead
(:mod:`benchlib.engine.loadgen_run`). The record travels back as a JSON file, never through stdout,
because frameworks print to stdout.
"""

from __future__ import annotations

import os
import resource
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchlib.engine.build import accuracy_fields, built_fields, new_backend, precision_fields
from benchlib.engine.case import RunCase
from benchlib.engine.clock import DEFAULT_CLOCK, Clock
from benchlib.engine.cpu import CpuWindow
from benchlib.engine.sampler import Sampler, memory_now
from benchlib.engine.stats import compute_stats, halfwidth_of, median_ci, subsample
from benchlib.engine.timing import (
    OUT_OF_REACH,
    PRECISION_LEVEL,
    STOP_OUT_OF_REACH,
    LoopResult,
    Timestamps,
    effective_max_time,
    expected_calls,
    harness_overhead_ns,
    timed_loop,
    warm_up,
)
from benchlib.system.audit import loop_warnings
from benchlib.system.env import usable_cores

#: Test-only fault injection: honoured only when this variable is "1" AND the case's ``extra``
#: has ``test_fault``: raise | abort | kill (SIGKILL, as the out-of-memory killer would) | hang |
#: hang_with_child (hangs after starting ``sleep`` grandchildren, one of them in its own session;
#: their pids go to stderr) | exit | perturb (adds 1e-3 to the outputs handed to the reference
#: check, as perturbed weights would) | no_fallback (a user model's fallback reference raises, as
#: when ONNX Runtime cannot run the graph either) | sut_raise | sut_abort (a LoadGen scenario's system
#: under test fails, :data:`benchlib.engine.loadgen_run.SUT_FAULTS`). It is checked before any phase
#: and at the output check, never inside the timed path.
TEST_FAULTS_ENV = "BENCHLIB_TEST_FAULTS"
TEST_FAULTS = ("raise", "abort", "kill", "hang", "hang_with_child", "exit", "perturb", "no_fallback", "sut_raise",
               "sut_abort")
#: Faults that act later: at the output check, or inside a LoadGen scenario's system under test.
LATER_FAULTS = ("perturb", "no_fallback", "sut_raise", "sut_abort")
#: Other processes using more than this fraction of the usable cores during the timed loop
#: make the record warn of a busy machine (the 1-minute load average reacts too slowly).
BUSY_OTHERS_FRACTION = 0.25
#: At most this many raw per-call samples are stored in a record (uniformly thinned).
MAX_STORED_SAMPLES = 10_000


#: Set by :mod:`benchlib.engine.live` in a process kept for interleaved rounds: called with the predictor
#: and its inputs once the outputs are checked, so that the rounds time the very predictor this run built.
ON_READY: Callable[[Callable[[Any], Any], Any], None] | None = None


def _test_fault(case: RunCase) -> str | None:
    fault = dict(case.extra).get("test_fault")
    return fault if fault and os.environ.get(TEST_FAULTS_ENV) == "1" else None


def _apply_test_fault(case: RunCase) -> None:
    fault = _test_fault(case)
    if not fault or fault in LATER_FAULTS:
        return
    if fault == "raise":
        raise RuntimeError("injected test fault")
    if fault == "abort":
        os.abort()
    if fault == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if fault == "hang_with_child":
        import subprocess

        same_group = subprocess.Popen(["sleep", "600"])
        own_session = subprocess.Popen(["sleep", "600"], start_new_session=True)
        print(f"grandchild pids: {same_group.pid} {own_session.pid}", file=sys.stderr, flush=True)
        fault = "hang"
    if fault == "hang":
        while True:
            time.sleep(1)
    if fault == "exit":
        os._exit(3)
    raise ValueError(f"test_fault={fault!r} is unknown; allowed: {', '.join(TEST_FAULTS)}")


def measure(
    predict: Callable[[Any], Any],
    inputs: Any,
    case: RunCase,
    clock: Clock = DEFAULT_CLOCK,
    sampler_interval_s: float = 0.01,
    uss_every: int = 5,
) -> dict[str, Any]:
    """Warm up, then run the timed loop with memory, CPU and context switches measured around it.

    Returns record fields (latency statistics, stopping, warm-up, throughput, CPU, peaks). Usable
    on any callable, which is how the accounting tests feed it a workload of known cost.
    """
    tick = time.perf_counter_ns()
    warm = warm_up(predict, inputs, case.warmup_calls, case.warmup_time_s, case.warmup_max_s, clock=clock)
    warmup_s = (time.perf_counter_ns() - tick) / 1e9
    # The timestamp storage is sized from the warm-up's pace and its pages written now, before
    # the sampler's first reading: the loop then grows the process only if it outruns the estimate.
    storage = Timestamps(expected_calls(case.min_calls, case.min_time_s, warm.per_call_ns),
                         scratch=case.target_ci > 0)
    cores = int(usable_cores()["usable"] or 1)
    # RSS every tick (10 ms); USS (smaps_rollup, up to ~2 ms on a TensorFlow-sized process)
    # every 5th tick, which keeps the sampler's own cost to a few percent of one core.
    sampler = Sampler(interval_s=sampler_interval_s, uss_every=uss_every)
    window = CpuWindow(usable=cores)
    sampler.start()
    window.start()
    loop = timed_loop(predict, inputs, case.min_calls, case.min_time_s, clock=clock, target_ci=case.target_ci,
                      max_time_s=case.max_time_s, storage=storage)
    cpu = window.stop()
    seen = sampler.stop()
    stats = compute_stats(loop.samples_ns, batch_size=case.batch_size, seed=case.seed)
    framework_cpu_percent = max(0.0, 100.0 * (cpu.cpu_s - seen.sampler_cpu_s) / cpu.wall_s)
    samples_ms, stride = subsample(loop.samples_ns, MAX_STORED_SAMPLES)
    warnings = []
    if cpu.others_cores is not None and cpu.others_cores > BUSY_OTHERS_FRACTION * cores:
        warnings.append(f"busy machine: other processes used {cpu.others_cores:.2f} of the {cores} usable "
                        f"core(s) during the timed loop")
    stopping = _stopping(case, loop)
    if stopping["met"] is False:
        warnings.append(f"precision target not met: {stopping['reason']}")
    storage_mb = loop.storage_bytes / 2**20
    return {
        "others_cpu_cores": cpu.others_cores,
        # steal, cgroup throttling and swap during the loop: each can move the number (benchlib.system.audit)
        "noise": cpu.noise,
        "loop_warnings": warnings + loop_warnings(cpu.noise or {}, cpu.wall_s, cores),
        "latency_ms": stats.latency_ms(),
        "latency_ci95_ms": stats.ci95_ms(),
        "cv": stats.cv,
        "noisy": stats.noisy,
        "noisy_reasons": list(stats.noisy_reasons),
        "n_calls": stats.n_calls,
        "loop_wall_s": loop.wall_ns / 1e9,
        "stopping": stopping,
        "warmup": {**warm.to_dict(), "max_s": case.warmup_max_s, "wall_s": warmup_s},
        "throughput_sps": stats.throughput_sps,
        "throughput_mean_sps": case.batch_size * loop.n_calls / (loop.wall_ns / 1e9) if loop.wall_ns else None,
        # The sampler thread runs inside the measured process; its own CPU time is taken out so
        # that the figure is the framework's (the raw figure stays in cpu_percent_with_sampler).
        "cpu_percent": framework_cpu_percent,
        "cpu_percent_with_sampler": cpu.cpu_percent,
        "cpu_fraction_of_usable": framework_cpu_percent / 100.0 / cores,
        "usable_cores": cores,
        "ctx_switches": {"voluntary": cpu.voluntary_ctx_switches, "involuntary": cpu.involuntary_ctx_switches},
        "per_core_percent": seen.per_core_percent,
        "per_core_timeline": seen.per_core_timeline,
        "rss_peak_mb": seen.rss_peak_mb,
        "uss_peak_mb": seen.uss_peak_mb,
        "rss_timeline_mb": seen.rss_timeline_mb,
        # What the process grew while the loop ran (the storage was resident before it began).
        "loop_rss_growth_mb": seen.rss_peak_mb - seen.rss_first_mb,
        "timing_storage_mb": storage_mb,
        "sampler": {"interval_s": seen.interval_s, "n_samples": seen.n_samples,
                    "cpu_percent": seen.sampler_cpu_percent, "uss_every": uss_every},
        "samples_ms": samples_ms,
        "samples_stride": stride,
    }


def _stopping(case: RunCase, loop: LoopResult) -> dict[str, Any]:
    """The record's ``stopping`` object: target, achieved half-width, whether met and why, what it cost.

    The interval is the one the loop stops on: order statistics at :data:`PRECISION_LEVEL` with a
    target (a 95% interval once the sequential looks are paid for), at 95% in fixed mode (no looks).
    """
    level = PRECISION_LEVEL if case.target_ci > 0 else 0.95
    median, low, high = median_ci(loop.samples_ns.astype(np.float64), level)
    halfwidth = halfwidth_of(median, low, high)
    ci_ns = (low, high)
    seconds = loop.wall_ns / 1e9
    achieved = f"±{halfwidth:.2%}" if np.isfinite(halfwidth) else "no interval (too few calls)"
    cap = effective_max_time(case.min_time_s, case.max_time_s)
    if case.target_ci <= 0:
        met, reason = None, f"fixed time: {achieved} after {loop.n_calls} calls in {seconds:.2f} s"
    elif loop.target_met:
        met, reason = True, f"{achieved} ≤ ±{case.target_ci:.2%} after {loop.n_calls} calls in {seconds:.2f} s"
    elif loop.stop == STOP_OUT_OF_REACH:
        needed = seconds * (halfwidth / case.target_ci) ** 2 if np.isfinite(halfwidth) else float("inf")
        met, reason = False, (f"{achieved} after {seconds:.2f} s ({loop.n_calls} calls); ±{case.target_ci:.2%} would "
                              f"need about {needed:.0f} s at this spread, more than {OUT_OF_REACH:g}× the max time "
                              f"{cap:g} s")
    else:
        limit = f"max time {cap:g} s" if loop.stop != "max calls" else f"max calls ({loop.n_calls})"
        met, reason = False, f"{achieved} > ±{case.target_ci:.2%} when {limit} was reached ({loop.n_calls} calls)"
    return {
        "target_ci": case.target_ci, "halfwidth": halfwidth if np.isfinite(halfwidth) else None, "met": met,
        "stop": loop.stop, "reason": reason, "method": f"order statistics at {level:.0%}" + (
            " (95% once the sequential looks are paid for)" if case.target_ci > 0 else ""),
        "ci95_ms": [v / 1e6 for v in ci_ns], "calls": loop.n_calls, "seconds": seconds,
        "max_time_s": cap if case.target_ci > 0 else None, "checks": loop.checks, "check_s": loop.check_ns / 1e9,
        "blocks": loop.blocks, "storage_regrowths": loop.regrowths,
    }


def run_worker(case: RunCase) -> dict[str, Any]:
    """Run every phase of ``case`` in this process and return its record (never raises but for Ctrl-C).

    The case's ``scenario`` picks the measurement: ``single``, the timed loop (:func:`_timed_run`), or
    one of LoadGen's (:func:`benchlib.engine.loadgen_run.run_loadgen`). Both load the model, apply the
    precision and check the outputs the same way, and any exception becomes the record the same way
    (:func:`benchlib.engine.outcome.failure_record`).
    """
    from benchlib.engine.outcome import failure_record
    from benchlib.models.user import load_model, model_identity
    from benchlib.results.schema import make_record
    from benchlib.system.env import collect_env, fingerprint_key

    fixed: dict[str, float | None] = {"process_start": process_age_s()}
    rss_start, uss_start = memory_now()
    fields: dict[str, Any] = {"pid": os.getpid(), "rss_mb": {"start": rss_start}, "uss_mb": {"start": uss_start},
                              "fixed_s": fixed, "warnings": []}
    try:
        t0 = time.perf_counter_ns()
        env = collect_env()
        fields.update(env=env, env_key=fingerprint_key(env), warnings=list(env["warnings"]))
        fixed["env"] = (time.perf_counter_ns() - t0) / 1e9
        _apply_test_fault(case)
        spec = load_model(case.model, case.extra)  # a zoo spec, or a checked ONNX file (benchlib.models.user)
        fields["model_info"] = model_identity(spec)  # name, kind, hash, size, parameters, FLOPs
        fields["flops_per_sample"] = spec.flops_per_sample()
        if case.scenario == "single":
            _timed_run(case, spec, env, fields)
        else:
            from benchlib.engine.loadgen_run import run_loadgen

            run_loadgen(case, spec, env, fields, fault=_test_fault(case))
        return make_record(case, status="ok", **fields)
    except BaseException as exc:  # noqa: BLE001 - the record must say why, whatever happened
        if isinstance(exc, KeyboardInterrupt):
            raise
        return failure_record(case, exc, **fields)


def _timed_run(case: RunCase, spec: Any, env: dict[str, Any], fields: dict[str, Any]) -> None:
    """Build, first call, warm-up, timed loop, output check: fills record ``fields`` (raises on failure)."""
    from benchlib.backends.base import validate_input
    from benchlib.engine.outcome import output_fields
    from benchlib.models.output_check import check_outputs
    from benchlib.precision import tolerance_for

    fixed, rss_start = fields["fixed_s"], fields["rss_mb"]["start"]
    backend = new_backend(case, spec, case.threads, case.variant, (case.batch_size,), fields)
    # The numeric precision: one missing from the backend's table raised UnsupportedPrecisionError (skipped).
    fields.update(precision_fields(backend, case, env))

    t0 = time.perf_counter_ns()
    backend.import_framework()
    fields["import_s"] = fixed["import"] = (time.perf_counter_ns() - t0) / 1e9
    fields["rss_mb"]["after_import"], fields["uss_mb"]["after_import"] = memory_now()

    t0 = time.perf_counter_ns()
    backend.build()
    predict = backend.raw_predictor()
    fields["load_s"] = fixed["build"] = (time.perf_counter_ns() - t0) / 1e9
    fields["rss_mb"]["after_load"], fields["uss_mb"]["after_load"] = memory_now()
    fields["thread_settings"] = backend.thread_settings()
    built_fields(backend, fields)  # version, the precision as built, the file the framework read

    inputs = spec.random_input(case.batch_size, case.seed)
    if not isinstance(inputs, dict):  # a user model's named inputs are made from its own graph
        validate_input(inputs, spec.input_shape, spec.input_dtype)  # once, outside the timed path
    t0 = time.perf_counter_ns()
    first = predict(inputs)
    fields["first_call_ms"] = (time.perf_counter_ns() - t0) / 1e6
    fixed["first_call"] = fields["first_call_ms"] / 1e3

    fields.update(measure(predict, inputs, case))
    # read before the output check: a user model's fallback reference can hold a float64 copy of it
    fields["ru_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    fields["warnings"] += fields.pop("loop_warnings")
    fixed["warmup"] = fields["warmup"]["wall_s"]
    t0 = time.perf_counter_ns()
    last = predict(inputs)
    fault = _test_fault(case)
    if fault == "perturb":
        first, last = ([o + np.float32(1e-3) for o in out] if isinstance(out, list) else out + np.float32(1e-3)
                       for out in (first, last))
    # A zoo model against its float64 NumPy forward pass; a user model every output against ONNX's reference
    # evaluator (or its fallback), relative to its magnitude. A check that cannot run leaves the outputs
    # unverified; the measurement stands. The tolerance: the model's own (see ModelSpec.tolerance_reason)
    # at fp32, a reduced precision's own above it.
    check = check_outputs(spec, inputs, [first, last], fault == "no_fallback")
    fields.update(output_fields(check, tolerance_for(case.precision, spec.tolerance), case.precision,
                                fields["warnings"]))
    accuracy_fields(predict, spec, case, fields)  # after the timed loop, never inside it
    if ON_READY is not None:  # interleaved rounds (benchlib.engine.live) keep the checked predictor warm
        ON_READY(predict, inputs)
    fields["harness_overhead_us"] = harness_overhead_ns() / 1e3
    fixed["after_loop"] = (time.perf_counter_ns() - t0) / 1e9  # output check and harness overhead

    p50_s = fields["latency_ms"]["p50"] / 1e3
    flops = spec.flops_per_sample()  # None where a user model's shapes could not be inferred
    fields["gflops"] = flops * case.batch_size / p50_s / 1e9 if p50_s > 0 and flops is not None else None
    fields["rss_mb"]["peak"] = fields["rss_peak_mb"]
    fields["uss_mb"]["peak"] = fields["uss_peak_mb"]
    # The timed loop's timestamp storage is the harness's, not the framework's (exact: its pages are resident).
    fields["framework_mb"] = fields["rss_peak_mb"] - rss_start - fields["timing_storage_mb"]
    if fields["noisy"]:
        fields["warnings"].append("noisy: " + "; ".join(fields["noisy_reasons"]))


def process_age_s() -> float | None:
    """Seconds since the kernel created this process (interpreter start and imports so far).

    From ``/proc/self/stat``'s start time (clock ticks since boot, 10 ms on most kernels) against
    ``CLOCK_BOOTTIME``, the clock that start time counts in; ``None`` where either is unreadable.
    """
    try:
        after_name = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        start_ticks = int(after_name[19])  # field 22 of stat(5); fields 1-2 precede the ")"
        return max(0.0, time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def run_case_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """Child-process entry (:func:`benchlib.system.child.run_in_child`): a case dict in, its record out."""
    return run_worker(RunCase.from_dict(payload, checked=True))  # the parent checked the case
