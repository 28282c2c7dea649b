"""The method ablation: from the article's protocol to the engine's, one change at a time.

Each step is a frozen :class:`AblationStep`: the article-protocol settings
(:class:`~benchlib.studies.article.ArticleProtocol`, flipped with :func:`dataclasses.replace`)
plus the few settings the article protocol does not have (per-call percentiles, who runs the
measurement, the thread setting). Consecutive steps differ in exactly the settings listed in
``changes`` (:func:`changed_settings` computes the difference; the tests compare the two).

How a step is measured follows from its settings:

* steps 0-4 run :func:`benchlib.studies.article.run_article_protocol` unchanged, in one fresh
  child process per step (all five frameworks in it, like the article);

Every child process is started by :func:`benchlib.system.child.run_in_child` (JSON in and out, own
session, timeout, whole-tree kill); a child that crashes or times out gives failed rows for the
frameworks it was measuring, and the ablation goes on. Records are made by
:func:`benchlib.results.schema.make_record`, with a ``case_key`` and the environment fingerprint.
* step 5 reuses the article's models and predict functions but times each call with
  ``perf_counter_ns`` (the engine's timed loop) and reports the p50;
* step 6 does the same with each framework in its own fresh process. The article's own models
  (and their own weights) cannot be run by the engine's worker, which builds every backend from
  the shared model spec, so this step starts one process per framework itself (with
  :func:`benchlib.system.child.run_in_child`, like ``run_cases``); the weights stay the article's
  until step 7;
* steps 7-8 are engine runs (:func:`benchlib.engine.launcher.run_cases`): identical spec weights,
  outputs verified against the float64 reference, and at step 8 one explicit thread count.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchlib import defaults
from benchlib.studies.article.settings import ARTICLE_MODEL, ARTICLE_ORDER, DISPLAY_NAMES, ArticleProtocol

if TYPE_CHECKING:
    from benchlib.engine.case import RunCase

#: Untimed calls before the loop from step 3 on (the article made none).
WARMUP_RUNS = 10
#: The engine variant matching the graph-mode, equal-work setting the ablation has reached by step 7.
ENGINE_VARIANTS: dict[str, str] = {"pytorch": "eager", "tensorflow": "function", "jax": "jit",
                                   "onnxruntime": "default", "openvino": "latency"}
RUNNERS = ("article", "engine")


@dataclass(frozen=True)
class AblationStep:
    """One step of the ablation: all the settings that decide how the five frameworks are measured."""

    index: int
    name: str
    #: the settings (keys of :meth:`settings`) this step changes relative to the previous one
    changes: tuple[str, ...]
    description: str
    article: ArticleProtocol
    #: time every call with perf_counter_ns and report the p50 (False: one clock around the loop, the mean)
    per_call_percentiles: bool = False
    #: "article": the article's models and predict functions; "engine": the engine's worker (spec weights,
    #: outputs verified against the reference)
    runner: str = "article"
    #: threads for every framework (None: each framework's own default)
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.runner not in RUNNERS:
            raise ValueError(f"runner={self.runner!r} is unknown; allowed: {', '.join(RUNNERS)}")

    def settings(self) -> dict[str, Any]:
        """Every measurement setting by name (article fields plus this step's own), for diffing."""
        data = self.article.to_dict()
        data.update(per_call_percentiles=self.per_call_percentiles, runner=self.runner, threads=self.threads)
        return data

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "name": self.name, "changes": list(self.changes),
                "description": self.description, "settings": self.settings()}


def changed_settings(before: AblationStep, after: AblationStep) -> set[str]:
    """Names of the settings whose values differ between two steps."""
    a, b = before.settings(), after.settings()
    return {key for key in a.keys() | b.keys() if a.get(key) != b.get(key)}


