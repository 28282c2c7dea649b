"""``benchlib article``: reproduce the article's benchmark, then measure it properly beside it.

1. the article protocol (:mod:`benchlib.protocols.article`): five frameworks in this process;
2. the corrected measurement (:func:`benchlib.engine.run_cases`): each framework in its own
   process, same weights, verified outputs, batch 1000 for all, warm-up, per-call p50; plus
   batch-1 runs of ONNX Runtime and OpenVINO, which the explanations use to price one row;
3. tables (Markdown and CSV), figures (PNG and SVG) and results (JSON lines) under ``--out``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from benchlib.paths import outputs_dir
from benchlib.protocols.article import (
    ARTICLE_ORDER,
    MAX_NUM_RUNS,
    ArticleProtocol,
    ArticleRun,
    load_published,
    run_article_protocol,
)

#: backends measured again at batch 1 so that the explanations can price one row
PER_ROW_BACKENDS = ("onnxruntime", "openvino")


def num_runs_type(text: str) -> int:
    """``--num-runs``: an integer from 1 to MAX_NUM_RUNS, else a message naming the option."""
    allowed = f"allowed: an integer from 1 to {MAX_NUM_RUNS}"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--num-runs={text!r} is invalid; {allowed}") from None
    if not 1 <= value <= MAX_NUM_RUNS:
        raise argparse.ArgumentTypeError(f"--num-runs={value} is invalid; {allowed}")
    return value


def article_backend(text: str) -> str:
    if text not in ARTICLE_ORDER:
        raise argparse.ArgumentTypeError(
            f"--backends={text!r} is not one of the article's frameworks; allowed: {', '.join(ARTICLE_ORDER)}")
    return text


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "article", help="reproduce the article's benchmark and compare it with a corrected measurement",
        description="Run the article's protocol as published (all frameworks in one process, "
                    "time.time() around a loop with psutil inside, per-row loops for ONNX Runtime "
                    "and OpenVINO, un-jitted JAX), then the corrected measurement (one process "
                    "per framework, same weights, verified outputs, batch 1000, warm-up, p50). "
                    "Writes tables, figures and results under --out and prints the tables.",
    )
    parser.add_argument("--num-runs", type=num_runs_type, default=1000, metavar="N",
                        help="calls per framework in the article's loop (default 1000, as the article; "
                             "OpenVINO makes 1000 infer requests per call, so this dominates the wall time)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="folder for results/, tables/, figures/ and models/ (default: outputs/)")
    parser.add_argument("--backends", nargs="+", type=article_backend, metavar="NAME", default=None,
                        help=f"frameworks to include, from {', '.join(ARTICLE_ORDER)} (default: all five; "
                             "missing ones are reported as skipped)")
    parser.add_argument("--skip-corrected", action="store_true", help="run only the article protocol")
    parser.add_argument("--seed", type=int, default=0, help="seed of the input and of default initialisation")
    parser.add_argument("--min-time", type=float, default=1.0, metavar="S",
                        help="corrected runs: minimum seconds of the timed loop per framework (default 1)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


# -- the pipeline, callable from notebooks ---------------------------------------------------------

def corrected_cases(backends: tuple[str, ...] = ARTICLE_ORDER, min_time_s: float = 1.0,
                    per_row: bool = True, seed: int = 0) -> list:
    """Engine cases of the corrected measurement: batch 1000 per framework (+ batch 1 per-row ones)."""
    from benchlib.engine import RunCase

    cases = [RunCase(backend=b, batch_size=1000, protocol="corrected", min_time_s=min_time_s, seed=seed)
             for b in backends]
    if per_row:
        cases += [RunCase(backend=b, batch_size=1, protocol="corrected", min_time_s=min_time_s, seed=seed)
                  for b in backends if b in PER_ROW_BACKENDS]
    return cases


@dataclass
class ArticleReport:
    """Everything ``benchlib article`` computes: the run, records and every table."""

    run: ArticleRun
    corrected_records: list[dict[str, Any]]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    explanations: list = field(default_factory=list)
    #: the normalised per-framework frames: "article", "corrected" (or None), "published"
    frames: dict[str, pd.DataFrame | None] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)


def build_report(run: ArticleRun, corrected_records: list[dict[str, Any]] | None = None) -> ArticleReport:
    """Compute every table and explanation (no files written)."""
    from benchlib.report import article_tables as at

    published = load_published()
    article = at.article_frame(run)
    report = ArticleReport(run=run, corrected_records=list(corrected_records or []))
    tables: dict[str, pd.DataFrame] = {}
    for metric, name in (("latency_ms", "latency"), ("cpu_percent", "cpu"), ("memory_mb", "memory")):
        tables[f"{name}"] = at.article_table(article, metric)
        tables[f"{name}-vs-published"] = at.published_comparison(article, published, metric)
    tables["wall-time"] = at.wall_time_table(article)
    corrected = batch1 = None
    if report.corrected_records:
        corrected = at.corrected_frame(report.corrected_records, batch_size=1000)
        batch1 = at.corrected_frame(report.corrected_records, batch_size=1)
        for metric, name in (("latency_ms", "latency"), ("cpu_percent", "cpu"), ("memory_mb", "memory")):
            tables[f"corrected-{name}"] = at.article_table(corrected, metric)
            tables[f"{name}-article-vs-corrected"] = at.protocol_comparison(article, corrected, metric)
        tables["corrected-status"] = at.status_table(corrected)
    tables["status"] = at.status_table(article)
    report.tables = tables
    report.explanations = at.explanations(run, corrected, batch1)
    report.frames = {"article": article, "corrected": corrected, "published": published}
    return report


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


def _section_body(name: str, table: pd.DataFrame) -> str:
    from benchlib.report.article_tables import render_markdown

    body = render_markdown(table)
    if "ranking_agrees" in table.attrs:
        body += f"\n\nRanking agrees: {'yes' if table.attrs['ranking_agrees'] else 'no'}."
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
    sections += [(TITLES.get(name, name), _section_body(name, table))
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


def run_article(num_runs: int = 1000, out: Path | None = None, backends: tuple[str, ...] | None = None,
                corrected: bool = True, seed: int = 0, min_time_s: float = 1.0,
                progress: bool = True, results_dir: Path | None = None, tables_dir: Path | None = None,
                figures_dir: Path | None = None) -> ArticleReport:
    """The whole ``benchlib article`` pipeline; returns the report with the files it wrote.

    Files go under ``out`` (results/, tables/, figures/, models/) unless a folder is given.
    """
    from benchlib.results import append_record

    out = Path(out or outputs_dir()).resolve()
    backends = tuple(b for b in ARTICLE_ORDER if b in (backends or ARTICLE_ORDER))
    protocol = ArticleProtocol(num_runs=num_runs, frameworks=backends, seed=seed)
    results_dir = Path(results_dir or out / "results")
    article_path = results_dir / "article-protocol.jsonl"
    run_id = uuid.uuid4().hex
    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def log(message: str) -> None:
        if progress:
            print(message, file=sys.stderr, flush=True)

    run = run_article_protocol(protocol, progress=progress, onnx_dir=out / "models", log=log)
    for record in run.records():
        record.update(run_id=run_id, created=created)
        append_record(article_path, record)
    corrected_records: list[dict[str, Any]] = []
    if corrected:
        from benchlib.engine import run_cases

        log(f"corrected measurement: {len(backends)} frameworks, each in its own process")
        corrected_records = run_cases(corrected_cases(backends, min_time_s=min_time_s, seed=seed),
                                      results_path=results_dir / "article-corrected.jsonl", progress=progress)
    report = build_report(run, corrected_records)
    write_report(report, out, Path(tables_dir) if tables_dir else None, Path(figures_dir) if figures_dir else None)
    report.files = [article_path, *([results_dir / "article-corrected.jsonl"] if corrected else []),
                    *report.files]
    return report


def run(args: argparse.Namespace) -> int:
    from benchlib.report.article_tables import render_text

    if args.min_time is not None and not 0 < args.min_time <= 3600:
        print(f"benchlib article: error: --min-time={args.min_time} is invalid; allowed: 0 < S <= 3600",
              file=sys.stderr)
        return 2
    started = time.perf_counter()
    report = run_article(num_runs=args.num_runs, out=args.out, backends=tuple(args.backends or ARTICLE_ORDER),
                         corrected=not args.skip_corrected, seed=args.seed, min_time_s=args.min_time,
                         progress=not args.no_progress)
    for name, table in report.tables.items():
        if table.empty:
            continue
        print(f"\n{TITLES.get(name, name)}\n")
        print(render_text(table))
        if "ranking_agrees" in table.attrs:
            print(f"ranking agrees: {'yes' if table.attrs['ranking_agrees'] else 'no'}")
    for explanation in report.explanations:
        print(f"\n{explanation.topic}: {explanation.text}")
    print(f"\narticle protocol wall time: {report.run.wall_s:.1f} s; total: {time.perf_counter() - started:.1f} s")
    print("files:")
    for path in report.files:
        print(f"  {path}")
    ok = any(r.status == "ok" for r in report.run.results)
    return 0 if ok else 1
