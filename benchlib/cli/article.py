"""``benchlib article``: reproduce the article's benchmark, then measure it properly beside it.

This module only reads the arguments; the command is :func:`benchlib.report.article_report.run_article`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from benchlib.cli.common import positive_int
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
                    "Writes tables, figures and results under --out and prints the tables.",
    )
    parser.add_argument("--num-runs", type=positive_int("--num-runs", MAX_NUM_RUNS), default=1000, metavar="N",
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


def run(args: argparse.Namespace) -> int:
    from benchlib.report.article_report import measured_any, report_text, run_article

    if args.min_time is not None and not 0 < args.min_time <= 3600:
        print(f"benchlib article: error: --min-time={args.min_time} is invalid; allowed: 0 < S <= 3600",
              file=sys.stderr)
        return 2
    refusal = _check_outputs(args)
    if refusal:
        return refusal
    started = time.perf_counter()
    report = run_article(num_runs=args.num_runs, out=args.out, backends=tuple(args.backends or ARTICLE_ORDER),
                         corrected=not args.skip_corrected, seed=args.seed, min_time_s=args.min_time,
                         progress=not args.no_progress)
    print(report_text(report, total_s=time.perf_counter() - started))
    return 0 if measured_any(report) else 1


def _check_outputs(args: argparse.Namespace) -> int | None:
    """Refuse (exit 2) before the protocol runs when a folder or file under ``--out`` cannot be written."""
    from benchlib.cli.common import refuse
    from benchlib.report.outputs import OutputRefused, plan_article
    from benchlib.notebook.plans import ARTICLE_DOCUMENT, ARTICLE_FIGURES
    from benchlib.system.paths import outputs_dir
    from benchlib.report.article_report import TITLES

    try:
        # per framework: the article's record, the corrected run and its batch-1 run at most
        plan_article(Path(args.out or outputs_dir()), runs=3 * len(args.backends or ARTICLE_ORDER),
                     table_names=[f"article-{name}" for name in TITLES], figure_names=ARTICLE_FIGURES,
                     document=ARTICLE_DOCUMENT)
    except OutputRefused as exc:
        return refuse("article", str(exc))
    return None
