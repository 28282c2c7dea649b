"""``benchlib compare BASE NEW``: did something change? Case by case, with intervals and verdicts.

The verdict is the one rule for "faster" (:func:`benchlib.studies.compare.compare_records`), unpaired
between two runs; a side measured without rounds (one round) gets "cannot tell", never a verdict.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from benchlib.cli.common import refuse
from benchlib.system.files import atomic_write_text


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"--min-change={text!r} is invalid; allowed: a fraction from 0 to "
                                         "below 1 (0.05 = 5%)")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare", help="compare two result sets case by case (ratio of medians, 95%% interval, verdict)",
        description="Match each measured case (backend, variant, model, batch size, threads) of BASE and NEW, "
                    "and print the ratio of NEW's median to BASE's with a 95% interval over the two runs' "
                    "interleaved rounds (each run's rounds resampled on their own) and a verdict: faster, "
                    "slower, tie, or cannot tell (a side measured without rounds, or with one round). Cases "
                    "measured on different machines are compared only with --across-machines. The stored "
                    "round data is checked first (numbers, finite, above 0, one per round, agreeing with the "
                    "record's own p50); a case whose record fails is listed as unusable with the reason and "
                    "not compared.",
    )
    parser.add_argument("base", type=Path, help="results file or folder of the baseline")
    parser.add_argument("new", type=Path, help="results file or folder to compare with it")
    parser.add_argument("--min-change", type=_fraction, default=0.05, metavar="F",
                        help="flag significant changes of at least this fraction (default: 0.05 = 5%%)")
    parser.add_argument("--fail-on-regression", action="store_true",
                        help="exit 1 when any case got significantly slower by at least --min-change, or "
                             "could not be compared because a record's round data is unusable")
    parser.add_argument("--across-machines", action="store_true",
                        help="also compare cases measured on different machines (the table says what differs)")
    parser.add_argument("--markdown", type=Path, default=None, metavar="PATH",
                        help="also write the table as Markdown (for a pull request)")
    parser.set_defaults(func=run)


def _table(rows: list[dict], min_change: float) -> str:
    header = "| case | base p50 (ms) | new p50 (ms) | new/base | 95% interval | verdict | flag |"
    lines = [header, "|" + "---|" * 7]
    for row in rows:
        significant = row["verdict"] in ("faster", "slower") and abs(row["ratio"] - 1.0) >= min_change
        flag = ("REGRESSION" if row["verdict"] == "slower" else "improvement") if significant else ""
        interval = f"{row['low']:.3f}-{row['high']:.3f}" if math.isfinite(row["low"]) else "none"
        lines.append(f"| {row['case']} | {row['base_p50_ms']:.4g} | {row['new_p50_ms']:.4g} | {row['ratio']:.3f} "
                     f"| {interval} | {row['verdict']} | {flag} |")
        if row.get("fingerprint_differs"):
            lines.append(f"|  ↳ differs: {row['fingerprint_differs']} | | | | | | |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from benchlib.report.outputs import MARKDOWN_MARKER, OutputRefused, plan_report
    from benchlib.results.store import read_records
    from benchlib.studies.compare import case_label, compare_runs

    for name, path in (("BASE", args.base), ("NEW", args.new)):
        if not path.exists():
            return refuse("compare", f"{name}={str(path)!r} does not exist; allowed: a results file or folder")
    try:  # inputs only regular files or folders; the export never an input or a file benchlib did not write
        plan_report([args.base, args.new], args.markdown, None)
    except OutputRefused as exc:
        return refuse("compare", str(exc))
    base, base_problems = read_records(args.base)
    new, new_problems = read_records(args.new)
    for problem in base_problems + new_problems:
        print(f"load problem: {problem}", file=sys.stderr)
    result = compare_runs(base, new, across_machines=args.across_machines)
    if not result.rows and not result.not_ok and not result.other_machine and not result.unusable:
        return refuse("compare", f"{args.base} and {args.new} have no case in common "
                                 f"({len(result.only_base)} only in BASE, {len(result.only_new)} only in NEW)")
    text = _table(result.rows, args.min_change) if result.rows else "(no case measured ok on both sides)"
    print(text)
    notes = []
    if result.other_machine:
        fields = sorted({k for item in result.other_machine for k in item["differs"]})
        notes.append(f"{len(result.other_machine)} case(s) measured on different machines were not compared "
                     f"(differs: {', '.join(fields)}); add --across-machines to compare them anyway")
    for row in result.rows:
        if row["verdict"] == "cannot tell":
            notes.append(f"cannot tell: {row['case']}: {row['reason']}")
    for item in result.not_ok:
        notes.append(f"not compared: {item['case']} (base {item['base']}, new {item['new']})")
    for item in result.unusable:
        for side, why in item["problems"].items():
            notes.append(f"unusable, not compared: {item['case']}: the {side} record: {why}")
    for label, records in (("only in BASE", result.only_base), ("only in NEW", result.only_new)):
        if records:
            notes.append(f"{label}: " + "; ".join(case_label(r) for r in records))
    for note in notes:
        print(note)
    regressions = result.regressions(args.min_change)
    print(f"\n{len(result.rows)} case(s) compared: {sum(r['verdict'] == 'faster' for r in result.rows)} faster, "
          f"{sum(r['verdict'] == 'slower' for r in result.rows)} slower, "
          f"{sum(r['verdict'] == 'tie' for r in result.rows)} tie(s), "
          f"{sum(r['verdict'] == 'cannot tell' for r in result.rows)} cannot tell; "
          f"{len(regressions)} significant regression(s) of at least {args.min_change:.0%}"
          + (f"; {len(result.unusable)} case(s) unusable, not compared" if result.unusable else ""))
    if args.markdown is not None:
        # the marker line tells a later command that the file is benchlib's own export; written whole
        body = f"{MARKDOWN_MARKER}\n{text}\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"
        atomic_write_text(args.markdown, body)
        print(f"markdown: {args.markdown}")
    # a gate that could not check a case does not pass it
    return 1 if args.fail_on_regression and (regressions or result.unusable) else 0
