"""``benchlib scenarios``: MLPerf LoadGen's deployment scenarios on every backend, resumable."""

from __future__ import annotations

import argparse

from benchlib import defaults
from benchlib.cli.common import (
    add_backends_option,
    add_fresh_option,
    add_out_option,
    add_progress_option,
    out_folder,
    refuse,
)
from benchlib.cli.verify import add_input_shape_option
from benchlib.scenarios.settings import LOADGEN_SCENARIOS, default_latency_bound_ms

#: parameter names of benchlib.studies.scenarios.scenario_config -> the options that set them
OPTIONS = {"backends": "--backends", "models": "--models", "input_shapes": "--input-shape",
           "input_ranges": "--input-range", "scenarios": "--scenarios",
           "latency_bound_ms": "--latency-bound-ms", "min_duration_s": "--min-duration-s",
           "min_queries": "--min-queries", "target_qps": "--target-qps"}


def _number(option: str, kind: type) -> object:
    def parse(text: str) -> object:
        try:
            return kind(text)
        except ValueError:
            words = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"{option}={text!r} is invalid; allowed: {words}") from None

    return parse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "scenarios", help="MLPerf LoadGen scenarios (SingleStream, MultiStream, Offline, Server) per backend",
        description="Run LoadGen's four deployment scenarios on each backend, each framework serving queries "
                    "concurrently its own way, at least two configurations each, every case in a fresh process. "
                    "Server searches the highest Poisson arrival rate whose p99 latency stays within the bound, "
                    "LoadGen's VALID/INVALID verdict deciding each step. Short runs: not MLPerf-valid submissions. "
                    "Re-running resumes: cases already measured in <--out>/results/scenarios.jsonl in this "
                    "environment are not run again (--fresh measures them again). Invalid options are refused "
                    "(exit 2) before any run.")
    add_backends_option(parser, "all installed")
    # checked by scenario_config, which reads each file and plans each factory once, refusing with exit 2
    parser.add_argument("--models", nargs="+", default=None, metavar="NAME",
                        help="models: zoo names, paths to .onnx files, torch:package.module:function or "
                             "keras:package.module:function (default: fnn); a backend that cannot serve one records "
                             "it as skipped, with the reason")
    add_input_shape_option(parser)
    parser.add_argument("--scenarios", nargs="+", default=None, metavar="NAME",
                        help=f"scenarios (default: all of {', '.join(LOADGEN_SCENARIOS)})")
    parser.add_argument("--latency-bound-ms", type=_number("--latency-bound-ms", float), default=None, metavar="MS",
                        help=f"Server p99 bound in ms (default: per model; fnn {default_latency_bound_ms('fnn'):g})")
    parser.add_argument("--min-duration-s", type=_number("--min-duration-s", float), default=None, metavar="S",
                        help=f"each LoadGen run lasts at least S seconds (default: {defaults.MIN_DURATION_S:g}; "
                             f"--quick: {defaults.QUICK_MIN_DURATION_S:g}; LoadGen's official minimum is 600)")
    parser.add_argument("--min-queries", type=_number("--min-queries", int), default=None, metavar="N",
                        help="each run issues at least N queries (default: enough for LoadGen's early stopping)")
    parser.add_argument("--target-qps", type=_number("--target-qps", float), default=None, metavar="QPS",
                        help="Server: run this one rate instead of searching")
    parser.add_argument("--quick", action="store_true", help="short runs and fewer search steps")
    add_out_option(parser, "records in results/scenarios.jsonl (scenarios-quick.jsonl with --quick); LoadGen's "
                           "logs go to outputs/loadgen/<run id>/ whatever --out is")
    add_fresh_option(parser, "results/scenarios.jsonl")
    add_progress_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from benchlib.report.outputs import OutputRefused, plan_results
    from benchlib.studies.scenarios import build_cases, default_results_path, scenario_config

    try:
        config = scenario_config(backends=args.backends, models=args.models, scenarios=args.scenarios,
                                 latency_bound_ms=args.latency_bound_ms, min_duration_s=args.min_duration_s,
                                 min_queries=args.min_queries, target_qps=args.target_qps, quick=args.quick,
                                 input_shapes=";".join(args.input_shape or []) or None,
                                 input_ranges=";".join(args.input_range or []) or None)
    except ValueError as exc:
        message = str(exc)
        parameter = message.split("=", 1)[0]
        if parameter in OPTIONS:
            message = OPTIONS[parameter] + message[len(parameter):]
        return refuse("scenarios", message)
    folder = out_folder(args)
    out = default_results_path(args.quick, folder / "results")
    try:
        plan_results(folder, out, len(build_cases(config)))
    except OutputRefused as exc:
        return refuse("scenarios", str(exc))

    from benchlib.report import scenarios as report
    from benchlib.report.tables import to_markdown
    from benchlib.studies.scenarios import run_scenarios

    result = run_scenarios(config, out, progress=not args.no_progress, fresh=args.fresh)
    records = report.scenario_records(out)
    for title, table in (("scenarios", report.summary_table(records)),
                         ("highest rate within the bound", report.max_rate_table(records)),
                         ("latency beside throughput", report.tradeoff_table(records)),
                         ("not measured", report.not_measured_table(records))):
        print(f"\n## {title}\n")
        print(to_markdown(table, max_cell=120) if not table.empty else "(none)")
    print()
    for sentence in report.insights(records):
        print(sentence)
    print(f"\n{report.NOT_MLPERF}")
    counts = ", ".join(f"{n} {s}" for s, n in sorted(result.counts().items())) or "none"
    print(f"\nscenarios: {result.planned} case(s), {result.resumed} already done, run now: {counts}; "
          f"{result.wall_s:.0f} s\nresults: {result.results_path}")
    return 1 if result.counts().get("failed") else 0
