"""``benchlib report``: the comparison table from stored results."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report", help="print the comparison table from stored results",
        description="Load result files (JSON lines) or folders of them and print p50, p99, throughput, "
                    "CPU %%, peak memory and p50 relative to the fastest per batch size. Lines that cannot "
                    "be read are skipped and listed.",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="result files or folders")
    parser.add_argument("--csv", type=Path, default=None, metavar="PATH", help="also write all runs as CSV")
    parser.add_argument("--markdown", type=Path, default=None, metavar="PATH",
                        help="also write the table as Markdown")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    missing = [p for p in args.paths if not p.exists()]
    if missing:
        print(f"benchlib report: error: PATH={str(missing[0])!r} does not exist; allowed: a results file or folder",
              file=sys.stderr)
        return 2
    from benchlib.report.tables import comparison_table, to_markdown
    from benchlib.results.store import load, to_csv

    df = load(args.paths)
    problems = df.attrs.get("problems", [])
    for problem in problems:
        print(f"load problem: {problem}", file=sys.stderr)
    if df.empty:
        print("no records found", file=sys.stderr)
        return 1
    table = to_markdown(comparison_table(df))
    print(table)
    if args.csv:
        print(f"CSV: {to_csv(df, args.csv)}")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(table + "\n")
        print(f"Markdown: {args.markdown}")
    return 0
