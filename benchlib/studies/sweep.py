"""Sweeps: every variant of every selected backend over batch sizes and thread counts, against the roofline.

The models are the zoo's or a user's (an ONNX file, a ``torch:`` or ``keras:`` factory), as ``run`` takes them:
a user's model is checked and planned once, by :func:`sweep_config`, and every case carries that plan.

A sweep is a list of :class:`~benchlib.engine.case.RunCase` (one fresh process each, run by the
engine's :func:`~benchlib.engine.launcher.run_cases`), plus the machine's measured float32 peak
(:func:`benchlib.roofline.peaks.measure_peak`) once per thread count, stored as JSON beside the results
file. Sweeps have every study's shape (:mod:`benchlib.studies.plan`) and resume like every study: a case
whose ``case_key`` already has an ``ok`` record (or a ``skipped`` one: a variant this framework version
cannot run stays unrunnable) from the same environment is not run again; ``failed`` cases are retried.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchlib import defaults
from benchlib.engine.case import RunCase
from benchlib.engine.grid import PlannedModel
from benchlib.studies.plan import StudyRun, plan_study, results_file, run_study
from benchlib.system.files import atomic_write_text

#: fnn's batch sizes, from one request to a large offline batch (every model states its own in
#: ``ModelSpec.batch_sizes``; a sweep without explicit batch sizes runs each model at its own).
DEFAULT_BATCH_SIZES: tuple[int, ...] = (1, 8, 64, 256, 1000, 4096)
#: fnn's quick sweep: one small, one medium and the article's batch (``ModelSpec.quick_batch_sizes``).
QUICK_BATCH_SIZES: tuple[int, ...] = (1, 64, 1000)
# The timed loop, the precision target and the warm-up of each case are benchlib.defaults' (one set for
# run, sweep and the notebooks); a quick sweep shortens the loop (QUICK_MIN_TIME_S, QUICK_MAX_TIME_S).


@dataclass(frozen=True)
class SweepConfig:
    """What a sweep measures: the cross product of backends' variants × batch sizes × threads."""

    backends: tuple[str, ...]
    batch_sizes: tuple[int, ...] | None = None  # None: each model's own (ModelSpec.batch_sizes / quick_batch_sizes)
    threads: tuple[int, ...] = (1,)
    variants: tuple[str, ...] | None = None  # None: every variant of each backend
    min_time_s: float = defaults.MIN_TIME_S
    min_calls: int = defaults.MIN_CALLS
    warmup_time_s: float = defaults.WARMUP_TIME_S
    warmup_calls: int = defaults.WARMUP_CALLS
    timeout_s: float = defaults.TIMEOUT_S
    models: tuple[str, ...] = ("fnn",)
    quick: bool = False
    target_ci: float = defaults.TARGET_CI
    max_time_s: float | None = defaults.MAX_TIME_S
    warmup_max_s: float = defaults.WARMUP_MAX_S
    precisions: tuple[str, ...] = ("fp32",)  # numeric precisions (benchlib.precision); fp32 alone by default
    input_shapes: str | None = None  # a user's model: its dynamic per-sample sizes, NAME=d1,d2;... (--input-shape)
    input_ranges: str | None = None  # a user's model: the values drawn, NAME=LOW:HIGH;... (--input-range)
    planned: tuple[PlannedModel, ...] = ()  # each user model among ``models``, checked and planned once

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def batch_sizes_for(self, model: str) -> tuple[int, ...]:
        """The batch sizes ``model`` is swept at: the explicit ones, else the model's own (quick or full); a user's
        model's own are ``run``'s (1 and 32, or its fixed batch)."""
        user = next((plan for plan in self.planned if plan.name == model), None)
        if user is not None:
            from benchlib.engine.checked import BatchSizes

            return BatchSizes(user.batch_sizes(self.batch_sizes))
        if self.batch_sizes is not None:
            return self.batch_sizes
        from benchlib.engine.checked import BatchSizes
        from benchlib.models.zoo import get_model

        spec = get_model(model)
        return BatchSizes(spec.quick_batch_sizes if self.quick else spec.batch_sizes)  # the model's own


def default_threads(quick: bool = False) -> tuple[int, ...]:
    """1 up to the usable cores (affinity and cgroup quota respected); quick: the usable cores only."""
    from benchlib.system.env import usable_cores

    usable = int(usable_cores()["usable"] or 1)
    return (usable,) if quick else tuple(range(1, usable + 1))