def build_steps(num_runs: int = defaults.ABLATION_NUM_RUNS, frameworks: Sequence[str] = ARTICLE_ORDER,
                threads: int | None = None) -> list[AblationStep]:
    """The nine steps (0 = the article as published), each one change away from the previous.

    ``threads`` is the controlled setting of step 8 (default: the usable cores).
    """
    from benchlib.system.env import usable_cores

    if threads is None:
        threads = int(usable_cores()["usable"] or 1)
    base = ArticleProtocol(num_runs=num_runs, frameworks=tuple(frameworks))
    steps = [AblationStep(0, "article as published", (), "The article's protocol, flaws included.", base)]

    def add(name: str, description: str, article_changes: dict[str, Any] | None = None,
            **own: Any) -> None:
        previous = steps[-1]
        article = replace(previous.article, **(article_changes or {}))
        step = replace(previous, index=previous.index + 1, name=name, description=description, article=article,
                       changes=tuple(sorted([*(article_changes or {}), *own])), **own)
        steps.append(step)

    add("equal work", "Every framework gets the whole batch of 1000 in one call; ONNX Runtime and OpenVINO "
        "no longer loop over the rows one at a time.", {"per_sample": ()})
    add("reused infer request", "OpenVINO reuses one infer request instead of creating one per call.",
        {"openvino_new_request": False})
    add("warm-up and graph mode", f"{WARMUP_RUNS} untimed calls before the loop; JAX jitted with real weights "
        "(and waited for), TensorFlow through tf.function.",
        {"warmup_runs": WARMUP_RUNS, "jit": True, "jax_ones_weights": False, "block_until_ready": True,
         "tf_function": True})
    add("psutil out of the loop", "CPU and memory are read before and after the timed loop, not after every call.",
        {"psutil_in_loop": False})
    add("per-call percentiles", "Each call is timed with perf_counter_ns; the median (p50) is reported instead of "
        "one time.time mean.", {"timer": "perf_counter"}, per_call_percentiles=True)
    add("one process per framework", "Each framework runs in its own fresh process, so memory and CPU belong to "
        "one framework (still the article's own models and weights).", {"one_process": False})
    add("identical weights, verified outputs", "The engine runs every framework from the same model spec and "
        "checks its outputs against a float64 reference.", {"shared_weights": True}, runner="engine")
    add("controlled threads", f"Every framework is told to use {threads} thread(s) (the usable cores), and the "
        "setting is recorded.", threads=threads)
    return steps


# -- measuring ---------------------------------------------------------------------------------------

#: Seconds one child process (one step's frameworks, or one framework) may take before it is killed.
CHILD_TIMEOUT_S = 3600.0
#: The child-side entry point (``module:function``) given to :func:`~benchlib.system.child.run_in_child`.
CHILD_TARGET = "benchlib.studies.ablation:rows_in_child"


def _rows_from_child(function: Callable[[ArticleProtocol, str | None], list[dict[str, Any]]], protocol: ArticleProtocol,
              onnx_dir: str | None, timeout_s: float = CHILD_TIMEOUT_S) -> list[dict[str, Any]]:
    """Rows of ``function(protocol, onnx_dir)`` run in a fresh process (:func:`benchlib.system.child.run_in_child`).

    The settings go in and the rows come back as JSON. A child that crashes or times out gives one
    ``failed`` row per framework it was measuring, with the reason; the other steps go on.
    """
    from benchlib.system.child import run_in_child

    payload = {"function": function.__name__, "protocol": protocol.to_dict(), "onnx_dir": onnx_dir}
    outcome = run_in_child(CHILD_TARGET, payload, timeout_s=timeout_s, what="rows")
    if outcome.ok:
        return outcome.value
    return [{"backend": framework, "status": "failed", "error": f"child process failed: {outcome.error}",
             "pid": outcome.pid} for framework in protocol.frameworks]


def _article_rows(protocol: ArticleProtocol, onnx_dir: str | None) -> list[dict[str, Any]]:
    """Steps 0-4: the article protocol as it is, reported as the article did (loop mean)."""
    from benchlib.studies.article.runner import run_article_protocol

    run = run_article_protocol(protocol, progress=False, onnx_dir=Path(onnx_dir) if onnx_dir else None)
    rows = []
    for r in run.results:
        rows.append({"backend": r.framework, "status": r.status, "error": r.error,
                     "latency_ms": {"mean": r.latency_ms}, "latency_reported_ms": r.latency_ms,
                     "latency_statistic": "mean", "cpu_percent": r.cpu_percent, "memory_mb": r.memory_mb,
                     "framework_version": r.version, "pid": r.pid, "calls_per_run": r.calls_per_run})
    return rows


