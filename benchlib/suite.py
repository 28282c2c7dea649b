"""The main job: every notebook executed by papermill, then one self-contained HTML report.

``python -m benchlib.suite [--quick 1]`` (what ``make reproduce`` runs). Framework notebooks first,
then the article, the method ablation, the sweeps and the comparison. A notebook that fails is
reported and the others still run; the exit status is 1 if any failed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from benchlib.paths import figures_dir, outputs_dir, results_dir, tables_dir

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"

FRAMEWORK_NOTEBOOKS = ("00_numpy", "01_pytorch", "02_tensorflow", "03_jax", "04_onnxruntime", "05_openvino")
ANALYSIS_NOTEBOOKS = ("article", "method_ablation", "sweeps", "scenarios", "comparison")
#: Notebooks that make up report.html, in page order.
REPORT_NOTEBOOKS = ("comparison", "article", "method_ablation", "sweeps", "scenarios")


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
    scenario_min_duration_s: float = 2.0
    #: backends of the scenarios notebook; empty: every installed backend
    scenario_backends: tuple[str, ...] = ()


QUICK = Settings(batch_sizes=(1, 1000), min_time_s=0.3, num_runs=20, ablation_num_runs=10,
                 sweep_batch_sizes=(1, 64, 1000), sweep_min_time_s=0.15, quick=True, scenario_min_duration_s=0.5)
FULL = Settings(batch_sizes=(1, 64, 1000), min_time_s=2.0, num_runs=1000, ablation_num_runs=100,
                sweep_batch_sizes=(1, 8, 64, 256, 1000, 4096), sweep_min_time_s=0.5)
#: The smallest run that still executes every cell of every notebook (used by the tests).
TINY = Settings(batch_sizes=(1,), min_time_s=0.05, num_runs=2, ablation_num_runs=2, sweep_batch_sizes=(1,),
                sweep_min_time_s=0.05, framework_variants=(), quick=True, scenario_min_duration_s=0.05,
                scenario_backends=("numpy",))


def notebook_parameters(name: str, settings: Settings) -> dict:
    """Papermill parameters for notebook ``name``: absolute output paths, sizes from ``settings``."""
    common = {"results_dir": str(results_dir()), "figures_dir": str(figures_dir()),
              "tables_dir": str(tables_dir())}
    if name in FRAMEWORK_NOTEBOOKS:
        parameters = {**common, "batch_sizes": list(settings.batch_sizes), "min_time_s": settings.min_time_s}
        if settings.framework_variants is not None:
            parameters["variants"] = list(settings.framework_variants)
        return parameters
    if name == "article":
        return {**common, "num_runs": settings.num_runs, "min_time_s": settings.min_time_s}
    if name == "method_ablation":
        return {**common, "num_runs": settings.ablation_num_runs, "min_time_s": settings.min_time_s}
    if name == "sweeps":
        return {**common, "batch_sizes": list(settings.sweep_batch_sizes),
                "min_time_s": settings.sweep_min_time_s, "quick": settings.quick}
    if name == "scenarios":
        return {**common, "min_duration_s": settings.scenario_min_duration_s, "quick": settings.quick,
                "backends": list(settings.scenario_backends)}
    if name == "comparison":
        # the article-shaped tables use the largest batch measured (the article's 1000 by default)
        return {**common, "batch_size": max(settings.batch_sizes)}
    return common


@dataclass
class SuiteResult:
    executed: list[Path] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    report: Path | None = None
    seconds: float = 0.0


def execute_notebook(source: Path, target: Path, parameters: dict, timeout_s: int = 3600) -> Path:
    """Run one notebook with papermill (kernel in this interpreter's environment)."""
    import papermill

    target.parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(
        str(source), str(target), parameters=parameters, cwd=str(source.parent),
        kernel_name="python3", progress_bar=False, execution_timeout=timeout_s, log_output=False,
    )
    return target


def archive_previous_results() -> Path | None:
    """Move the previous suite's results aside so that the comparison shows this run only."""
    folder = results_dir()
    if not folder.exists() or not any(folder.iterdir()):
        return None
    archive = outputs_dir() / "archive" / time.strftime("results-%Y%m%d-%H%M%S")
    archive.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(folder), str(archive))
    return archive


