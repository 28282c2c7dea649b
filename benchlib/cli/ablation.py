"""``benchlib ablation``: from the article's protocol to the engine's, one fix at a time."""

from __future__ import annotations

import argparse
import sys

from benchlib import defaults
from benchlib.cli.common import (
    add_out_option,
    add_progress_option,
    backend_name,
    out_folder,
    positive_int,
    positive_seconds,
)
from benchlib.engine.params import MAX_NUM_RUNS
from benchlib.studies.article.settings import ARTICLE_ORDER


def _article_backend(text: str) -> str:
    name = backend_name(text)
    if name not in ARTICLE_ORDER:
        raise argparse.ArgumentTypeError(f"--backends={text!r} is not one of the article's frameworks; "
                                         f"allowed: {', '.join(ARTICLE_ORDER)}")
    return name


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ablation", help="re-measure the article's five frameworks after each fix of its method",
        description="Start from the article's protocol and apply one change at a time (equal work, reused "
                    "infer request, warm-up and graph mode, psutil out of the loop, per-call percentiles, one "
                    "process per framework, identical weights, controlled threads), re-measuring every "
                    "framework after each; write one record per (step, framework), tables and figures. Every run "
                    "measures every step again (its steps are compared with each other, so they are measured "
                    "together; there is nothing to resume).",
    )
    parser.add_argument("--num-runs", type=positive_int("--num-runs", MAX_NUM_RUNS),
                        default=defaults.ABLATION_NUM_RUNS, metavar="N",
                        help=f"calls per framework and step (default: {defaults.ABLATION_NUM_RUNS})")
    parser.add_argument("--min-time-s", type=positive_seconds("--min-time-s"), default=defaults.FIXED_MIN_TIME_S,
                        metavar="S", help=f"engine steps (7-8): timed loop lasts at least S seconds (fixed time; "
                                          f"default: {defaults.FIXED_MIN_TIME_S:g})")
    parser.add_argument("--backends", nargs="+", type=_article_backend, default=None, metavar="NAME",
                        help=f"frameworks ({', '.join(ARTICLE_ORDER)}; default: all five)")
    add_out_option(parser, "records in results/ablation-<timestamp>.jsonl, tables in tables/, figures in figures/")
    add_progress_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from benchlib.engine.params import check_writable_dir

    if args.out is not None:
        try:
            check_writable_dir(args.out, "--out")
        except ValueError as exc:
            print(f"benchlib ablation: error: {exc}", file=sys.stderr)
            return 2
    folder = out_folder(args)
    folders = (folder / "results", folder / "tables", folder / "figures")

    import time

    from benchlib.report.ablation_figures import all_figures
    from benchlib.report.ablation_tables import ablation_frame, all_tables, step_sentences
    from benchlib.report.sweep_tables import write_tables
    from benchlib.report.tables import to_markdown
    from benchlib.studies.ablation import run_ablation

    frameworks = tuple(dict.fromkeys(args.backends)) if args.backends else ARTICLE_ORDER
    path = folders[0] / time.strftime("ablation-%Y%m%d-%H%M%S.jsonl")
    result = run_ablation(num_runs=args.num_runs, min_time_s=args.min_time_s, frameworks=frameworks,
                          results_path=path, progress=not args.no_progress)
    frame = ablation_frame(result.records)
    tables = all_tables(frame)
    for name, table in tables.items():
        print(f"\n## {name}\n\n{to_markdown(table) if not table.empty else '(no data)'}")
    print()
    for sentence in step_sentences(frame):
        print(sentence)
    write_tables(tables, folders[1])
    figures = all_figures(frame, folders[2])
    print(f"\nablation: {len(result.records)} record(s) in {result.wall_s:.0f} s")
    print(f"results: {path}\ntables:  {folders[1]}\nfigures: {', '.join(str(p[0]) for p in figures.values())}")
    return 1 if any(r["status"] == "failed" for r in result.records) else 0