def per_call_rows(protocol: ArticleProtocol, onnx_dir: str | None = None) -> list[dict[str, Any]]:
    """Steps 5-6: the article's models and predict functions, each call timed with perf_counter_ns.

    CPU is process CPU time over the loop's wall time (percent of one core) and memory the process
    RSS after the loop, both read outside the timed calls.
    """
    import psutil

    from benchlib.backends.registry import missing_requirement
    from benchlib.engine.stats import compute_stats
    from benchlib.engine.timing import timed_loop
    from benchlib.studies.article.loop import make_predict
    from benchlib.studies.article.models import (
        ArticleModels,
        article_onnx_path,
        build_model,
        import_framework,
        make_input,
    )

    folder = Path(onnx_dir) if onnx_dir else None
    models = ArticleModels()
    data = make_input(protocol)
    exported = article_onnx_path(protocol, folder)
    process = psutil.Process(os.getpid())
    rows = []
    for framework in protocol.frameworks:
        row: dict[str, Any] = {"backend": framework, "status": "ok", "error": None, "pid": os.getpid(),
                               "latency_statistic": "p50", "calls_per_run": protocol.calls_per_run(framework)}
        requirement = missing_requirement(framework)
        if requirement is not None:
            rows.append({**row, "status": "skipped", "error": f"not installed; needs: pip install {requirement}"})
            continue
        try:
            if framework in ("onnxruntime", "openvino") and models.onnx_path is None:
                if exported.exists():  # reuse the article's exported file: no torch in this process
                    models.onnx_path = exported
                else:
                    import_framework("pytorch", models)
                    build_model("pytorch", models, protocol, folder)
            import_framework(framework, models)
            build_model(framework, models, protocol, folder)
            predict = make_predict(framework, models, protocol)
            for _ in range(protocol.warmup_runs):
                predict(data)
            before, start = process.cpu_times(), time.perf_counter()
            loop = timed_loop(predict, data, protocol.num_runs, 0.0)
            wall, after = time.perf_counter() - start, process.cpu_times()
            stats = compute_stats(loop.samples_ns, batch_size=protocol.batch_size)
            latency = stats.latency_ms()
            busy = (after.user - before.user) + (after.system - before.system)
            row.update(latency_ms=latency, latency_reported_ms=latency["p50"], cpu_percent=100.0 * busy / wall,
                       memory_mb=process.memory_info().rss / 2**20, framework_version=models.versions.get(framework))
        except Exception as exc:  # noqa: BLE001 - one framework's failure must not stop the rest
            row.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        rows.append(row)
    return rows


def engine_cases(step: AblationStep, min_time_s: float) -> list[RunCase]:
    """The engine cases of an engine step (7-8): each framework in its :data:`ENGINE_VARIANTS` variant."""
    from benchlib.engine.grid import case_grid

    settings = {"threads": (step.threads,), "min_time_s": min_time_s, "min_calls": step.article.num_runs,
                "warmup_calls": WARMUP_RUNS, "seed": step.article.seed or 0, "protocol": "ablation",
                "extra": (("step", step.index),)}
    # one grid per framework: each runs its own variant, not every variant named for the others
    return [case for f in step.article.frameworks
            for case in case_grid([f], [step.article.batch_size], variants=[ENGINE_VARIANTS[f]], **settings)]


def _engine_rows(step: AblationStep, min_time_s: float, progress: bool) -> list[dict[str, Any]]:
    """Steps 7-8: the engine's isolated, verified runs at the article's batch."""
    from benchlib.engine.launcher import run_cases

    rows = []
    for record in run_cases(engine_cases(step, min_time_s), progress=progress):
        latency = record.get("latency_ms") or {}
        rows.append({"backend": record["backend"], "status": record["status"], "error": record.get("error"),
                     "latency_ms": latency, "latency_reported_ms": latency.get("p50"), "latency_statistic": "p50",
                     "cpu_percent": record.get("cpu_percent"), "memory_mb": record.get("rss_peak_mb"),
                     "framework_version": record.get("framework_version"),
                     "outputs_valid": record.get("outputs_valid"), "engine_run_id": record.get("run_id"),
                     "engine_variant": record.get("variant"), "calls_per_run": 1})
    return rows


def measure_step(step: AblationStep, min_time_s: float = defaults.FIXED_MIN_TIME_S, onnx_dir: str | None = None,
                 progress: bool = False) -> list[dict[str, Any]]:
    """Measure every framework under ``step``'s settings; one row per framework."""
    if step.runner == "engine":
        return _engine_rows(step, min_time_s, progress)
    if not step.per_call_percentiles:
        return _rows_from_child(_article_rows, step.article, onnx_dir)
    if step.article.one_process:
        return _rows_from_child(per_call_rows, step.article, onnx_dir)
    rows = []
    for framework in step.article.frameworks:  # a fresh process per framework: a crash fails that one only
        child = replace(step.article, frameworks=(framework,), one_process=True)
        rows += _rows_from_child(per_call_rows, child, onnx_dir)
    return rows


