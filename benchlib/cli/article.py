"""``benchlib article``: reproduce the article's benchmark, then measure it properly beside it.

This module only reads the arguments; the command is :func:`benchlib.report.article_report.run_article`.
"""

from __future__ import annotations

import argparse
import time

from benchlib import defaults
from benchlib.cli.common import add_out_option, add_progress_option, out_folder, positive_int, positive_seconds, seed
from benchlib.engine.params import MAX_NUM_RUNS
from benchlib.studies.article.settings import ARTICLE_ORDER


def article_backend(text: str) -> str:
    """``--backends``: one of the article's frameworks, else a message naming the option."""
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
                    "Writes tables, figures and results under --out and prints the tables. Every run measures "
                    "everything again (the protocols are compared with each other, so they are measured "
                    "together; there is nothing to resume).",
    )
    parser.add_argument("--num-runs", type=positive_int("--num-runs", MAX_NUM_RUNS),
                        default=defaults.ARTICLE_NUM_RUNS, metavar="N",
                        help=f"calls per framework in the article's loop (default: {defaults.ARTICLE_NUM_RUNS}, as "
                             "the article; OpenVINO makes 1000 infer requests per call, so this dominates the wall "
                             "time)")
    add_out_option(parser, "records in results/article-protocol.jsonl and results/article-corrected.jsonl, "
                           "tables and article.md in tables/, figures in figures/, ONNX files in models/")
    parser.add_argument("--backends", nargs="+", type=article_backend, metavar="NAME", default=None,
                        help=f"frameworks to include, from {', '.join(ARTICLE_ORDER)} (default: all five; "
                             "missing ones are reported as skipped)")
    parser.add_argument("--skip-corrected", action="store_true", help="run only the article protocol")
    parser.add_argument("--seed", type=seed, default=0, metavar="N",
                        help="seed of the input and of default initialisation (default: 0)")
    parser.add_argument("--min-time-s", type=positive_seconds("--min-time-s"), default=defaults.FIXED_MIN_TIME_S,
                        metavar="S", help=f"corrected runs: the timed loop per framework lasts at least S seconds "
                                          f"(fixed time; default: {defaults.FIXED_MIN_TIME_S:g})")
    add_progress_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from benchlib.report.article_report import measured_any, report_text, run_article

    refusal = _check_outputs(args)
    if refusal:
        return refusal
    started = time.perf_counter()
    report = run_article(num_runs=args.num_runs, out=args.out, backends=tuple(args.backends or ARTICLE_ORDER),
                         corrected=not args.skip_corrected, seed=args.seed, min_time_s=args.min_time_s,
                         progress=not args.no_progress)
    print(report_text(report, total_s=time.perf_counter() - started))
    return 0 if measured_any(report) else 1


def _check_outputs(args: argparse.Namespace) -> int | None:
    """Refuse (exit 2) before the protocol runs when a folder or file under ``--out`` cannot be written."""
    from benchlib.cli.common import refuse
    from benchlib.notebook.plans import ARTICLE_DOCUMENT, ARTICLE_FIGURES
    from benchlib.report.article_report import TITLES
    from benchlib.report.outputs import OutputRefused, plan_article

    try:
        # per framework: the article's record, the corrected run and its batch-1 run at most
        plan_article(out_folder(args), runs=3 * len(args.backends or ARTICLE_ORDER),
                     table_names=[f"article-{name}" for name in TITLES], figure_names=ARTICLE_FIGURES,
                     document=ARTICLE_DOCUMENT)
    except OutputRefused as exc:
        return refuse("article", str(exc))
    return None
