"""Scenario sweeps: every backend × model × concurrency configuration × LoadGen scenario, resumable.

The models are the zoo's or a user's (an ONNX file, a ``torch:`` or ``keras:`` factory, planned once by
:func:`scenario_config`). Each case runs in its own process through the one launcher
(:func:`benchlib.engine.launcher.run_cases`) and the one worker (:mod:`benchlib.engine.worker`), which runs a
case's LoadGen scenario with the same model loading, precision, output check and records as the timed loop;
records go to one JSON-lines file. A scenario sweep has every study's shape (:mod:`benchlib.studies.plan`): a
re-run skips the cases that already have an ``ok`` or ``skipped`` record from the same environment (a backend
that cannot do a scenario stays unable while the framework versions are the same) and retries failed ones.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchlib import defaults
from benchlib.engine.case import RunCase
from benchlib.engine.grid import PlannedModel
from benchlib.engine.params import check_scenarios
from benchlib.scenarios.settings import (
    DEFAULT_BATCH,
    FULL_MAX_TRIES,
    LOADGEN_SCENARIOS,
    MAX_DURATION_S,
    MAX_LATENCY_BOUND_MS,
    MAX_QUERIES,
    MAX_TARGET_QPS,
    QUICK_MAX_TRIES,
    ScenarioSettings,
    check_count,
    check_number,
    default_latency_bound_ms,
)
from benchlib.studies.plan import StudyRun, plan_study, results_file, run_study

#: Seconds a case may take beyond its LoadGen runs (process start, import, build, warm-up).
STARTUP_ALLOWANCE_S = 180.0


@dataclass(frozen=True)
class ScenarioConfig:
    """What a scenario sweep measures; every value is checked by :func:`scenario_config`."""

    backends: tuple[str, ...]
    models: tuple[str, ...] = ("fnn",)
    scenarios: tuple[str, ...] = LOADGEN_SCENARIOS
    latency_bounds_ms: tuple[tuple[str, float], ...] = ()  # (model, bound); a model not named: its default
    min_duration_s: float = defaults.QUICK_MIN_DURATION_S
    min_queries: int | None = None
    target_qps: float | None = None  # Server: one fixed rate instead of the search
    max_tries: int = QUICK_MAX_TRIES
    quick: bool = False
    input_shapes: str | None = None  # a user's model: its dynamic per-sample sizes, NAME=d1,d2;... (--input-shape)
    input_ranges: str | None = None  # a user's model: the values drawn, NAME=LOW:HIGH;... (--input-range)
    planned: tuple[PlannedModel, ...] = ()  # each user model among ``models``, checked and planned once

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def latency_bound_ms(self, model: str) -> float:
        """The Server p99 bound of ``model``: the one given, else the model's default."""
        return dict(self.latency_bounds_ms).get(model) or default_latency_bound_ms(model)


def scenario_config(
    backends: Sequence[str] | None = None,
    models: Sequence[str] | None = None,
    scenarios: Sequence[str] | None = None,
    latency_bound_ms: float | dict[str, float] | None = None,
    min_duration_s: float | None = None,
    min_queries: int | None = None,
    target_qps: float | None = None,
    quick: bool = False,
    input_shapes: str | None = None,
    input_ranges: str | None = None,
    timeout_s: float | None = None,
) -> ScenarioConfig:
    """A validated config (``None``: the quick or full default). Raises ``ValueError`` naming the parameter.

    ``latency_bound_ms``: one bound for every model, or ``{model: bound}`` (a model not named keeps
    its default, :data:`~benchlib.scenarios.settings.DEFAULT_LATENCY_BOUND_MS`; a user's model: LoadGen's).
    ``models`` are zoo names or a user's models (an ONNX file, ``torch:`` or ``keras:`` factory), each read and
    checked, or planned (a factory exported in a child process killed after ``timeout_s``, default 600 s), here,
    once; ``input_shapes`` and ``input_ranges`` describe their inputs (as ``run``'s ``--input-shape`` and
    ``--input-range``, joined by ``;``). A backend that cannot serve one is recorded as skipped, with the reason.
    """
    from benchlib.backends.registry import available_backends
    from benchlib.engine.checked import BackendNames, ModelNames
    from benchlib.engine.grid import plan_models
    from benchlib.engine.params import MAX_SECONDS, check_backends, check_model, check_models, check_positive_float

    # each parameter by its one check (benchlib.engine.params), or as it is when checked where it entered
    chosen = check_backends(backends) if backends is not None else BackendNames(available_backends())
    if not chosen:
        raise ValueError("backends=[] is invalid; allowed: at least one installed backend")
    chosen_models = check_models(models) if models is not None else ModelNames(("fnn",))
    if isinstance(latency_bound_ms, dict):
        for model in latency_bound_ms:
            check_model(model, "latency_bound_ms")
        bounds = tuple((model, check_number(f"latency_bound_ms[{model!r}]", value, MAX_LATENCY_BOUND_MS,
                                            "milliseconds")) for model, value in latency_bound_ms.items())
    elif latency_bound_ms is not None:
        bound = check_number("latency_bound_ms", latency_bound_ms, MAX_LATENCY_BOUND_MS, "milliseconds")
        bounds = tuple((model, bound) for model in chosen_models)
    else:
        bounds = ()
    chosen_scenarios = check_scenarios(scenarios, loadgen_only=True) if scenarios is not None else LOADGEN_SCENARIOS
    timeout = None if timeout_s is None else check_positive_float("timeout_s", timeout_s, MAX_SECONDS)
    # the largest batch any of its scenarios calls, checked against a user's model's memory
    planned = plan_models(chosen_models, [DEFAULT_BATCH[scenario] for scenario in chosen_scenarios],
                          input_shapes or None, input_ranges or None, timeout)
    return ScenarioConfig(
        backends=chosen,
        models=chosen_models,
        scenarios=chosen_scenarios,
        latency_bounds_ms=bounds,
        min_duration_s=check_number("min_duration_s", min_duration_s, MAX_DURATION_S, "seconds")
        if min_duration_s is not None else defaults.QUICK_MIN_DURATION_S if quick else defaults.MIN_DURATION_S,
        min_queries=None if min_queries is None else check_count("min_queries", min_queries, MAX_QUERIES),
        target_qps=None if target_qps is None else check_number("target_qps", target_qps, MAX_TARGET_QPS,
                                                                "queries per second"),
        max_tries=QUICK_MAX_TRIES if quick else FULL_MAX_TRIES,
        quick=quick,
        input_shapes=input_shapes or None,
        input_ranges=input_ranges or None,
        planned=planned,
    )


