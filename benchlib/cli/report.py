"""``benchlib report``: the comparison table from stored results, read as a stream."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from benchlib.cli.common import refuse
from benchlib.system.files import atomic_write_text

if TYPE_CHECKING:  # pandas only once records are read: --help stays fast
    import pandas as pd


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report", help="print the comparison table from stored results",
        description="Load result files (JSON lines) or folders of them and print p50, p99, throughput, "
                    "CPU %, peak memory and p50 relative to the fastest per batch size; LoadGen scenario "
                    "runs follow in their own table, never ranked with the others. Lines that cannot "
                    "be read are skipped and listed; a record naming a backend that does not exist is "
                    "refused (exit 2). Output paths are checked before anything is read.",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="result files or folders")
    parser.add_argument("--csv", type=Path, default=None, metavar="PATH", help="also write all runs as CSV")
    parser.add_argument("--markdown", type=Path, default=None, metavar="PATH",
                        help="also write the table as Markdown")
    parser.set_defaults(func=run)


def table_columns() -> list[str]:
    """The flat columns the comparison and scenario tables read: all ``report`` keeps of each record."""
    from benchlib.report.scenario_table import SCENARIO_COLUMNS
    from benchlib.report.tables import CASE_COLUMNS, TABLE_COLUMNS
    from benchlib.studies.compare import ROUND_COLUMNS  # what the rank's one rule for "faster" reads

    return [*CASE_COLUMNS, *TABLE_COLUMNS.values(), *ROUND_COLUMNS, "status", "error", "created", "case_key",
            "protocol", "outputs_valid", "max_abs_err", "reference.reason", "noisy", "warnings", "machine", "env.key",
            "latency_ci95_ms.p50.lo", "latency_ci95_ms.p50.hi", *SCENARIO_COLUMNS, "_source"]


#: Refused records listed one by one; the rest are counted.
MAX_LISTED = 20


def unknown_backends(df: pd.DataFrame) -> list[str]:
    """One sentence per record whose ``backend`` no backend has, naming where it is, the value and the names allowed."""
    from benchlib.backends.registry import BACKEND_NAMES

    if "backend" not in df.columns:
        return []
    named = df["backend"].notna()
    bad = df[named & ~df["backend"].isin(BACKEND_NAMES)]
    source = bad["_source"] if "_source" in bad.columns else [None] * len(bad)
    return [f"{where or 'a record'}: backend={str(value)[:80]!r} is unknown; allowed: {', '.join(BACKEND_NAMES)}"
            for value, where in zip(bad["backend"], source, strict=True)]


def run(args: argparse.Namespace) -> int:
    from benchlib.report.outputs import MARKDOWN_MARKER, OutputRefused, plan_report

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
    refused = unknown_backends(df)
    if refused:  # a record no backend wrote: refused before anything is shown or written
        for line in refused[:MAX_LISTED]:
            print(f"benchlib report: error: {line}", file=sys.stderr)
        more = f" ({len(refused) - MAX_LISTED} more not listed)" if len(refused) > MAX_LISTED else ""
        return refuse("report", f"{len(refused)} record(s) name a backend that does not exist{more}; nothing "
                                "was shown or written: correct or remove those lines, or report on the other files")
    from benchlib.report.scenario_table import CAPTION, scenario_table

    table = to_markdown(comparison_table(df))
    scenarios = scenario_table(df)
    if not scenarios.empty:
        table += f"\n\n{CAPTION}\n\n{to_markdown(scenarios)}"
    print(table)
    try:
        if args.csv:
            csv, rows = export_csv(paths, args.csv)
            print(f"CSV: {csv} ({rows} run(s))")
        if args.markdown:
            atomic_write_text(args.markdown, f"{MARKDOWN_MARKER}\n{table}\n")
            print(f"Markdown: {args.markdown}")
    except OSError as exc:
        print(f"benchlib report: error: {exc}", file=sys.stderr)
        return 1
    return 0
