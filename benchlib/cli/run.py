"""``benchlib run``: measure every (backend, batch size, threads, variant) case, each in its own process."""

from __future__ import annotations

import argparse
import sys
import time
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
    option_type,
    out_folder,
    positive_int,
    positive_seconds,
    refuse,
    timing_conflict,
)
from benchlib.cli.verify import add_input_shape_option, add_models_option, check_user_models
from benchlib.engine.case import RunCase
from benchlib.engine.checked import BackendNames, BatchSizes, ModelNames, Precisions, ThreadCounts, VariantNames
from benchlib.engine.params import MAX_CALLS, check_precision
from benchlib.engine.timing import check_target_ci
from benchlib.models.memory import available_memory_bytes
from benchlib.models.user import is_user_model
from benchlib.models.zoo import MODELS, get_model


def _calls(option: str, allow_zero: bool = False):  # noqa: ANN202 - an argparse type
    positive = positive_int(option, MAX_CALLS)

    def parse(text: str) -> int:
        if allow_zero and text.strip() == "0":
            return 0
        return positive(text)

    return parse


def target_ci(option: str = "--target-ci"):  # noqa: ANN201 - an argparse type
    """``--target-ci`` value: a relative half-width in [0, 1); 0 measures for a fixed time."""

    def parse(text: str) -> float:
        try:
            return check_target_ci(float(text), option)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{option}={text!r} is invalid; allowed: a relative half-width from 0 (fixed time) up to but "
                "excluding 1, e.g. 0.01 for ±1%") from None

    return parse


def add_precision_options(parser: argparse.ArgumentParser, max_time_default: str,
                          minimums: str = "--min-time-s and --min-calls") -> None:
    """``--target-ci`` and ``--max-time-s``, shared by ``run``, ``sweep`` and ``fleet``; ``minimums`` names the
    timed loop's minimums as the command sets them."""
    parser.add_argument("--target-ci", type=target_ci(), default=defaults.TARGET_CI, metavar="F",
                        help=f"after {minimums}, measure until the 95%% interval of the median is "
                             f"within F of it (default: {defaults.TARGET_CI:g}, i.e. ±{defaults.TARGET_CI * 100:g}%%); "
                             "0 measures for --min-time-s only (fixed time, as the article protocol does)")
    parser.add_argument("--max-time-s", type=positive_seconds("--max-time-s"), default=None, metavar="S",
                        help=f"with a target, stop after S seconds and record that the target was not met "
                             f"(default: {max_time_default})")


def add_precisions_option(parser: argparse.ArgumentParser) -> None:
    """``--precisions P ...``, shared by ``run`` and ``sweep``."""
    parser.add_argument("--precisions", nargs="+", type=option_type(check_precision, "--precisions"),
                        action=checked_list(Precisions), default=None, metavar="P",
                        help="numeric precisions: fp32 (the default), bf16, int8-dynamic, int8-static; a backend "
                             "without one records it as skipped with the reason (docs/precision.md)")


