"""``benchlib run``: measure every (backend, batch size, threads, variant) case, each in its own process."""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
import time
from pathlib import Path

from benchlib.cli.common import add_backends_option, batch_size, positive_int, positive_seconds, refuse, threads
from benchlib.engine.case import MAX_CALLS, RunCase
from benchlib.models.zoo import MODELS

DEFAULT_BATCH_SIZES = (1, 1000)


def _calls(option: str, allow_zero: bool = False):  # noqa: ANN202 - an argparse type
    positive = positive_int(option, MAX_CALLS)

    def parse(text: str) -> int:
        if allow_zero and text.strip() == "0":
            return 0
        return positive(text)

    return parse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run", help="measure latency, throughput, CPU and memory, one fresh process per case",
        description="Run every combination of backends x batch sizes x threads x variants, each in a "
                    "fresh Python process with a timeout, append one JSON record per run to --out, "
                    "and print a comparison table. Invalid options are refused (exit 2) before any run.",
    )
    add_backends_option(parser, "all installed; named but missing ones are recorded as skipped")
    parser.add_argument("--model", default="fnn", choices=sorted(MODELS), help="model spec (default: fnn)")
    parser.add_argument("--batch-sizes", nargs="+", type=batch_size, default=list(DEFAULT_BATCH_SIZES),
                        metavar="N", help="batch sizes (default: 1 1000)")
    parser.add_argument("--threads", nargs="+", type=threads, default=None, metavar="N",
                        help="thread settings to try: integers, 'cores' (one per usable core) or 'default' "
                             "(the framework's own; this is the default)")
    parser.add_argument("--variants", nargs="+", default=None, metavar="NAME",
                        help="backend variants to run where a backend supports them (default: each "
                             "backend's default variant); a name no selected backend knows is refused")
    parser.add_argument("--min-time", type=positive_seconds("--min-time"), default=1.0, metavar="S",
                        help="timed loop lasts at least S seconds (default: 1.0)")
    parser.add_argument("--min-calls", type=_calls("--min-calls"), default=50, metavar="N",
                        help="timed loop makes at least N calls (default: 50)")
    parser.add_argument("--warmup-time", type=positive_seconds("--warmup-time", allow_zero=True), default=0.2,
                        metavar="S", help="warm-up lasts at least S seconds (default: 0.2)")
    parser.add_argument("--warmup-calls", type=_calls("--warmup-calls", allow_zero=True), default=10,
                        metavar="N", help="warm-up makes at least N calls (default: 10)")
    parser.add_argument("--timeout", type=positive_seconds("--timeout"), default=600.0, metavar="S",
                        help="kill a run after S seconds and record it as failed (default: 600)")
    parser.add_argument("--out", type=Path, default=None, metavar="PATH",
                        help="results file (JSON lines; default: outputs/results/run-<timestamp>.jsonl)")
    parser.add_argument("--resume", action="store_true",
                        help="skip cases that already have an ok record in --out from this environment")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _writable_target(path: Path) -> str | None:
    """Why ``path`` cannot receive results, or ``None`` if it can (creates the folder and file)."""
    if path.is_dir():
        return f"--out={str(path)!r} is a directory; allowed: a file path"
    # Actually opening for append is the only reliable test (os.access says yes to root everywhere).
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a"):
            pass
    except OSError as exc:
        return f"--out={str(path)!r} is not writable ({exc.strerror or exc}); allowed: a path in a writable folder"
    return None


def build_cases(args: argparse.Namespace, backends: list[str]) -> list[RunCase] | str:
    """The cases the options describe (through the one case grid), or the refusal message."""
    from benchlib.backends.registry import backend_variants
    from benchlib.engine.grid import case_grid

    if args.variants:
        known = {v for name in backends for v in backend_variants(name)}
        unknown = [v for v in args.variants if v not in known]
        if unknown:
            allowed = ", ".join(sorted(known))
            return f"--variants={unknown[0]!r} is not supported by any selected backend; allowed: {allowed}"
    return case_grid(backends, args.batch_sizes, models=[args.model], threads=args.threads or [None],
                     variants=args.variants or None, min_time_s=args.min_time, min_calls=args.min_calls,
                     warmup_time_s=args.warmup_time, warmup_calls=args.warmup_calls, timeout_s=args.timeout)


def run(args: argparse.Namespace) -> int:
    from benchlib.backends.registry import available_backends
    from benchlib.env import usable_cores
    from benchlib.paths import results_dir

    backends = list(dict.fromkeys(args.backends or available_backends()))
    if not backends:
        return refuse("run", "no backend is installed; install one, e.g. pip install torch")
    if args.resume and args.out is None:
        return refuse("run", "--resume needs --out PATH (the results file to resume)")
    out = args.out or results_dir() / f"run-{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}.jsonl"
    cases = build_cases(args, backends)
    if isinstance(cases, str):
        return refuse("run", cases)
    problem = _writable_target(out)  # last: it creates the file, which a refusal must not leave behind
    if problem:
        return refuse("run", problem)
    usable = usable_cores()["usable"]
    for count in args.threads or []:
        if isinstance(count, int) and count > usable:
            print(f"warning: --threads {count} exceeds the {usable} usable core(s); threads will share cores",
                  file=sys.stderr)

    from benchlib.engine.launcher import run_cases
    from benchlib.report.tables import comparison_table, to_markdown
    from benchlib.results.store import load, to_csv

    started = time.perf_counter()
    records = run_cases(cases, results_path=out, progress=not args.no_progress, skip_done=args.resume,
                        resume_hint=f"Resume with the same command plus --resume --out {out}")
    wall = time.perf_counter() - started
    df = load(out)
    print(to_markdown(comparison_table(df)))
    for problem in df.attrs.get("problems", []):
        print(f"load problem: {problem}", file=sys.stderr)
    warnings = sorted({w for r in records for w in r.get("warnings") or []})
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    failed = sum(r["status"] == "failed" for r in records)
    csv = to_csv(df, out.with_suffix(".csv"))  # the same runs, flat, for spreadsheets
    print(f"\n{len(records)} run(s) in {wall:.1f} s ({failed} failed); results: {out} (CSV: {csv})")
    return 1 if failed else 0
