"""What the framework and comparison notebooks call: each cell is one of these functions and a display.

Everything here is also reachable from the CLI (``verify``, ``env``, ``run``, ``report``); the notebooks
only choose parameters and show the results.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from benchlib import defaults
from benchlib.backends.registry import BACKEND_NAMES, backend_variants, create_backend, missing_requirement
from benchlib.engine.case import RunCase
from benchlib.engine.checked import BatchSizes, ModelNames
from benchlib.models.zoo import get_model
from benchlib.notebook.plans import (  # noqa: F401 - each analysis notebook's first cell, as nb.<name>
    other_table_name,
    plan_article_outputs,
    plan_comparison_outputs,
    plan_method_ablation_outputs,
    plan_models_outputs,
    plan_precision_outputs,
    plan_scenarios_outputs,
    plan_sweeps_outputs,
)
from benchlib.notebook.setup import (  # noqa: F401 - the first cell's API, as nb.<name>
    check_parameters,
    output_folders,
    plan_framework_outputs,
    plan_outputs,
    results_path,
)


@dataclass(frozen=True)
class Availability:
    """Whether a framework can run here, and the sentence a notebook shows first."""

    backend: str
    available: bool
    message: str


def announce(backend: str) -> Availability:
    """Say whether ``backend`` is installed, naming the requirement when it is not."""
    requirement = missing_requirement(backend)
    if requirement is None:
        from importlib.metadata import PackageNotFoundError, version

        module = {"pytorch": "torch", "tensorflow": "tensorflow-cpu", "litert": "ai-edge-litert",
                  "jax": "jax"}.get(backend, backend)
        try:
            found = version(module)
        except PackageNotFoundError:
            found = "installed"
        return Availability(backend, True, f"{backend} is available ({module} {found}).")
    return Availability(
        backend, False,
        f"{backend} is NOT available: install it with `pip install {requirement}`. The cells below record "
        "it as skipped and measure nothing; the comparison lists it as not available.",
    )


def environment_table() -> pd.DataFrame:
    """The environment fingerprint as a two-column table."""
    from benchlib.system.env import collect_env

    env = collect_env()
    rows = []
    for key in ("cpu_model", "isa_flags", "physical_cores", "logical_cores", "usable_cores", "cpu_quota_cores",
                "memory_total_mb", "os", "kernel", "python", "frameworks", "thread_env", "load_avg", "warnings"):
        if key not in env:
            continue
        value = env[key]
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items() if v) or "-"
        elif isinstance(value, list):
            value = ", ".join(map(str, value)) or "-"
        rows.append({"what": key, "value": value})
    return pd.DataFrame(rows)


def verification_table(backend: str, threads: int | None = None, models: list[str] | None = None) -> pd.DataFrame:
    """Build each model (default: fnn) in ``backend`` and compare with the float64 reference at the model's
    verification batch sizes, within the model's own tolerance: one row per model."""
    from benchlib.studies.verify import verify_all

    rows = []
    for model in check_models(models):
        rows += [result.to_dict() for result in verify_all(get_model(model), [backend], threads=threads)]
    return pd.DataFrame(rows)


def check_models(models: object) -> ModelNames:
    """A notebook's ``models`` parameter as zoo model names (default: the article's fnn)."""
    from benchlib.engine.params import check_models as check

    return check(models or ["fnn"], "models", zoo_only=True)


def knobs_table(backend: str, threads: int | None = None) -> pd.DataFrame:
    """The default variant's thread settings as the framework reports them, and every variant offered."""
    if missing_requirement(backend) is not None:
        return pd.DataFrame([{"setting": "status", "value": "not installed"}])
    instance = create_backend(backend, get_model("fnn"), threads=threads)
    instance.build()
    rows = [{"setting": key, "value": value} for key, value in instance.thread_settings().items()]
    rows.append({"setting": "variants", "value": ", ".join(backend_variants(backend))})
    return pd.DataFrame(rows)