#: Where ``run`` writes inside ``--out``.
RESULTS_NAME = "run"
#: What an interrupted ``run`` tells its user.
RESUME_HINT = "run resumes by itself: run the same command again (the cases already measured are not run again)"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run", help="measure latency, throughput, CPU and memory, one fresh process per case",
        description="Run every combination of backends x batch sizes x threads x variants, each in a "
                    "fresh Python process with a timeout, append one JSON record per run to "
                    "<--out>/results/run.jsonl, and print a comparison table. Re-running resumes: cases already "
                    "measured there in this environment are not run again (--fresh measures them again). "
                    "Invalid options are refused (exit 2) before any run.",
    )
    add_backends_option(parser, "all installed; named but missing ones are recorded as skipped")
    add_models_option(parser, ["fnn"], "fnn")
    add_input_shape_option(parser)
    per_model = "; ".join(f"{m} {' '.join(map(str, get_model(m).run_batch_sizes))}" for m in MODELS)
    add_batch_sizes_option(parser, f"batch sizes (default: each model's own: {per_model})")
    add_threads_option(parser, "thread settings to try: integers, 'cores' (one per usable core) or 'default' "
                               "(the framework's own; this is the default)")
    parser.add_argument("--variants", nargs="+", action=checked_list(VariantNames), default=None, metavar="NAME",
                        help="backend variants to run where a backend supports them (default: each "
                             "backend's default variant); a name no selected backend knows is refused")
    add_precisions_option(parser)
    parser.add_argument("--min-time-s", type=positive_seconds("--min-time-s"), default=defaults.MIN_TIME_S,
                        metavar="S", help=f"timed loop lasts at least S seconds (default: {defaults.MIN_TIME_S:g})")
    parser.add_argument("--min-calls", type=_calls("--min-calls"), default=defaults.MIN_CALLS, metavar="N",
                        help=f"timed loop makes at least N calls (default: {defaults.MIN_CALLS})")
    add_precision_options(parser, f"{defaults.MAX_TIME_S:g}, or --min-time-s when longer")
    parser.add_argument("--warmup-time-s", type=positive_seconds("--warmup-time-s", allow_zero=True),
                        default=defaults.WARMUP_TIME_S, metavar="S",
                        help=f"warm-up lasts at least S seconds (default: {defaults.WARMUP_TIME_S:g})")
    parser.add_argument("--warmup-calls", type=_calls("--warmup-calls", allow_zero=True),
                        default=defaults.WARMUP_CALLS, metavar="N",
                        help=f"warm-up makes at least N calls (default: {defaults.WARMUP_CALLS})")
    parser.add_argument("--warmup-max-s", type=positive_seconds("--warmup-max-s", allow_zero=True),
                        default=defaults.WARMUP_MAX_S, metavar="S",
                        help="after its minimums, warm-up goes on until the per-call time settles (the last "
                             f"window's median within 5%% of the previous), for at most S seconds (default: "
                             f"{defaults.WARMUP_MAX_S:g}); 0: the minimums only")
    parser.add_argument("--timeout-s", type=positive_seconds("--timeout-s"), default=defaults.TIMEOUT_S, metavar="S",
                        help=f"kill a run after S seconds and record it as failed (default: {defaults.TIMEOUT_S:g})")
    add_out_option(parser, "records in results/run.jsonl, the same runs as CSV in results/run.csv")
    add_fresh_option(parser, "results/run.jsonl")
    add_progress_option(parser)
    parser.set_defaults(func=run)


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
    if args.max_time_s is not None and args.max_time_s < args.min_time_s:
        return f"--max-time-s={args.max_time_s:g} is invalid; allowed: at least --min-time-s ({args.min_time_s:g})"
    from benchlib.models.user import USER_BATCH_SIZES

    # Each factory is planned within --timeout-s; each user model's memory is bounded before any case starts.
    problem = check_user_models(args.models, getattr(args, "input_shape", None), getattr(args, "input_range", None),
                                batch_sizes=args.batch_sizes or USER_BATCH_SIZES, timeout_s=args.timeout_s)
    if problem:  # an ONNX file's dynamic dimension without --input-shape, a bad --input-shape, too much memory
        return problem
    cases = []
    for model in args.models:
        shapes = {}
        if is_user_model(model):
            shapes = {"input_shapes": ";".join(args.input_shape or []) or None,
                      "input_ranges": ";".join(args.input_range or []) or None}
            problem, sizes = user_batch_sizes(model, shapes["input_shapes"], args.batch_sizes, args.timeout_s)
            if problem:
                return problem
        else:
            spec = get_model(model)
            sizes = args.batch_sizes or list(spec.run_batch_sizes)  # each model's own default
            problem = spec.batch_memory_problem(max(sizes), available_memory_bytes())
            if problem:
                return f"--batch-sizes={max(sizes)} is too large: {problem}"
        # every value below was checked by its option's type, or is the registry's or the model's own
        cases += case_grid(BackendNames(backends), BatchSizes(sizes), models=ModelNames((model,)), **shapes,
                           threads=args.threads or ThreadCounts((None,)), variants=args.variants or None,
                           min_time_s=args.min_time_s, min_calls=args.min_calls, warmup_time_s=args.warmup_time_s,
                           warmup_calls=args.warmup_calls, timeout_s=args.timeout_s, target_ci=args.target_ci,
                           max_time_s=args.max_time_s, warmup_max_s=args.warmup_max_s,
                           precisions=getattr(args, "precisions", None) or Precisions(("fp32",)))
    return cases


def user_batch_sizes(model: str, input_shapes: str | None, asked: list[int] | None,
                     timeout_s: float | None = None) -> tuple[str | None, list[int]]:
    """(refusal or None, batch sizes) of an ONNX model: the asked ones, else 1 and 32, or its fixed batch."""
    from benchlib.models.user import USER_BATCH_SIZES, planned_model

    # None: a factory that raised (its cases fail with the traceback)
    planned = planned_model(model, input_shapes, timeout_s=timeout_s)
    fixed = planned.fixed_batch if planned is not None else None
    if fixed is None:
        return None, list(asked or USER_BATCH_SIZES)
    wrong = [b for b in asked or [] if b != fixed]
    if wrong:
        return (f"--batch-sizes={wrong[0]} is invalid for {model}: its inputs have a fixed batch dimension; "
                f"allowed: {fixed}"), []
    return None, [fixed]


