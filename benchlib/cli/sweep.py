"""``benchlib sweep``: every variant over batch sizes and thread counts, against the measured roofline."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchlib import defaults
from benchlib.cli.common import (
    add_backends_option,
    add_batch_sizes_option,
    add_fresh_option,
    add_out_option,
    add_progress_option,
    add_threads_option,
    checked_list,
    out_folder,
    positive_seconds,
    refuse,
)
from benchlib.cli.run import add_precision_options, add_precisions_option
from benchlib.cli.verify import add_input_shape_option, add_models_option
from benchlib.engine.checked import VariantNames
from benchlib.studies.sweep import (
    DEFAULT_BATCH_SIZES,
    QUICK_BATCH_SIZES,
    SweepConfig,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sweep", help="sweep batch sizes, threads and each framework's variants; roofline and cold start",
        description="Run every variant of every selected backend at every batch size and thread count, each "
                    "case in a fresh process; measure the machine's float32 matmul peak once per thread "
                    "count; print throughput, percent-of-peak, best-variant, thread-scaling, cold-start and "
                    "target tables. Re-running resumes: cases already measured in <--out>/results/sweep.jsonl in "
                    "this environment are not run again (--fresh measures them again). Invalid options are "
                    "refused (exit 2) before any run.",
    )
    add_case_options(parser)
    add_out_option(parser, "records in results/sweep.jsonl (sweep-quick.jsonl with --quick) with the roofline "
                           "beside them, tables in tables/, figures in figures/")
    add_fresh_option(parser, "results/sweep.jsonl")
    add_progress_option(parser)
    parser.set_defaults(func=run)


def add_case_options(parser: argparse.ArgumentParser, user_models: bool = True) -> None:
    """The options saying which cases a sweep measures (``sweep`` and ``fleet`` share them); ``user_models``:
    ``--models`` takes ONNX files and factories too, described by ``--input-shape`` and ``--input-range``."""
    add_backends_option(parser, "all installed")
    add_models_option(parser, None, "fnn", user_models=user_models)
    if user_models:
        add_input_shape_option(parser)
    add_batch_sizes_option(parser, f"batch sizes (default: each model's own; fnn: "
                                   f"{' '.join(map(str, DEFAULT_BATCH_SIZES))}, --quick: "
                                   f"{' '.join(map(str, QUICK_BATCH_SIZES))})")
    add_threads_option(parser, "thread counts: integers or 'cores' (default: 1 up to the usable cores; --quick: "
                               "the usable cores)", sweep=True)
    parser.add_argument("--variants", nargs="+", action=checked_list(VariantNames), default=None, metavar="NAME",
                        help="only these variants (default: every variant of each backend)")
    parser.add_argument("--min-time-s", type=positive_seconds("--min-time-s"), default=None, metavar="S",
                        help=f"timed loop per case lasts at least S seconds (default: {defaults.MIN_TIME_S:g}; "
                             f"--quick: {defaults.QUICK_MIN_TIME_S:g})")
    add_precision_options(parser, f"{defaults.MAX_TIME_S:g}; --quick: {defaults.QUICK_MAX_TIME_S:g}",
                          f"--min-time-s and {defaults.MIN_CALLS} calls")
    add_precisions_option(parser)
    parser.add_argument("--quick", action="store_true",
                        help="fewer batch sizes, usable cores only, short loops (under 3 minutes on 2 cores)")


def config_from_args(args: argparse.Namespace) -> SweepConfig:
    """The sweep config the case options describe; ``ValueError`` names the option, the value and what is allowed."""
    from benchlib.studies.sweep import sweep_config

    try:
        return sweep_config(backends=args.backends, batch_sizes=args.batch_sizes, threads=args.threads,
                            variants=args.variants, min_time_s=args.min_time_s, quick=args.quick, models=args.models,
                            target_ci=args.target_ci, max_time_s=args.max_time_s,
                            precisions=getattr(args, "precisions", None),
                            input_shapes=";".join(getattr(args, "input_shape", None) or []) or None,
                            input_ranges=";".join(getattr(args, "input_range", None) or []) or None)
    except ValueError as exc:
        message = str(exc)
        for name, option in (("variants=", "--variants="), ("backends=", "--backends="), ("models=", "--models="),
                             ("batch_sizes=", "--batch-sizes="), ("input_shapes=", "--input-shape="),
                             ("input_ranges=", "--input-range="), ("max_time_s=", "--max-time-s=")):
            message = message.replace(name, option, 1) if message.startswith(name) else message
        message = message.replace("at least min_time_s (", "at least --min-time-s (")
        raise ValueError(message) from None


def run(args: argparse.Namespace) -> int:
    from benchlib.notebook.plans import SWEEP_FIGURES, SWEEP_TABLES
    from benchlib.report.outputs import OutputRefused, plan_sweep
    from benchlib.studies.sweep import build_cases, default_results_path

    try:
        config = config_from_args(args)
    except ValueError as exc:
        return refuse("sweep", str(exc))
    folder = out_folder(args)
    out = default_results_path(args.quick, folder / "results")
    tables_folder, figures_folder = folder / "tables", folder / "figures"
    try:  # every output checked before the sweep runs, not after it
        plan_sweep(folder, out, runs=len(build_cases(config)), table_names=SWEEP_TABLES, figure_names=SWEEP_FIGURES)
    except OutputRefused as exc:
        return refuse("sweep", str(exc))

    from benchlib.report.sweep_figures import all_figures
    from benchlib.report.sweep_tables import all_tables, summary_sentences, sweep_frame, write_tables
    from benchlib.report.tables import to_markdown
    from benchlib.studies.sweep import run_sweep

    result = run_sweep(config, out, progress=not args.no_progress, fresh=args.fresh)
    df = sweep_frame(out, result.peaks)
    tables = all_tables(df)
    for name, table in tables.items():
        print(f"\n## {name}\n")
        print(to_markdown(table) if not table.empty else "(no data)")
    print()
    for sentence in summary_sentences(df, result.peaks):
        print(sentence)
    _print_roofline(result.roofline_path)
    table_paths = write_tables(tables, tables_folder)
    figure_paths = all_figures(df, result.peaks, figures_folder)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(result.counts().items())) or "none"
    print(f"\nsweep: {result.planned} case(s), {result.resumed} already done, run now: {counts}; "
          f"{result.wall_s:.0f} s (roofline {result.roofline_s:.1f} s)")
    print(f"results:  {result.results_path}\nroofline: {result.roofline_path}")
    print(f"tables:   {table_paths[0].parent}\nfigures:  {', '.join(str(p[0]) for p in figure_paths.values())}")
    return 1 if result.counts().get("failed") else 0


def _print_roofline(path: Path) -> None:
    """The yardstick: every framework's float32 GEMM rate per thread count and the theoretical peak."""
    import pandas as pd

    from benchlib.report.tables import to_markdown
    from benchlib.studies.sweep import read_roofline, roofline_sentences, roofline_table

    stored = read_roofline(path)
    rows = roofline_table(stored)
    if not rows:
        return
    columns = ["threads", "library", "gflops", "share_of_peak", "sets_peak", "version", "precision"]
    print("\n## roofline: float32 GEMM per framework\n")
    print(to_markdown(pd.DataFrame(rows)[columns]))
    for sentence in roofline_sentences(stored):
        print(sentence)
