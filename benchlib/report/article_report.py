"""``benchlib article``'s tables, explanations, document and charts, and the whole command in one call.

:func:`run_article` measures (:func:`benchlib.studies.article.pipeline.measure_article`), then builds the
report (:func:`build_report`) and writes it (:func:`write_report`): CSV and Markdown tables, one
Markdown document and two charts under ``out``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchlib import defaults
from benchlib.studies.article.pipeline import CORRECTED_BATCH_SIZE, measure_article
from benchlib.studies.article.published import load_published
from benchlib.studies.article.records import ArticleRun

if TYPE_CHECKING:  # pandas only when a report is built
    import pandas as pd

    from benchlib.report.article_explanations import Explanation

TITLES = {
    "latency": "Latency (article protocol, this machine)",
    "cpu": "CPU usage (article protocol, this machine)",
    "memory": "Memory (article protocol, this machine)",
    "latency-vs-published": "Latency: this machine vs the article's published figures",
    "cpu-vs-published": "CPU usage: this machine vs the article's published figures",
    "memory-vs-published": "Memory: this machine vs the article's published figures",
    "corrected-latency": "Latency (corrected measurement: own process, batch 1000, p50 per call)",
    "corrected-cpu": "CPU usage (corrected measurement: CPU time over the timed loop)",
    "corrected-memory": "Memory (corrected measurement: peak RSS of the framework's own process)",
    "latency-article-vs-corrected": "Latency: article protocol vs corrected",
    "cpu-article-vs-corrected": "CPU usage: article protocol vs corrected",
    "memory-article-vs-corrected": "Memory: article protocol vs corrected",
    "wall-time": "Wall time of each framework's loop (article protocol)",
    "status": "Frameworks without figures (article protocol)",
    "corrected-status": "Frameworks without figures (corrected measurement)",
}
#: (metric column, table name) of the article's three tables
METRIC_TABLES = (("latency_ms", "latency"), ("cpu_percent", "cpu"), ("memory_mb", "memory"))


@dataclass
class ArticleReport:
    """Everything ``benchlib article`` computes: the run, records and every table."""

    run: ArticleRun
    corrected_records: list[dict[str, Any]]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    explanations: list[Explanation] = field(default_factory=list)
    #: the normalised per-framework frames: "article", "corrected" (or None), "published"
    frames: dict[str, pd.DataFrame | None] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)


def build_report(run: ArticleRun, corrected_records: list[dict[str, Any]] | None = None) -> ArticleReport:
    """Compute every table and explanation (no files written)."""
    from benchlib.report import article_tables as at
    from benchlib.report.article_explanations import explanations

    published = load_published()
    article = at.article_frame(run)
    report = ArticleReport(run=run, corrected_records=list(corrected_records or []))
    tables: dict[str, pd.DataFrame] = {}
    for metric, name in METRIC_TABLES:
        tables[f"{name}"] = at.article_table(article, metric)
        tables[f"{name}-vs-published"] = at.published_comparison(article, published, metric)
    tables["wall-time"] = at.wall_time_table(article)
    corrected = batch1 = None
    if report.corrected_records:
        corrected = at.corrected_frame(report.corrected_records, batch_size=CORRECTED_BATCH_SIZE)
        batch1 = at.corrected_frame(report.corrected_records, batch_size=1)
        for metric, name in METRIC_TABLES:
            tables[f"corrected-{name}"] = at.article_table(corrected, metric)
            tables[f"{name}-article-vs-corrected"] = at.protocol_comparison(article, corrected, metric)
        tables["corrected-status"] = at.status_table(corrected)
    tables["status"] = at.status_table(article)
    report.tables = tables
    report.explanations = explanations(run, corrected, batch1)
    report.frames = {"article": article, "corrected": corrected, "published": published}
    return report


def ranking_sentence(table: pd.DataFrame) -> str | None:
    """"yes"/"no" for a comparison table that ranks the frameworks both ways, else ``None``."""
    if "ranking_agrees" not in table.attrs:
        return None
    return "yes" if table.attrs["ranking_agrees"] else "no"


def _section_body(table: pd.DataFrame) -> str:
    from benchlib.report.article_tables import render_markdown

    body = render_markdown(table)
    verdict = ranking_sentence(table)
    if verdict is not None:
        body += f"\n\nRanking agrees: {verdict}."
    return body


def write_report(report: ArticleReport, out: Path, tables_dir: Path | None = None,
                 figures_dir: Path | None = None) -> list[Path]:
    """Write the CSV tables, one Markdown document and the two charts (default: under ``out``)."""
    from benchlib.report import article_figures as af
    from benchlib.report import article_tables as at

    tables_dir, figures_dir = tables_dir or out / "tables", figures_dir or out / "figures"
    files = at.write_tables({k: v for k, v in report.tables.items() if not v.empty or "status" not in k},
                            tables_dir)
    run = report.run
    header = (f"Article protocol: {run.protocol.num_runs} runs per framework, batch "
              f"{run.protocol.batch_size}, one process (pid {run.pid}), wall time {run.wall_s:.1f} s. "
              f"Settings: {run.protocol.to_dict()}.")
    sections = [("Run", header)]
    sections += [(TITLES.get(name, name), _section_body(table))
                 for name, table in report.tables.items() if not table.empty]
    sections += [(e.topic, e.text) for e in report.explanations]
    files.append(at.write_markdown(sections, tables_dir / "article.md",
                                   "The article's benchmark, reproduced and corrected"))
    frames = report.frames
    files += af.plot_article_chart(frames["article"], figures_dir / "article-chart")
    if frames["corrected"] is not None:
        files += af.plot_protocol_comparison(frames["article"], frames["corrected"],
                                             figures_dir / "article-vs-corrected", frames["published"])
    report.files = files
    return files


def run_article(num_runs: int = defaults.ARTICLE_NUM_RUNS, out: Path | None = None,
                backends: tuple[str, ...] | None = None, corrected: bool = True, seed: int = 0,
                min_time_s: float = defaults.FIXED_MIN_TIME_S,
                progress: bool = True, results_dir: Path | None = None, tables_dir: Path | None = None,
                figures_dir: Path | None = None) -> ArticleReport:
    """The whole ``benchlib article`` command; returns the report with the files it wrote.

    Files go under ``out`` (results/, tables/, figures/, models/) unless a folder is given.
    """
    from benchlib.system.paths import outputs_dir

    out = Path(out or outputs_dir()).resolve()
    run, corrected_records, results_files = measure_article(
        num_runs=num_runs, out=out, backends=backends, corrected=corrected, seed=seed, min_time_s=min_time_s,
        progress=progress, results_dir=results_dir)
    report = build_report(run, corrected_records)
    write_report(report, out, Path(tables_dir) if tables_dir else None, Path(figures_dir) if figures_dir else None)
    report.files = [*results_files, *report.files]
    return report


def report_text(report: ArticleReport, total_s: float) -> str:
    """What ``benchlib article`` prints: every table, the explanations, the timings and the files written."""
    from benchlib.report.article_tables import render_text

    lines: list[str] = []
    for name, table in report.tables.items():
        if table.empty:
            continue
        lines += ["", TITLES.get(name, name), "", render_text(table)]
        verdict = ranking_sentence(table)
        if verdict is not None:
            lines.append(f"ranking agrees: {verdict}")
    lines += [f"\n{explanation.topic}: {explanation.text}" for explanation in report.explanations]
    lines.append(f"\narticle protocol wall time: {report.run.wall_s:.1f} s; total: {total_s:.1f} s")
    lines.append("files:")
    lines += [f"  {path}" for path in report.files]
    return "\n".join(lines)


def measured_any(report: ArticleReport) -> bool:
    """Whether at least one framework produced figures under the article protocol (the exit status)."""
    return any(r.status == "ok" for r in report.run.results)