def run(args: argparse.Namespace) -> int:
    from benchlib.backends.registry import available_backends
    from benchlib.report.outputs import OutputRefused, plan_run
    from benchlib.studies.plan import plan_study
    from benchlib.system.env import usable_cores

    # Contradictions are settled before anything runs (the options' types checked each value, repeats ran once).
    conflict = timing_conflict(args.timeout_s, args.warmup_time_s, args.min_time_s)
    if conflict:
        return refuse("run", conflict)
    backends = list(args.backends or available_backends())
    if not backends:
        return refuse("run", "no backend is installed; install one, e.g. pip install torch")
    cases = build_cases(args, backends)
    if isinstance(cases, str):
        return refuse("run", cases)
    try:
        outputs = plan_run(out_folder(args), len(cases))  # last: it creates the folders
    except OutputRefused as exc:
        return refuse("run", str(exc))
    out = outputs.results
    # the one resume decision of every command (a case settled in this environment is not run again)
    plan = plan_study(RESULTS_NAME, cases, out, resume_hint=RESUME_HINT, progress=True, fresh=args.fresh)
    if not args.fresh and plan.todo:
        _resume_notes(out, list(plan.todo))
    usable = usable_cores()["usable"]
    for count in args.threads or []:
        if isinstance(count, int) and count > usable:
            print(f"warning: --threads {count} exceeds the {usable} usable core(s); threads will share cores",
                  file=sys.stderr)

    from benchlib.cli.report import table_columns
    from benchlib.engine.launcher import run_cases
    from benchlib.report.tables import comparison_table, to_markdown
    from benchlib.results.store import export_csv, load

    started = time.perf_counter()
    records = run_cases(list(plan.todo), results_path=out, progress=not args.no_progress, resume_hint=RESUME_HINT)
    wall = time.perf_counter() - started
    df = load(out, columns=table_columns(), newest_only=True)
    if "case_key" in df.columns:  # this command's cases, measured now or before; the file may hold others
        df = df[df["case_key"].isin({case.case_key for case in cases})]
    print(to_markdown(comparison_table(df)))
    for problem in df.attrs.get("problems", []):
        print(f"load problem: {problem}", file=sys.stderr)
    warnings = sorted({w for r in records for w in r.get("warnings") or []})
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    failed = sum(r["status"] == "failed" for r in records)
    csv, _ = export_csv(out, outputs.csv)  # the same runs, flat, for spreadsheets
    resumed = f", {plan.resumed} already done" if plan.resumed else ""
    print(f"\n{len(records)} run(s) in {wall:.1f} s ({failed} failed{resumed}); results: {out} (CSV: {csv})")
    return 1 if failed else 0


#: Case settings → the ``run`` option that sets them.
SETTING_OPTIONS = {"min_time_s": "--min-time-s", "min_calls": "--min-calls",
                   "warmup_time_s": "--warmup-time-s", "warmup_calls": "--warmup-calls", "seed": "seed"}


def _resume_notes(out: Path, cases: list[RunCase]) -> None:
    """Say on stderr why cases the results file seems to hold run again: other settings, another environment."""
    from benchlib.results.resume import resume_check
    from benchlib.system.env import collect_env

    if not out.exists():
        return
    check = resume_check(out, cases, collect_env())
    # another model is another measurement, not another setting: the file holds every run's cases
    differences = {name: values for name, values in check.differences.items() if name != "model"}
    if differences:
        differ = "; ".join(f"{SETTING_OPTIONS.get(name, name)} is {' or '.join(map(str, there))} there, "
                           f"{' or '.join(map(str, now))} now" for name, (there, now) in differences.items())
        use = " ".join(f"{SETTING_OPTIONS.get(name, name)} {there[0]}" for name, (there, _) in differences.items())
        print(f"note: the records in {out} were made with other settings ({differ}), so these {len(cases)} "
              f"case(s) are measured with the new settings; the file's settings ({use}) would resume them",
              file=sys.stderr)
    if check.other_environment:
        why = f" ({'; '.join(check.environment_differences)})" if check.environment_differences else ""
        print(f"note: {check.other_environment} case(s) in {out} were measured in another environment{why}; "
              "they run again here", file=sys.stderr)