def framework_cases(backend: str, variants: list[str], batch_sizes: list[int], threads: int | str | None,
                    min_time_s: float, target_ci: float = defaults.TARGET_CI,
                    models: list[str] | None = None) -> list[RunCase]:
    """One case per (model, variant, batch size) from the one case grid; empty ``variants`` means the default.

    ``models`` defaults to the article's fnn; empty ``batch_sizes`` means each model's own (its quick
    batch sizes: fnn 1, 64, 1000).

    ``target_ci`` is the precision target (relative half-width of the median's 95% interval; 0 measures
    for ``min_time_s`` only). Warm-up ends when the per-call time has settled (docs/measurement.md).
    """
    from benchlib.engine.checked import BackendNames, ThreadCounts
    from benchlib.engine.grid import case_grid
    from benchlib.engine.params import check_backend, check_batch_sizes, check_threads, check_variants

    # each parameter checked once (a value checked by check_parameters is taken as it is); papermill passes
    # "-p variants avx2" as text: one name, never a list of its letters
    variants = check_variants(variants) if variants else []
    batch_sizes = check_batch_sizes(batch_sizes) if batch_sizes else []
    models = check_models(models)
    backends = BackendNames((check_backend(backend),))
    counts = ThreadCounts((check_threads(threads),))
    if missing_requirement(backend) is None:
        offered = backend_variants(backend)
        for variant in variants:
            if variant not in offered:
                raise ValueError(f"variants={variants!r}: {variant!r} is unknown for {backend}; "
                                 f"allowed: {', '.join(offered)}")
    # An uninstalled backend runs its default variant once per batch size: each becomes a skipped record.
    chosen = list(variants) if variants and missing_requirement(backend) is None else None
    cases = []
    for model in models:
        sizes = batch_sizes or BatchSizes(get_model(model).quick_batch_sizes)  # the model's own
        cases += case_grid(backends, sizes, models=ModelNames((model,)), threads=counts, variants=chosen,
                           min_time_s=min_time_s, min_calls=defaults.MIN_CALLS, target_ci=target_ci,
                           warmup_time_s=defaults.WARMUP_TIME_S, warmup_calls=defaults.WARMUP_CALLS,
                           warmup_max_s=defaults.WARMUP_MAX_S)
    return cases


class Interrupted(KeyboardInterrupt):
    """A notebook cell stopped by the user: one sentence instead of a traceback (IPython shows
    ``_render_traceback_``), still an interrupt, so "Run all" stops at this cell."""

    def _render_traceback_(self) -> list[str]:
        return [str(self)]


#: What an interrupted measuring cell says (a notebook has no command line to resume with).
INTERRUPTED = "interrupted; finished cases are kept; run the cell again to resume"


def measure(backend: str, variants: list[str], batch_sizes: list[int], threads: int | None, min_time_s: float,
            results_dir: str | Path, target_ci: float = defaults.TARGET_CI,
            models: list[str] | None = None) -> list[dict[str, Any]]:
    """Run each case not yet done in its own process, appending records to ``results_dir/<backend>.jsonl``.

    Cases with an ``ok`` record from this environment are not run again (re-running the cell resumes);
    returns the newest record of every case of this call, measured now or before. One line per case
    goes to the cell's error stream as it finishes; an interrupt ends the cell with
    :data:`INTERRUPTED` and no traceback.
    """
    import contextlib
    import io

    from benchlib.engine.launcher import run_cases
    from benchlib.results.records import case_key, latest
    from benchlib.results.store import read_records

    path = results_path(results_dir, backend)
    cases = framework_cases(backend, variants, batch_sizes, threads, min_time_s, target_ci, models)
    report = case_progress()  # one line per case on the cell's error stream (taken before the redirect)
    messages = io.StringIO()  # the engine's own resume and interrupt lines, said here in a notebook's words
    try:
        with contextlib.redirect_stderr(messages):
            run_cases(cases, results_path=path, progress=False, skip_done=True, on_record=report,
                      resume_hint=INTERRUPTED)
    except KeyboardInterrupt:
        raise Interrupted(INTERRUPTED) from None
    finally:
        for line in messages.getvalue().splitlines():
            if line.startswith("resuming:"):
                print(f"{line.split(' in ')[0]}; they are not measured again", flush=True)
    wanted = {case.case_key for case in cases}
    stored, _ = read_records(path) if path.exists() else ([], [])
    return [record for record in latest(stored) if case_key(record) in wanted]


def records_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The tidy frame of records (same columns as :func:`benchlib.results.load`)."""
    from benchlib.results.store import flatten

    return pd.DataFrame([flatten(record) for record in records])


def results_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The comparison table of these records (full precision: :func:`show` formats it for people)."""
    from benchlib.report.tables import comparison_table

    return comparison_table(records_frame(records))


def show(table: pd.DataFrame, caption: str | None = None, **options: Any) -> Any:
    """``table`` as people read it (units, three significant figures, no index); the same in the report."""
    from benchlib.report.display import people_table

    return people_table(table, caption=caption, **options)


def collapsed(summary: str, content: Any) -> Any:
    """``content`` (a table from :func:`show`, or HTML text) folded under ``summary`` (``<details>``)."""
    from benchlib.report.display import Html, details

    body = content.to_html() if hasattr(content, "to_html") else str(content)
    return Html(details(summary, body))


def figure_file(path: str | Path) -> Any:
    """A chart saved by benchlib (PNG at :data:`~benchlib.report.figures.SAVED_DPI`) shown at its drawn size.

    Shown at its pixel width, a 150-dpi PNG would be 1.5× the figure and the report would shrink it,
    text included; at the drawing's own 100 dpi its text has the size the chart rules check.
    """
    from IPython.display import Image
    from PIL import Image as PilImage

    from benchlib.report.chart_style import DPI
    from benchlib.report.figures import SAVED_DPI

    with PilImage.open(path) as png:
        width = round(png.width * DPI / SAVED_DPI)
    return Image(filename=str(path), width=width)


