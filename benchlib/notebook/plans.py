"""Every file each analysis notebook writes, planned in its first cell before anything runs.

One function per notebook (article, method_ablation, sweeps, scenarios, models, precision,
comparison), each called with that notebook's own parameters and re-exported by
:mod:`benchlib.notebook` as ``nb.plan_<notebook>_outputs``. Each names every results file, table,
chart and other file the notebook (and the library functions it calls) will write, and hands them to
:func:`benchlib.notebook.setup.plan_outputs`, the one check every notebook and ``run --out`` make: an
existing file that benchlib did not write is refused (:class:`~benchlib.report.outputs.OutputRefused`,
a ``ValueError`` naming the parameter and the file), benchlib's own earlier files are resumed or
replaced. A planner that decides a file name (a results file) returns it, so the notebook writes
exactly the file that was checked.

Not planned, because they never replace an existing file: the model files under ``outputs/models``
(written only when missing) and LoadGen's logs (a new folder per run under ``outputs/loadgen``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchlib.notebook.setup import plan_outputs

if TYPE_CHECKING:
    import pandas as pd

    from benchlib.engine.case import RunCase
    from benchlib.report.comparison import Configuration
    from benchlib.studies.scenarios import ScenarioConfig
    from benchlib.studies.sweep import SweepConfig

#: The article's charts (benchlib.report.article_report.write_report) and its Markdown document.
ARTICLE_FIGURES = ("article-chart", "article-vs-corrected")
ARTICLE_DOCUMENT = "article.md"
#: The method ablation's tables (benchlib.report.ablation_tables.all_tables) and charts.
ABLATION_TABLES = ("ablation_latency", "ablation_ranking", "ablation_cpu_memory")
ABLATION_FIGURES = ("ablation_latency", "ablation_cpu_memory")
#: The sweeps notebook's tables (benchlib.report.sweep_tables.all_tables) and charts.
SWEEP_TABLES = ("sweep_throughput", "sweep_percent_of_peak", "sweep_best_variant", "sweep_threads_scaling",
                "sweep_cold_start", "sweep_dispatch_cost", "sweep_targets", "sweep_not_measured")
SWEEP_FIGURES = ("sweep_throughput", "sweep_roofline", "sweep_cold_start")
#: The scenarios notebook's tables; its charts are one load curve per model.
SCENARIO_TABLES = ("scenarios_summary", "scenarios_max_rate", "scenarios_tradeoff", "scenarios_load_curve",
                   "scenarios_validity", "scenarios_not_measured")
#: The models notebook's charts; its tables are one per ranking matrix (benchlib.report.models_matrix.MATRICES).
MODELS_FIGURES = ("models-p50-batch1", "models-throughput-largest")
#: The comparison notebook's fixed tables and charts; it writes one more table per other thread setting.
COMPARISON_FIGURES = ("comparison-p50-p99", "comparison-latency-ecdf", "comparison-throughput",
                      "comparison-cpu-memory")


def plan_article_outputs(results_dir: Path, figures_dir: Path, tables_dir: Path) -> None:
    """The article notebook (:func:`benchlib.studies.article.run_article`): both protocols' results,
    every table as CSV with its Markdown twin, ``article.md`` and the two charts."""
    from benchlib.report.article_report import TITLES
    from benchlib.report.outputs import ARTICLE_RESULTS
    from benchlib.studies.article.pipeline import corrected_cases
    from benchlib.studies.article.settings import ARTICLE_ORDER

    # every table build_report can make; the status tables only when they have rows, the corrected
    # ones only when the corrected measurement ran
    plan_outputs([Path(results_dir) / name for name in ARTICLE_RESULTS], tables_dir,
                 [f"article-{name}" for name in TITLES], figures_dir, ARTICLE_FIGURES,
                 runs=len(ARTICLE_ORDER) + len(corrected_cases()),
                 files=[("tables_dir", Path(tables_dir) / ARTICLE_DOCUMENT, "Markdown document")])


def plan_method_ablation_outputs(num_runs: int, results_dir: Path, figures_dir: Path, tables_dir: Path) -> Path:
    """The method ablation notebook: a new results file named by the time, its tables and charts.

    Returns the results file (``ablation-<date>-<time>.jsonl`` in ``results_dir``) to pass to
    :func:`~benchlib.studies.ablation.run_ablation`.
    """
    from benchlib.studies.ablation import build_steps
    from benchlib.studies.article.settings import ARTICLE_ORDER

    path = Path(results_dir) / time.strftime("ablation-%Y%m%d-%H%M%S.jsonl")
    plan_outputs(path, tables_dir, ABLATION_TABLES, figures_dir, ABLATION_FIGURES,
                 runs=len(build_steps(num_runs=num_runs)) * len(ARTICLE_ORDER))
    return path


def plan_sweeps_outputs(config: SweepConfig, results_dir: Path, figures_dir: Path, tables_dir: Path) -> Path:
    """The sweeps notebook: ``sweep.jsonl`` (``sweep-quick.jsonl`` when quick), the roofline beside it,
    its tables and charts. Returns the results file to pass to :func:`~benchlib.studies.sweep.run_sweep`."""
    from benchlib.studies.plan import results_file
    from benchlib.studies.sweep import build_cases, roofline_path

    path = results_file("sweep", config.quick, results_dir)
    plan_outputs(path, tables_dir, SWEEP_TABLES, figures_dir, SWEEP_FIGURES, runs=len(build_cases(config)),
                 files=[("results_dir", roofline_path(path), "roofline JSON")])
    return path


def plan_scenarios_outputs(config: ScenarioConfig, results_dir: Path, figures_dir: Path, tables_dir: Path) -> Path:
    """The scenarios notebook: ``scenarios.jsonl`` (``scenarios-quick.jsonl`` when quick), its tables and
    one load-curve chart per model (named by :func:`~benchlib.models.user.file_label`). Returns the results
    file to pass to :func:`~benchlib.studies.scenarios.run_scenarios`."""
    from benchlib.models.user import file_label
    from benchlib.studies.plan import results_file
    from benchlib.studies.scenarios import build_cases

    path = results_file("scenarios", config.quick, results_dir)
    plan_outputs(path, tables_dir, SCENARIO_TABLES, figures_dir,
                 [f"scenarios_load_curve_{file_label(model)}" for model in config.models],
                 runs=len(build_cases(config)))
    return path


def plan_models_outputs(cases: Sequence[RunCase], percent_of_peak: bool, results_dir: Path, figures_dir: Path,
                        tables_dir: Path) -> Path:
    """The models notebook: ``models/models.jsonl``, one table per ranking matrix, the two heatmaps and,
    with ``percent_of_peak``, the roofline beside the results and its table. Returns the results file."""
    from benchlib.report.models_matrix import MATRICES
    from benchlib.studies.sweep import roofline_path

    # a folder of its own: the comparison notebook reads every file directly in results_dir, all fnn
    path = Path(results_dir) / "models" / "models.jsonl"
    tables = [f"models-{name}" for name in MATRICES]
    files = []
    if percent_of_peak:
        tables.append("models-percent-of-peak")
        files.append(("results_dir", roofline_path(path), "roofline JSON"))
    plan_outputs(path, tables_dir, tables, figures_dir, MODELS_FIGURES, runs=len(cases), files=files)
    return path


def plan_precision_outputs(cases: Sequence[RunCase], results_dir: Path, figures_dir: Path, tables_dir: Path) -> Path:
    """The precision notebook: ``precision/precision.jsonl``, its table and its scatter. Returns the results file."""
    path = Path(results_dir) / "precision" / "precision.jsonl"
    plan_outputs(path, tables_dir, ["precision"], figures_dir, ["precision-speedup-agreement"], runs=len(cases))
    return path


def other_table_name(name: str) -> str:
    """The file name (without suffix) of one of :func:`~benchlib.report.comparison.other_configuration_tables`."""
    return f"comparison-other-{name.replace(' ', '-')}"


def plan_comparison_outputs(frame: pd.DataFrame, config: Configuration, figures_dir: Path,
                            tables_dir: Path) -> dict[str, Any]:
    """The comparison notebook (it reads ``results_dir`` and writes no results): the availability table,
    the article-shaped tables, one table per other thread setting measured, every case, and the charts.

    Returns the other configurations' tables by name (what the notebook shows and saves), computed
    here because their names depend on the records loaded.
    """
    from benchlib.report.article_tables import METRICS
    from benchlib.report.comparison import other_configuration_tables

    others = other_configuration_tables(frame, config)
    tables = ["comparison-availability", *(f"comparison-fair-{metric}" for metric in METRICS),
              *(other_table_name(name) for name in others), "comparison-all"]
    plan_outputs(None, tables_dir, tables, figures_dir, COMPARISON_FIGURES, runs=0)
    return others
