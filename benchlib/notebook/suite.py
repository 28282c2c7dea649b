"""The main job: every notebook executed by papermill, then one self-contained HTML report.

``python -m benchlib.notebook.suite [--quick 1]`` (what ``make reproduce`` runs). Framework notebooks first,
then the article, the method ablation, the sweeps and the comparison. A notebook that fails is
reported and the others still run; the exit status is 1 if any failed.

The console shows only the suite's own lines: one per notebook with its time and an estimate of what
is left, and inside the long notebooks one per measured case. Everything else the notebooks' kernels
and their child processes write (framework banners, kernel warnings, tracebacks) goes to
``outputs/logs/<notebook>.log`` (:mod:`benchlib.notebook.console`).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import shutil
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from benchlib import defaults
from benchlib.notebook.console import Console, ResultsWatcher, Timings, degrade_to_ascii, duration
from benchlib.system.paths import figures_dir, logs_dir, outputs_dir, results_dir, tables_dir

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"  # benchlib/notebook/suite.py -> the checkout

FRAMEWORK_NOTEBOOKS = ("00_numpy", "01_pytorch", "02_tensorflow", "03_jax", "04_onnxruntime", "05_openvino",
                       "06_litert")
ANALYSIS_NOTEBOOKS = ("article", "method_ablation", "sweeps", "scenarios", "models", "your_model", "precision",
                      "comparison")
#: Notebooks that make up report.html, in page order.
REPORT_NOTEBOOKS = ("comparison", "article", "method_ablation", "sweeps", "scenarios", "models", "precision")
#: Notebooks long enough that the console shows each measured case as it finishes.
LONG_NOTEBOOKS = ("article", "method_ablation", "sweeps", "scenarios", "models")
#: Seconds each notebook took on a 2-core machine (quick, full): the estimate before a run has been timed
#: here; afterwards outputs/logs/suite-timings.json holds this machine's own durations.
TYPICAL_SECONDS = {
    "quick": {"00_numpy": 4, "01_pytorch": 7, "02_tensorflow": 13, "03_jax": 8, "04_onnxruntime": 4,
              "05_openvino": 4, "06_litert": 4, "article": 22, "method_ablation": 64, "sweeps": 22,
              "scenarios": 16, "models": 20, "your_model": 7, "precision": 10, "comparison": 6},
    "full": {"00_numpy": 25, "01_pytorch": 60, "02_tensorflow": 90, "03_jax": 50, "04_onnxruntime": 25,
             "05_openvino": 35, "06_litert": 50, "article": 160, "method_ablation": 130, "sweeps": 480,
             "scenarios": 420, "models": 600, "your_model": 60, "precision": 400, "comparison": 25},
}


@dataclass(frozen=True)
class Settings:
    """Parameters for one suite run (quick or full)."""

    batch_sizes: tuple[int, ...]
    min_time_s: float
    num_runs: int
    ablation_num_runs: int
    sweep_batch_sizes: tuple[int, ...]
    sweep_min_time_s: float
    #: variants for the framework notebooks; None keeps each notebook's own list
    framework_variants: tuple[str, ...] | None = None
    quick: bool = False
    #: each LoadGen run of the scenarios notebook lasts at least this long (seconds)
    scenario_min_duration_s: float = defaults.MIN_DURATION_S
    #: backends of the scenarios notebook; empty: every installed backend
    scenario_backends: tuple[str, ...] = ()
    #: frameworks of the models notebook (model x framework matrix); empty: every installed backend
    models_backends: tuple[str, ...] = ()
    #: models of the models notebook; empty: the notebook's own (the four zoo models)
    ranked_models: tuple[str, ...] = ()
    #: backends of the sweeps notebook; empty: every installed backend
    sweep_backends: tuple[str, ...] = ()
    #: LoadGen scenarios of the scenarios notebook; empty: the notebook's own (all four)
    scenarios: tuple[str, ...] = ()
    #: frameworks of the precision notebook; None: ``models_backends``
    precision_backends: tuple[str, ...] | None = None
    #: batch sizes of the precision notebook when ``quick`` (otherwise the notebook's own)
    precision_quick_batch_sizes: tuple[int, ...] = (1, 64)
    #: models the suite verifies on every backend before the notebooks run; empty: every zoo model
    verify_models: tuple[str, ...] = ()
    #: the your_model notebook's model (an .onnx path or torch:package.module:function); "": the zoo's fnn as ONNX
    user_model: str = ""
    #: precision target of the notebooks that stop on precision (relative half-width of the median's
    #: 95% interval); None keeps each notebook's own (±1%), 0 measures for a fixed time
    target_ci: float | None = None
    #: minimum loop time of the full run's precision-stopped cases (framework, sweeps, models, your_model,
    #: precision notebooks): docs/measurement.md found 0.25 s met ±1% as often as 1 s at a quarter of the
    #: cost; the article and the ablation keep ``min_time_s`` because they measure for a fixed time
    precision_min_time_s: float = defaults.MIN_TIME_S


#: The quick run (``make reproduce QUICK=1``, about 3 minutes on 2 cores): every notebook runs every cell on
#: small but real work, each case's process start and framework import being most of its cost. Fixed-time
#: loops of 0.1 s (``target_ci=0``): a precision target measures in interleaved rounds, several processes per
#: case, which alone would take longer than the whole quick run. Framework notebooks: the default variant at
#: the article's batch; sweeps and scenarios on NumPy and ONNX Runtime (every ONNX Runtime variant, all four
#: LoadGen scenarios); the models, your_model and precision notebooks on frameworks that start in about a
#: second (NumPy, ONNX Runtime, OpenVINO), the models on fnn and resnet8, precision at batch 64.
QUICK = Settings(batch_sizes=(1000,), min_time_s=0.1, num_runs=20, ablation_num_runs=10,
                 sweep_batch_sizes=(1, 1000), sweep_min_time_s=0.1, framework_variants=(), quick=True,
                 scenario_min_duration_s=0.3, scenario_backends=("numpy", "onnxruntime"),
                 models_backends=("numpy", "onnxruntime", "openvino"), ranked_models=("fnn", "resnet8"),
                 sweep_backends=("numpy", "onnxruntime"), precision_backends=("onnxruntime", "openvino"),
                 precision_quick_batch_sizes=(64,), verify_models=("fnn",), target_ci=0.0)
#: The full run (``make reproduce``): the notebooks' own defaults (benchlib.defaults, which their parameters
#: cells state), so that a notebook run in JupyterLab measures as ``make reproduce`` does; the suite passes a
#: notebook only its output folders and values equal to its defaults (tests/test_defaults.py).
FULL = Settings(batch_sizes=(1, 64, 1000), min_time_s=defaults.FIXED_MIN_TIME_S, num_runs=defaults.ARTICLE_NUM_RUNS,
                ablation_num_runs=defaults.ABLATION_NUM_RUNS, sweep_batch_sizes=(1, 8, 64, 256, 1000, 4096),
                sweep_min_time_s=defaults.MIN_TIME_S)
#: The smallest run that still executes every cell of every notebook (used by the tests).
TINY = Settings(batch_sizes=(1,), min_time_s=0.05, num_runs=2, ablation_num_runs=2, sweep_batch_sizes=(1,),
                sweep_min_time_s=0.05, framework_variants=(), quick=True, scenario_min_duration_s=0.05,
                scenario_backends=("numpy",), models_backends=("numpy",), target_ci=0.0)


def notebook_parameters(name: str, settings: Settings) -> dict:
    """Papermill parameters for notebook ``name``: absolute output paths, sizes from ``settings``."""
    common = {"results_dir": str(results_dir()), "figures_dir": str(figures_dir()),
              "tables_dir": str(tables_dir())}
    if name in FRAMEWORK_NOTEBOOKS:
        loop = settings.min_time_s if settings.quick else settings.precision_min_time_s
        parameters = {**common, "batch_sizes": list(settings.batch_sizes), "min_time_s": loop, **_target(settings)}
        if settings.framework_variants is not None:
            parameters["variants"] = list(settings.framework_variants)
        return parameters
    if name == "article":
        return {**common, "num_runs": settings.num_runs, "min_time_s": settings.min_time_s}
    if name == "method_ablation":
        return {**common, "num_runs": settings.ablation_num_runs, "min_time_s": settings.min_time_s}
    if name == "sweeps":
        return {**common, "batch_sizes": list(settings.sweep_batch_sizes),
                "min_time_s": settings.sweep_min_time_s, "quick": settings.quick, **_target(settings),
                **_chosen("backends", settings.sweep_backends)}
    if name == "scenarios":
        return {**common, "min_duration_s": settings.scenario_min_duration_s, "quick": settings.quick,
                "backends": list(settings.scenario_backends), **_chosen("scenarios", settings.scenarios)}
    if name == "models":
        # quick: the models' quick batch sizes, fixed-time loops, no peak measurement
        timing = {"min_time_s": settings.sweep_min_time_s, "target_ci": 0.0, "percent_of_peak": False} \
            if settings.quick else {"min_time_s": settings.precision_min_time_s, **_target(settings)}
        return {**common, "backends": list(settings.models_backends), "quick": settings.quick, **timing,
                **_chosen("models", settings.ranked_models)}
    if name == "your_model":
        timing = {"min_time_s": settings.sweep_min_time_s if settings.quick else settings.precision_min_time_s}
        return {**common, **_target(settings), "model": settings.user_model,
                "backends": list(settings.models_backends), **timing}
    if name == "precision":
        # quick: short loops, a smaller large batch and calibration set (the evaluation set stays 1,000 inputs)
        timing = {"min_time_s": settings.sweep_min_time_s, "batch_sizes": list(settings.precision_quick_batch_sizes),
                  "calibration_size": 64} \
            if settings.quick else {"min_time_s": settings.precision_min_time_s}
        backends = settings.models_backends if settings.precision_backends is None else settings.precision_backends
        return {**common, "backends": list(backends), **timing, **_target(settings)}
    if name == "comparison":
        # the article-shaped tables use the largest batch measured (the article's 1000 by default)
        return {**common, "batch_size": max(settings.batch_sizes)}
    return common


def _chosen(parameter: str, values: tuple[str, ...]) -> dict[str, list[str]]:
    """``{parameter: values}`` when ``values`` names some (the notebook's own default otherwise)."""
    return {parameter: list(values)} if values else {}


def _target(settings: Settings) -> dict[str, float]:
    """The ``target_ci`` parameter when ``settings`` sets one (the notebooks' own default otherwise)."""
    return {} if settings.target_ci is None else {"target_ci": settings.target_ci}


@dataclass
class SuiteResult:
    executed: list[Path] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    report: Path | None = None
    seconds: float = 0.0
    #: notebook name -> its log file (framework chatter, cell output, tracebacks)
    logs: dict[str, Path] = field(default_factory=dict)


def execute_notebook(source: Path, target: Path, parameters: dict, timeout_s: int = 3600,
                     log_path: Path | None = None) -> Path:
    """Run one notebook with papermill (kernel in this interpreter's environment).

    With ``log_path``, what the cells print is also appended there as it arrives.
    """
    import papermill

    target.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("a", encoding="utf-8") if log_path is not None else None
    try:
        papermill.execute_notebook(
            str(source), str(target), parameters=parameters, cwd=str(source.parent),
            kernel_name="python3", progress_bar=False, execution_timeout=timeout_s, log_output=False,
            stdout_file=log, stderr_file=log,
        )
    finally:
        if log is not None:
            log.close()
    return target


def failure_summary(exc: BaseException) -> str:
    """One line about why a notebook failed: the cell's exception, not papermill's framing."""
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename:
        return f"{ename}: {str(evalue or '').strip().splitlines()[0] if evalue else ''}"[:500]
    return traceback.format_exception_only(exc)[-1].strip()[:500]


def label_quick(path: Path, notice: str) -> None:
    """Put ``notice`` (Markdown) first in the executed notebook ``path``, so that whoever opens it sees that
    it ran with the quick settings; tagged so that report.html, which says it once at the top, leaves it out."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    cell = nbformat.v4.new_markdown_cell(notice)
    cell.metadata["tags"] = ["remove-from-report", "quick-run"]
    notebook.cells.insert(0, cell)
    nbformat.write(notebook, path)


def archive_previous_results() -> Path | None:
    """Move the previous suite's results, tables and figures aside, so that the comparison shows this run only.

    Tables and figures move too: a notebook replaces only files that carry benchlib's marks, and those
    written by an earlier version of benchlib may carry none, so a new run starts from empty folders.
    """
    folders = [folder for folder in (results_dir(), tables_dir(), figures_dir())
               if folder.exists() and any(folder.iterdir())]
    if not folders:
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    archive = outputs_dir() / "archive" / stamp
    for n in itertools.count(2):  # two runs in one second get two archives, never one nested in the other
        try:
            archive.mkdir(parents=True)
            break
        except FileExistsError:
            archive = archive.with_name(f"{stamp}-{n}")
    for folder in folders:
        shutil.move(str(folder), str(archive / folder.name))
    return archive


def run_suite(settings: Settings, notebooks: tuple[str, ...] | None = None,
              console: Console | None = None) -> SuiteResult:
    """Execute the notebooks (all by default) and write ``outputs/report.html``.

    ``console`` receives the suite's own lines (default: this process's standard output); each
    notebook's other output goes to ``outputs/logs/<notebook>.log``.
    """
    from benchlib.report.html import QUICK_NOTICE, write_report

    names = tuple(notebooks or FRAMEWORK_NOTEBOOKS + ANALYSIS_NOTEBOOKS)
    executed_dir = outputs_dir() / "notebooks"
    mode = "quick" if settings.quick else "full"
    timings = Timings(logs_dir() / "suite-timings.json", mode, TYPICAL_SECONDS[mode])
    own_console = console is None
    console = console or Console()
    result = SuiteResult()
    started = time.perf_counter()
    try:
        for index, name in enumerate(names, 1):
            source = NOTEBOOKS_DIR / f"{name}.ipynb"
            target = executed_dir / f"{name}.ipynb"
            log_path = logs_dir() / f"{name}.log"
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_path.write_text(f"# {name}: papermill {source} -> {target}\n", encoding="utf-8")
            result.logs[name] = log_path
            prefix = f"[{index}/{len(names)}] {name:<16}"
            if name in LONG_NOTEBOOKS:
                console.line(f"{prefix} running (usually about {duration(timings.expected(name))}); each case:")
            tick = time.perf_counter()
            failure = None
            with console.logging_to(log_path):
                watcher = ResultsWatcher(results_dir(), lambda text, n=name: console.line(f"      {n}: {text}"))
                try:
                    # the watcher only for long notebooks
                    with watcher if name in LONG_NOTEBOOKS else contextlib.nullcontext():
                        execute_notebook(source, target, notebook_parameters(name, settings), log_path=log_path)
                except Exception as exc:  # noqa: BLE001 - one failing notebook must not stop the suite
                    failure = failure_summary(exc)
                    traceback.print_exc()  # into the notebook's log
            if settings.quick and target.exists():
                label_quick(target, QUICK_NOTICE)
            seconds = time.perf_counter() - tick
            left = timings.left(names[index:])
            elapsed = time.perf_counter() - started
            tail = f"elapsed {duration(elapsed)}" + (f", about {duration(left)} left" if index < len(names) else "")
            if failure is None:
                result.executed.append(target)
                timings.record(name, seconds)
                console.line(f"{prefix} done in {duration(seconds):>10}   ({tail})")
            else:
                result.failed[name] = failure
                console.line(f"{prefix} FAILED after {duration(seconds)}: {failure}   (log: {log_path}; {tail})")
                if target.exists():
                    result.executed.append(target)  # papermill saves the partial notebook with the error
        reportable = [executed_dir / f"{name}.ipynb" for name in REPORT_NOTEBOOKS
                      if (executed_dir / f"{name}.ipynb").exists()]
        if reportable:
            result.report = write_report(reportable, outputs_dir() / "report.html",
                                         "benchlib: CPU inference benchmark", quick=settings.quick)
    finally:
        if own_console:
            console.close()
    result.seconds = time.perf_counter() - started
    return result


#: What the console says first in a quick run.
QUICK_CONSOLE = ("quick run (QUICK=1): every notebook on small work with short, fixed-time loops; the numbers are "
                 "short measurements, not the benchmark's results (`make reproduce` runs the full suite)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchlib.notebook.suite",
                                     description="Execute every notebook with papermill and build report.html.")
    parser.add_argument("--quick", type=int, choices=(0, 1), default=0,
                        help="1: short measurements (whole suite in a few minutes)")
    parser.add_argument("--notebooks", nargs="+", metavar="NAME",
                        choices=FRAMEWORK_NOTEBOOKS + ANALYSIS_NOTEBOOKS, help="run only these notebooks")
    parser.add_argument("--keep-results", action="store_true",
                        help="keep the existing results, tables and figures (appended to, replaced) instead of "
                             "moving them to outputs/archive first")
    degrade_to_ascii()  # a terminal that cannot show ± or µ gets +/- and u, not a UnicodeEncodeError
    args = parser.parse_args(argv)
    from benchlib.engine.env_params import check_environment

    try:  # a bad BENCHLIB_* variable is refused before anything runs, as the CLI does
        notes = check_environment()
    except ValueError as exc:
        parser.error(str(exc))
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    from benchlib.system.env import BATCH_LOAD_ENV

    # every notebook's runs are judged against the load before the suite began, not its own runs
    os.environ.setdefault(BATCH_LOAD_ENV, f"{os.getloadavg()[0]:.2f}")
    if not args.keep_results:
        archived = archive_previous_results()
        if archived:
            print(f"previous results, tables and figures moved to {archived}")
    # First the promise everything rests on: every backend computes the same function.
    # In a child process, so that no framework is loaded into this one; its table on the console,
    # the frameworks' messages in the log.
    settings = QUICK if args.quick else FULL
    if settings.quick:
        print(QUICK_CONSOLE, flush=True)
    # the quick run: fnn, the model every backend measures (the models notebook verifies its own on the
    # frameworks that run them); the full run: every zoo model, verify's default
    models = ["--models", *settings.verify_models] if settings.verify_models else []
    print(f"verifying every backend against the float64 reference{' on ' + ', '.join(models[1:]) if models else ''}"
          " ...", flush=True)
    verify_log = logs_dir() / "verify.log"
    verify_log.parent.mkdir(parents=True, exist_ok=True)
    with verify_log.open("w", encoding="utf-8") as log:
        verified = subprocess.run([sys.executable, "-m", "benchlib", "verify", *models], check=False, stderr=log)
    if verified.returncode != 0:
        # verify exits 1 when a backend failed, and also when every backend was skipped for a model
        print(f"warning: verification did not pass everywhere (a backend failed, whose runs are marked invalid "
              f"in the results, or every backend was skipped for a model); the table above says which "
              f"(details: {verify_log})", flush=True)
    print("running the notebooks (each one's framework messages and cell output: outputs/logs/<notebook>.log)",
          flush=True)
    result = run_suite(settings, tuple(args.notebooks) if args.notebooks else None)
    print(f"\n{'quick run' if settings.quick else 'suite'} finished in {duration(result.seconds)}")
    print(f"  executed notebooks: {outputs_dir() / 'notebooks'}")
    print(f"  results:            {results_dir()}")
    print(f"  figures:            {figures_dir()}")
    print(f"  tables:             {tables_dir()}")
    print(f"  logs:               {logs_dir()}  ({', '.join(p.name for p in result.logs.values())}, "
          f"{verify_log.name})")
    if result.report:
        print(f"  report:             {result.report}")
    if settings.quick:
        print("  (quick run: short measurements; `make reproduce` for the full run)")
    for name, error in result.failed.items():
        print(f"  FAILED {name}: {error[:300]}  (see {result.logs.get(name, logs_dir())})")
    return 1 if result.failed else 0

if __name__ == "__main__":
    sys.exit(main())