def run_suite(settings: Settings, notebooks: tuple[str, ...] | None = None) -> SuiteResult:
    """Execute the notebooks (all by default) and write ``outputs/report.html``."""
    from benchlib.report.html import write_report

    names = notebooks or FRAMEWORK_NOTEBOOKS + ANALYSIS_NOTEBOOKS
    executed_dir = outputs_dir() / "notebooks"
    result = SuiteResult()
    started = time.perf_counter()
    for index, name in enumerate(names, 1):
        source = NOTEBOOKS_DIR / f"{name}.ipynb"
        target = executed_dir / f"{name}.ipynb"
        print(f"[{index}/{len(names)}] {name} ...", flush=True)
        tick = time.perf_counter()
        try:
            execute_notebook(source, target, notebook_parameters(name, settings))
            result.executed.append(target)
            print(f"    done in {time.perf_counter() - tick:.0f} s -> {target}", flush=True)
        except Exception as exc:  # noqa: BLE001 - one failing notebook must not stop the suite
            result.failed[name] = traceback.format_exception_only(exc)[-1].strip()[:2000]
            print(f"    FAILED after {time.perf_counter() - tick:.0f} s: {result.failed[name][:500]}", flush=True)
            if target.exists():
                result.executed.append(target)  # papermill saves the partial notebook with the error
    reportable = [executed_dir / f"{name}.ipynb" for name in REPORT_NOTEBOOKS
                  if (executed_dir / f"{name}.ipynb").exists()]
    if reportable:
        result.report = write_report(reportable, outputs_dir() / "report.html", "benchlib: CPU inference benchmark")
    result.seconds = time.perf_counter() - started
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchlib.suite",
                                     description="Execute every notebook with papermill and build report.html.")
    parser.add_argument("--quick", type=int, choices=(0, 1), default=0,
                        help="1: short measurements (whole suite in a few minutes)")
    parser.add_argument("--notebooks", nargs="+", metavar="NAME",
                        choices=FRAMEWORK_NOTEBOOKS + ANALYSIS_NOTEBOOKS, help="run only these notebooks")
    parser.add_argument("--keep-results", action="store_true",
                        help="append to the existing results instead of archiving them first")
    args = parser.parse_args(argv)
    from benchlib.env import BATCH_LOAD_ENV

    # every notebook's runs are judged against the load before the suite began, not its own runs
    os.environ.setdefault(BATCH_LOAD_ENV, f"{os.getloadavg()[0]:.2f}")
    if not args.keep_results:
        archived = archive_previous_results()
        if archived:
            print(f"previous results moved to {archived}")
    # First the promise everything rests on: every backend computes the same function.
    # In a child process, so that no framework is loaded into this one.
    print("verifying every backend against the float64 reference ...", flush=True)
    verified = subprocess.run([sys.executable, "-m", "benchlib", "verify"], check=False)
    if verified.returncode != 0:
        print("warning: a backend failed verification; its runs are marked invalid in the results", flush=True)
    result = run_suite(QUICK if args.quick else FULL, tuple(args.notebooks) if args.notebooks else None)
    print(f"\nsuite finished in {result.seconds / 60:.1f} min")
    print(f"  executed notebooks: {outputs_dir() / 'notebooks'}")
    print(f"  results:            {results_dir()}")
    print(f"  figures:            {figures_dir()}")
    print(f"  tables:             {tables_dir()}")
    if result.report:
        print(f"  report:             {result.report}")
    for name, error in result.failed.items():
        print(f"  FAILED {name}: {error[:300]}")
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
