"""``benchlib report``: the comparison table from stored results, read as a stream."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from benchlib.cli.common import refuse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report", help="print the comparison table from stored results",
        description="Load result files (JSON lines) or folders of them and print p50, p99, throughput, "
                    "CPU %%, peak memory and p50 relative to the fastest per batch size. Lines that cannot "
                    "be read are skipped and listed. Output paths are checked before anything is read.",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="result files or folders")
    parser.add_argument("--csv", type=Path, default=None, metavar="PATH", help="also write all runs as CSV")
    parser.add_argument("--markdown", type=Path, default=None, metavar="PATH",
                        help="also write the table as Markdown")
    parser.set_defaults(func=run)


def table_columns() -> list[str]:
    """The flat columns the comparison table reads: all ``report`` keeps of each record."""
    from benchlib.report.tables import CASE_COLUMNS, TABLE_COLUMNS

    return [*CASE_COLUMNS, *TABLE_COLUMNS.values(), "status", "error", "created", "case_key", "protocol",
            "outputs_valid", "max_abs_err", "noisy", "warnings", "machine", "env.key"]


def _write_text(path: Path, text: str) -> None:
    """Write ``text`` beside ``path`` and rename it over, so ``path`` is never half-written."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def run(args: argparse.Namespace) -> int:
    from benchlib.cli.outputs import MARKDOWN_MARKER, OutputRefused, plan_report

    try:
        paths = plan_report(args.paths, args.markdown, args.csv)
    except OutputRefused as exc:
        return refuse("report", str(exc))
    from benchlib.report.tables import comparison_table, to_markdown
    from benchlib.results.store import export_csv, load

    # Only the newest record of each case, and only the columns the table shows, are kept while
    # reading: memory follows the number of cases, not the size of the folder.
    df = load(paths, columns=table_columns(), newest_only=True)
    for problem in df.attrs.get("problems", []):
        print(f"load problem: {problem}", file=sys.stderr)
    if df.empty:
        print("no records found", file=sys.stderr)
        return 1
    table = to_markdown(comparison_table(df))
    print(table)
    try:
        if args.csv:
            csv, rows = export_csv(paths, args.csv)
            print(f"CSV: {csv} ({rows} run(s))")
        if args.markdown:
            _write_text(args.markdown, f"{MARKDOWN_MARKER}\n{table}\n")
            print(f"Markdown: {args.markdown}")
    except OSError as exc:
        print(f"benchlib report: error: {exc}", file=sys.stderr)
        return 1
    return 0