@dataclass
class AblationResult:
    steps: list[AblationStep]
    records: list[dict[str, Any]] = field(default_factory=list)
    results_path: Path | None = None
    wall_s: float = 0.0


def _record(step: AblationStep, row: dict[str, Any], run_id: str, env: dict[str, Any]) -> dict[str, Any]:
    """The results-store record of one framework at one step (every required key, ``env`` included)."""
    from benchlib.results.schema import make_record
    from benchlib.studies.article.records import protocol_case_key
    from benchlib.system.env import fingerprint_key

    identity = {"backend": row["backend"], "model": ARTICLE_MODEL, "batch_size": step.article.batch_size,
                "threads": step.threads, "variant": f"step{step.index}", "protocol": "ablation",
                "settings": step.settings()}
    identity["case_key"] = protocol_case_key(identity)
    fields = {k: v for k, v in row.items() if k not in ("backend", "status", "error")}
    return make_record(identity, status=row.get("status", "failed"), error=row.get("error"),
                       step=step.index, step_name=step.name, step_changes=list(step.changes),
                       display=DISPLAY_NAMES.get(row["backend"], row["backend"]), ablation_run=run_id,
                       step_settings=step.settings(), env=env, env_key=fingerprint_key(env),
                       warnings=list(env.get("warnings") or []), **fields)


def run_ablation(
    num_runs: int = defaults.ABLATION_NUM_RUNS,
    min_time_s: float = defaults.FIXED_MIN_TIME_S,
    frameworks: Sequence[str] = ARTICLE_ORDER,
    results_path: str | os.PathLike | None = None,
    steps: Sequence[int] | None = None,
    progress: bool = True,
    log: Callable[[str], Any] | None = None,
) -> AblationResult:
    """Measure every step (or the listed ``steps``) and append one record per (step, framework).

    Records go to ``results_path`` (default ``outputs/results/ablation-<timestamp>.jsonl``), each
    with ``step``, ``step_name``, ``latency_reported_ms`` (mean up to step 4, p50 after),
    ``cpu_percent`` and ``memory_mb``, and the full settings of its step.
    """
    import sys
    import uuid

    from benchlib.system.env import collect_env
    from benchlib.system.paths import models_dir, results_dir

    if log is None:
        # progress lines go to stderr, like every progress bar here, so they never mix with results
        def log(message: str) -> None:
            print(message, file=sys.stderr, flush=True)
    from benchlib.results.store import append_record

    started = time.perf_counter()
    path = Path(results_path) if results_path else results_dir() / time.strftime("ablation-%Y%m%d-%H%M%S.jsonl")
    all_steps = build_steps(num_runs=num_runs, frameworks=frameworks)
    chosen = [s for s in all_steps if steps is None or s.index in steps]
    result = AblationResult(steps=all_steps, results_path=path)
    run_id = uuid.uuid4().hex[:12]
    env = collect_env()  # once: every record of this ablation comes from this machine
    for step in chosen:
        tick = time.perf_counter()
        if log:
            log(f"ablation step {step.index}/{len(all_steps) - 1}: {step.name} ...")
        rows = measure_step(step, min_time_s=min_time_s, onnx_dir=str(models_dir()), progress=progress)
        for row in rows:
            record = _record(step, row, run_id, env)
            append_record(path, record)
            result.records.append(record)
        if log:
            log(f"    {time.perf_counter() - tick:.1f} s")
    result.wall_s = time.perf_counter() - started
    return result


def step_fields() -> tuple[str, ...]:
    """Names of the settings a step can change."""
    own = [f.name for f in dataclasses.fields(AblationStep) if f.name not in ("index", "name", "changes",
                                                                              "description", "article")]
    return (*[f.name for f in dataclasses.fields(ArticleProtocol)], *own)


#: What :func:`rows_in_child` may run: a child runs a named function of this module, nothing else.
CHILD_FUNCTIONS = ("_article_rows", "per_call_rows")


def rows_in_child(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Child side of :func:`_rows_from_child`: the rows of the named function for the protocol in ``payload``."""
    name = payload["function"]
    if name not in CHILD_FUNCTIONS:
        raise ValueError(f"function={name!r} may not be run in a child; allowed: {', '.join(CHILD_FUNCTIONS)}")
    return globals()[name](ArticleProtocol.from_dict(payload["protocol"]), payload["onnx_dir"])
