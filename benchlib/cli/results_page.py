"""``benchlib results-page``: a results folder as a Markdown page under ``docs/results/``."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchlib.cli.common import refuse

#: Where the pages go unless ``--docs`` says otherwise (relative to the current folder: the checkout).
DEFAULT_DOCS = Path("docs") / "results"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "results-page", help="write a results folder as a Markdown page under docs/results/",
        description="Read every record of RESULTS_FOLDER (the outputs/ folder of a `make reproduce` run, or a "
                    "folder of results files) and write docs/results/<machine>-<date>.md: the machine's "
                    "fingerprint, framework versions and settings, whether the suite ran quick or full, the "
                    "comparison, models, precision and scenario tables with their intervals, the machine speed "
                    "levels of the interleaved rounds, and two to four charts in docs/results/<machine>-<date>/. "
                    "docs/results/README.md lists every page. A folder without records is refused (exit 2).",
    )
    parser.add_argument("results_folder", nargs="?", type=Path, default=None, metavar="RESULTS_FOLDER",
                        help="the outputs/ folder of a run, or a folder of *.jsonl results files "
                             "(default: benchlib's outputs/ folder)")
    parser.add_argument("--docs", type=Path, default=DEFAULT_DOCS, metavar="DIR",
                        help=f"folder of the results pages (default: {DEFAULT_DOCS})")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from benchlib.report.results_page import ResultsPageError, build_page
    from benchlib.system.paths import outputs_dir

    folder = args.results_folder if args.results_folder is not None else outputs_dir()
    try:
        page = build_page(folder, args.docs)
    except ResultsPageError as exc:
        return refuse("results-page", str(exc))
    print(f"{page.path}: {page.records} records ({page.mode}), {len(page.figures)} chart(s) in "
          f"{page.path.with_suffix('')}; index: {page.index}")
    return 0