def sweep_config(
    backends: Sequence[str] | None = None,
    batch_sizes: Sequence[int] | None = None,
    threads: Sequence[int] | None = None,
    variants: Sequence[str] | None = None,
    min_time_s: float | None = None,
    quick: bool = False,
    models: Sequence[str] | None = None,
    target_ci: float | None = None,
    max_time_s: float | None = None,
    precisions: Sequence[str] | None = None,
    input_shapes: str | None = None,
    input_ranges: str | None = None,
    timeout_s: float | None = None,
) -> SweepConfig:
    """A validated config; ``None`` means the (quick or default) setting. Raises ``ValueError``.

    Each parameter is checked by its one check (:mod:`benchlib.engine.params`), or taken as it is when it was
    checked where it entered (the CLI's options, a notebook's parameters). ``models`` are zoo names or a user's
    models (an ONNX file, ``torch:`` or ``keras:`` factory), each read and checked, or planned (a factory built
    and exported in a child process killed after ``timeout_s``, default 600 s), here, once; ``input_shapes``
    and ``input_ranges`` describe their inputs (as ``run``'s ``--input-shape`` and ``--input-range``, joined by
    ``;``). A user's model is swept at ``batch_sizes`` (one its fixed batch cannot take is recorded as
    skipped, with the reason), else at ``run``'s (1 and 32, or its fixed batch).
    """
    from benchlib.backends.registry import available_backends, backend_variants
    from benchlib.engine.checked import BackendNames, ModelNames, Precisions, ThreadCounts
    from benchlib.engine.grid import plan_models
    from benchlib.engine.params import (
        MAX_SECONDS,
        check_backends,
        check_batch_sizes,
        check_models,
        check_positive_float,
        check_precisions,
        check_thread_counts,
    )
    from benchlib.engine.timing import check_target_ci

    chosen = check_backends(backends) if backends is not None else BackendNames(available_backends())
    if not chosen:
        raise ValueError("backends=[] is invalid; allowed: at least one installed backend")
    sizes = check_batch_sizes(batch_sizes) if batch_sizes is not None else None  # None: each model's own
    chosen_models = check_models(models) if models is not None else ModelNames(("fnn",))
    counts = check_thread_counts(threads, explicit=True) if threads is not None else \
        ThreadCounts(default_threads(quick))
    if variants is not None:
        known = sorted({v for name in chosen for v in backend_variants(name)})
        unknown = [v for v in variants if v not in known]
        if unknown or not variants:
            raise ValueError(f"variants={list(variants)!r} is invalid; allowed: names from {', '.join(known)}")
    seconds = defaults.QUICK_MIN_TIME_S if quick else defaults.MIN_TIME_S
    if min_time_s is not None:
        seconds = check_positive_float("min_time_s", min_time_s, MAX_SECONDS, allow_zero=True)
    target = defaults.TARGET_CI if target_ci is None else check_target_ci(target_ci)
    cap = max(defaults.QUICK_MAX_TIME_S if quick else defaults.MAX_TIME_S, seconds)
    if max_time_s is not None:
        cap = check_positive_float("max_time_s", max_time_s, MAX_SECONDS)
        if cap < seconds:
            raise ValueError(f"max_time_s={max_time_s!r} is invalid; allowed: at least min_time_s ({seconds:g})")
    numeric = check_precisions(precisions) if precisions else Precisions(("fp32",))
    timeout = defaults.TIMEOUT_S if timeout_s is None else check_positive_float("timeout_s", timeout_s, MAX_SECONDS)
    planned = plan_models(chosen_models, sizes, input_shapes or None, input_ranges or None, timeout)
    config = SweepConfig(backends=chosen, batch_sizes=sizes, threads=counts,
                         variants=tuple(variants) if variants is not None else None,
                         min_time_s=seconds, warmup_time_s=min(defaults.WARMUP_TIME_S, seconds),
                         models=chosen_models, quick=quick, target_ci=target, max_time_s=cap, precisions=numeric,
                         timeout_s=timeout, input_shapes=input_shapes or None, input_ranges=input_ranges or None,
                         planned=planned)
    _check_memory(config)
    return config


def _check_memory(config: SweepConfig) -> None:
    """Refuse (``ValueError`` with the estimate) a batch size too large for a zoo model's float32 working set (a
    user's model was checked when it was planned)."""
    import psutil

    from benchlib.models.zoo import MODELS, get_model

    available = int(psutil.virtual_memory().available)
    for model in (model for model in config.models if model in MODELS):
        largest = max(config.batch_sizes_for(model))
        problem = get_model(model).batch_memory_problem(largest, available)
        if problem:
            raise ValueError(f"batch_sizes={largest} is too large: {problem}")