def case_progress() -> Any:
    """A callback printing one line per finished case to the cell's error stream (for ``on_record``)."""
    import sys

    from benchlib.notebook.console import progress_line

    stream = sys.stderr

    def report(record: dict[str, Any]) -> None:
        print(progress_line(record), file=stream, flush=True)

    return report


def load_results(results_dir: str | Path) -> tuple[pd.DataFrame, list[dict[str, Any]], list[str]]:
    """Every record under ``results_dir``: the tidy frame, the raw records and the load problems.

    Row ``i`` of the frame is ``records[i]`` (the frame's index says which record a row came from).
    """
    from benchlib.results.store import flatten, read_records

    folder = Path(results_dir)
    if not folder.exists() or not any(folder.glob("*.jsonl")):
        return pd.DataFrame(), [], [f"no results in {folder}"]
    records, problems = read_records(folder)
    return pd.DataFrame([flatten(r) for r in records]), records, problems


def engine_results(frame: pd.DataFrame, records: list[dict[str, Any]]) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Only the fair-measurement records (protocol ``engine``), for the comparison (index kept aligned)."""
    if frame.empty:
        return frame, records
    mask = frame["protocol"].eq("engine") if "protocol" in frame else pd.Series(True, index=frame.index)
    kept = [records[i] for i in frame.index[mask]]
    return frame[mask].reset_index(drop=True), kept


def records_of(rows: pd.DataFrame, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The raw records behind ``rows`` (a selection of a frame whose index numbers ``records``)."""
    return [records[i] for i in rows.index]


def availability_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per known backend: installed here?, and its cases by status (newest record of each)."""
    from benchlib.report.tables import one_per_case

    latest_rows = one_per_case(frame) if not frame.empty else frame
    rows = []
    for backend in BACKEND_NAMES:
        requirement = missing_requirement(backend)
        part = latest_rows[latest_rows["backend"].eq(backend)] if not latest_rows.empty else latest_rows
        counts = part["status"].value_counts().to_dict() if not part.empty else {}
        if part.empty:
            state = "not available" if requirement else "no results"
        elif counts.get("ok"):
            state = "measured"
        else:
            state = "not available" if counts.get("skipped") else "failed"
        rows.append({"backend": backend, "installed": requirement is None, "state": state,
                     "ok": counts.get("ok", 0), "failed": counts.get("failed", 0),
                     "skipped": counts.get("skipped", 0),
                     "install": f"pip install {requirement}" if requirement else ""})
    return pd.DataFrame(rows)


def configuration(batch_size: int = 1000, threads: int | str | None = None) -> Any:
    """The comparison's configuration (:class:`benchlib.report.comparison.Configuration`)."""
    from benchlib.report.comparison import Configuration

    return Configuration.of(batch_size, threads)


def fair_article_tables(frame: pd.DataFrame, batch_size: int = 1000,
                        threads: int | str | None = None) -> dict[str, pd.DataFrame]:
    """The article's three tables, measured fairly: one row per framework in one configuration.

    The configuration is the article's by default: ``batch_size`` 1000, each framework's default
    variant, the framework's default threads. Memory is framework memory
    (:data:`benchlib.report.figures.MEMORY_DEFINITION`), as everywhere in the report.
    """
    from benchlib.report.article_tables import article_tables, corrected_frame

    rows = configuration(batch_size, threads).rows(frame)
    if rows is not None and not rows.empty:
        rows = rows[rows["status"].eq("ok")]
    fair = corrected_frame(rows if rows is not None else pd.DataFrame(), batch_size=batch_size)
    fair["memory_mb"] = fair["framework_mb"]  # the one meaning of "framework memory"
    tables = article_tables(fair)
    latency = tables["latency_ms"]  # each median with its ±95% half-width beside it (same row order as fair)
    latency.insert(2, "p50_halfwidth", fair["p50_halfwidth"].to_numpy())
    memory = tables["memory_mb"]
    tables["memory_mb"] = memory.rename(columns={"Memory (MB)": "Framework memory (MB)"})
    tables["memory_mb"].attrs.update(memory.attrs)
    return tables


def save_table(table: pd.DataFrame, tables_dir: str | Path, name: str) -> list[Path]:
    """Write ``table`` as ``name.md`` and ``name.csv`` under ``tables_dir``, every digit kept; the Markdown
    vouches for the CSV, so a later run replaces both (:mod:`benchlib.report.table_files`)."""
    from benchlib.report.table_files import write_table

    return write_table(table, tables_dir, name)


def insights_view(frame_or_records: pd.DataFrame | list[dict[str, Any]], expected_backends: list[str] | None = None,
                  memory_batch: int | None = None) -> Any:
    """The insights as a list, with the noisy runs in a collapsible table (shown as a cell's value)."""
    from benchlib.report.display import Html
    from benchlib.report.insights import insights_html

    frame = frame_or_records if isinstance(frame_or_records, pd.DataFrame) else records_frame(frame_or_records)
    return Html(insights_html(frame, expected_backends, memory_batch))