def case_timeout_s(settings: ScenarioSettings) -> float:
    """A case's timeout: LoadGen caps each run (see the harness), the Server search runs several."""
    from benchlib.scenarios.loadgen_harness import MAX_DURATION_FLOOR_S

    per_run = max(MAX_DURATION_FLOOR_S, 10 * settings.min_duration_s) + 30.0
    runs = settings.max_tries if settings.scenario == "Server" and settings.target_qps is None else 1
    return STARTUP_ALLOWANCE_S + runs * per_run


def build_cases(config: ScenarioConfig) -> list[RunCase]:
    """Every case of ``config``, through the one case grid: backend, configuration, model, scenario.

    Quick: each scenario with the configuration meant for it only (latency or throughput), so that
    every backend's four scenarios fit in a few minutes; otherwise every configuration.
    """
    from benchlib.engine.grid import case_grid
    from benchlib.scenarios.strategies import configurations_for, strategy_for
    from benchlib.system.env import usable_cores

    cores = int(usable_cores()["usable"] or 1)
    cases: list[RunCase] = []
    for backend in config.backends:
        strategy = strategy_for(backend)
        for configuration in strategy.configurations(cores):
            for model in config.models:
                bound = config.latency_bound_ms(model)
                for scenario in config.scenarios:
                    if configuration not in configurations_for(strategy, cores, scenario, config.quick):
                        continue
                    settings = ScenarioSettings(
                        scenario=scenario, min_duration_s=config.min_duration_s, min_queries=config.min_queries,
                        latency_bound_ms=bound, target_qps=config.target_qps, streams=configuration.streams,
                        max_tries=config.max_tries)
                    cases += case_grid(
                        [backend], [DEFAULT_BATCH[scenario]], models=[model], threads=[configuration.threads],
                        variants=[configuration.variant] if configuration.variant else None,
                        scenarios=[scenario], extra=tuple(sorted(settings.to_extra().items())),
                        timeout_s=case_timeout_s(settings), protocol="loadgen", planned=config.planned,
                        input_shapes=config.input_shapes, input_ranges=config.input_ranges)
    return cases


def default_results_path(quick: bool = False, folder: str | os.PathLike | None = None) -> Path:
    """``scenarios.jsonl`` (``scenarios-quick.jsonl`` when quick) in ``folder`` (default: ``outputs/results``):
    fixed, so re-runs resume."""
    return results_file("scenarios", quick, folder)


#: What an interrupted scenario sweep tells its user.
RESUME_HINT = "Scenarios resume by themselves: run the same command (or notebook) again."


@dataclass(kw_only=True)
class ScenarioRun(StudyRun):
    """What one call of :func:`run_scenarios` did."""

    config: ScenarioConfig


def run_scenarios(config: ScenarioConfig, results_path: str | os.PathLike | None = None, progress: bool = True,
                  on_record: Callable[[dict[str, Any]], None] | None = None, fresh: bool = False) -> ScenarioRun:
    """Run every case of ``config`` not yet settled (:func:`~benchlib.studies.plan.plan_study`; ``fresh``: every
    case) in ``results_path`` (default: :func:`default_results_path`); append each record as it comes."""
    started = time.perf_counter()
    plan = plan_study("scenarios", build_cases(config), results_path, config.quick, RESUME_HINT, progress=progress,
                      fresh=fresh)
    run = ScenarioRun(config=config, results_path=plan.results_path, planned=plan.planned, resumed=plan.resumed)
    run.records = run_study(plan, progress, on_record)
    run.wall_s = time.perf_counter() - started
    return run