def build_cases(config: SweepConfig) -> list[RunCase]:
    """Every (model, backend, variant, threads, batch size) case of ``config`` (the one case grid); a user's
    model carries what :func:`sweep_config` planned."""
    from benchlib.engine.checked import ModelNames
    from benchlib.engine.grid import ALL_VARIANTS, case_grid
    from benchlib.engine.params import check_models

    cases = []
    for model in check_models(config.models):  # as they are if checked; each at its own batch sizes
        cases += case_grid(config.backends, config.batch_sizes_for(model), models=ModelNames((model,)),
                           planned=config.planned, input_shapes=config.input_shapes,
                           input_ranges=config.input_ranges,
                           threads=config.threads,
                           variants=config.variants if config.variants is not None else ALL_VARIANTS,
                           omit_missing_variants=True, min_time_s=config.min_time_s, min_calls=config.min_calls,
                           warmup_time_s=config.warmup_time_s, warmup_calls=config.warmup_calls,
                           timeout_s=config.timeout_s, target_ci=config.target_ci,
                           max_time_s=config.max_time_s if config.target_ci > 0 else None,
                           warmup_max_s=config.warmup_max_s, precisions=config.precisions)
    return cases


# -- roofline -----------------------------------------------------------------------------------------

#: How the stored peaks were measured; a roofline file measured otherwise is measured again.
YARDSTICK = "float32 GEMM in every installed framework, f32 forced, best of them (benchlib.roofline.gemm)"
#: The first key of every roofline file benchlib writes: how a later run knows the file is its own.
ROOFLINE_CREATOR = "benchlib"


def roofline_path(results_path: str | os.PathLike) -> Path:
    """Where the peaks of the sweep in ``results_path`` are stored: ``roofline-<stem>.json`` beside it."""
    path = Path(results_path)
    return path.with_name(f"roofline-{path.stem}.json")


def read_roofline(path: str | os.PathLike) -> dict[str, Any]:
    """The stored roofline file (``{"env_key", "peaks": {threads: PeakMeasurement dict}}``), or an empty one."""
    path = Path(path)
    if not path.exists():
        return {"env_key": None, "peaks": {}}
    return json.loads(path.read_text())


def _same_yardstick(roofline: dict[str, Any], env_key: str) -> bool:
    """Whether a roofline file's peaks were measured in environment ``env_key`` the current way."""
    return roofline.get("env_key") == env_key and roofline.get("yardstick") == YARDSTICK


def peaks_by_threads(roofline: dict[str, Any]) -> dict[int, float]:
    """Peak GFLOP/s per thread count from a roofline file's content."""
    return {int(k): float(v["peak_gflops"]) for k, v in (roofline.get("peaks") or {}).items()
            if v.get("peak_gflops")}


def measure_roofline(threads: Sequence[int], path: str | os.PathLike,
                     measure: Callable[[int], Any] | None = None,
                     reuse: Sequence[str | os.PathLike] = ()) -> dict[str, Any]:
    """Measure the peak once per thread count not yet stored for this environment, and store it.

    ``measure`` defaults to :func:`benchlib.roofline.peaks.measure_peak` (each library in its own process,
    so the sweep's own process never loads a BLAS thread pool that could outlive the measurement).
    ``reuse``: other roofline files (the sweep's, say) whose peak for a missing thread count is copied
    when they were measured in this same environment with the same yardstick; the copy names its source.
    """
    from benchlib.roofline.peaks import measure_peak
    from benchlib.system.env import collect_env

    measure = measure or measure_peak
    env_key = collect_env()["key"]
    stored = read_roofline(path)
    if not _same_yardstick(stored, env_key):
        # another machine, other framework versions, or a peak measured the old way: measure again
        stored = {"env_key": env_key, "yardstick": YARDSTICK, "peaks": {}}
    others = [(Path(other), read_roofline(other)) for other in reuse]
    others = [(other, content) for other, content in others if _same_yardstick(content, env_key)]
    for count in threads:
        if str(count) in stored["peaks"]:
            continue
        copied = next(({**content["peaks"][str(count)], "reused_from": str(other)} for other, content in others
                       if str(count) in content["peaks"]), None)
        stored["peaks"][str(count)] = copied or measure(count).to_dict()
    stored["updated"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    # benchlib named first, so a later run replaces this file and never a JSON file of the user's
    stored = {"creator": ROOFLINE_CREATOR, **{k: v for k, v in stored.items() if k != "creator"}}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(stored, indent=2))
    return stored


def roofline_table(roofline: dict[str, Any]) -> list[dict[str, Any]]:
    """Every framework's GEMM rate per thread count, fastest first, beside the peak and the theoretical peak.

    One row per (threads, library): GFLOP/s, share of the measured peak, whether it set the peak, the
    theoretical peak and the measured peak's share of it, version, precision and dispatched kernels.
    """
    rows = []
    for threads, peak in sorted((roofline.get("peaks") or {}).items(), key=lambda kv: int(kv[0])):
        for row in peak.get("table") or []:
            dispatch = row.get("dispatch")
            rows.append({
                "threads": int(threads), "library": row.get("library"), "gflops": row.get("gflops"),
                "share_of_peak": row.get("share_of_peak"), "sets_peak": row.get("library") == peak.get("peak_library"),
                "theoretical_gflops": peak.get("theoretical_gflops"),
                "peak_share_of_theoretical": peak.get("peak_share_of_theoretical"),
                "version": row.get("version"), "precision": row.get("precision") or row.get("error"),
                "dispatch": json.dumps(dispatch, default=str) if dispatch is not None else None,
            })
    return rows


def roofline_sentences(roofline: dict[str, Any]) -> list[str]:
    """Per thread count: the peak, which framework set it, the slowest GEMM, and the theoretical peak."""
    out = []
    for threads, peak in sorted((roofline.get("peaks") or {}).items(), key=lambda kv: int(kv[0])):
        ran = [r for r in peak.get("table") or [] if r.get("gflops")]
        if not ran:
            continue
        slowest = ran[-1]
        theory = peak.get("theoretical_gflops")
        share = f", {peak['peak_share_of_theoretical']:.0%} of the theoretical {theory:.0f}" if theory else ""
        out.append(f"With {threads} thread(s) the float32 GEMM peak is {peak['peak_gflops']:.0f} GFLOP/s, set by "
                   f"{peak['peak_library']}{share}; the slowest of the {len(ran)} frameworks, {slowest['library']}, "
                   f"reaches {slowest['gflops']:.0f} ({slowest['share_of_peak']:.0%} of the peak).")
        theoretical = peak.get("theoretical") or {}
        if theory and not out[:-1]:  # the sources once, not per thread count
            out.append(f"Theoretical peak per core: {theoretical.get('flops_per_cycle')} float32 FLOP/cycle "
                       f"({theoretical.get('flops_source')}) × {theoretical.get('ghz'):.2f} GHz "
                       f"({theoretical.get('ghz_source')}).")
    return out


# -- running ------------------------------------------------------------------------------------------

#: What an interrupted sweep tells its user.
RESUME_HINT = "A sweep resumes by itself: run the same command (or notebook) again."


@dataclass(kw_only=True)
class SweepResult(StudyRun):
    """What one call of :func:`run_sweep` did."""

    config: SweepConfig
    roofline_path: Path
    peaks: dict[int, float] = field(default_factory=dict)
    roofline_s: float = 0.0


def default_results_path(quick: bool = False, folder: str | os.PathLike | None = None) -> Path:
    """``sweep.jsonl`` (``sweep-quick.jsonl`` for quick sweeps) in ``folder`` (default: ``outputs/results``):
    fixed, so re-runs resume."""
    return results_file("sweep", quick, folder)


def run_sweep(
    config: SweepConfig,
    results_path: str | os.PathLike | None = None,
    progress: bool = True,
    roofline: bool = True,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    fresh: bool = False,
) -> SweepResult:
    """Measure the roofline, then run every case not yet settled (:func:`~benchlib.studies.plan.plan_study`;
    ``fresh``: every case); append records to ``results_path`` (default: :func:`default_results_path`)."""
    started = time.perf_counter()
    plan = plan_study("sweep", build_cases(config), results_path, config.quick, RESUME_HINT, progress=progress,
                      fresh=fresh)
    result = SweepResult(config=config, results_path=plan.results_path, roofline_path=roofline_path(plan.results_path),
                         planned=plan.planned, resumed=plan.resumed)
    if roofline:
        tick = time.perf_counter()
        stored = measure_roofline(config.threads, result.roofline_path)
        result.peaks = peaks_by_threads(stored)
        result.roofline_s = time.perf_counter() - tick
    result.records = run_study(plan, progress, on_record)
    result.wall_s = time.perf_counter() - started
    return result
