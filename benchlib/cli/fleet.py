"""``benchlib fleet``: the sweep's cases on every machine of a Dask cluster, one benchmark per host at a time."""

from __future__ import annotations

import argparse
import signal

from benchlib.cli.common import (
    add_fresh_option,
    add_out_option,
    add_progress_option,
    out_folder,
    positive_int,
    positive_seconds,
    refuse,
)
from benchlib.cli.sweep import add_case_options
from benchlib.studies.fleet.cluster import DEFAULT_CONNECT_TIMEOUT_S, MAX_LOCAL_WORKERS
from benchlib.studies.fleet.runner import DEFAULT_RETRIES, FleetResult


def _retries(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"--retries={text!r} is invalid; allowed: an integer from 0 to 100")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fleet", help="run a sweep on every machine of a Dask cluster, one benchmark per host at a time",
        description="Send each case of a sweep (the same case options as `sweep`) as one Dask task to a worker "
                    "host offering the resource benchmark=1, where it runs in its own process; gather the records "
                    "into the local results file with each host's fingerprint, name and address. Hosts with one "
                    "fingerprint form a machine, and every machine runs the whole sweep (thread counts follow "
                    "its cores). A host that dies mid-case costs that case a failed record naming the host; the "
                    "case is retried on another host of the same machine. Re-running resumes: cases already done on "
                    "each machine are not run again (--fresh measures them again). docs/fleet.md says how to start "
                    "the cluster.",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="address of a running `dask scheduler`, e.g. tcp://10.0.0.1:8786, whose workers were "
                            "started with --resources benchmark=1 --nthreads 1")
    where.add_argument("--local", type=positive_int("--local", MAX_LOCAL_WORKERS), metavar="N",
                       help="start N workers on this machine (loopback only) to try the fleet; several benchmarks "
                            "then share one host, so every record is warned as co-located")
    add_case_options(parser, user_models=False)  # each host would need the user's file or factory: zoo models only
    add_out_option(parser, "records of every machine in results/fleet.jsonl (fleet-quick.jsonl with --quick)")
    add_fresh_option(parser, "results/fleet.jsonl", "from the same machine and environment")
    parser.add_argument("--retries", type=_retries, default=DEFAULT_RETRIES, metavar="N",
                        help=f"times a case whose host died mid-case is sent to another host of its machine "
                             f"(default: {DEFAULT_RETRIES})")
    parser.add_argument("--connect-timeout-s", type=positive_seconds("--connect-timeout-s"),
                        default=DEFAULT_CONNECT_TIMEOUT_S, metavar="S",
                        help=f"give up when the scheduler does not answer, or has no benchmark worker, within S "
                             f"seconds (default: {DEFAULT_CONNECT_TIMEOUT_S:g})")
    add_progress_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from benchlib.cli.sweep import config_from_args
    from benchlib.report.outputs import OutputRefused, plan_results
    from benchlib.studies.fleet.cluster import FleetError
    from benchlib.studies.fleet.plan import default_results_path, fleet_sweep

    try:
        config = config_from_args(args)
    except ValueError as exc:
        return refuse("fleet", str(exc))
    folder = out_folder(args)
    out = default_results_path(args.quick, folder / "results")
    try:
        plan_results(folder, out, runs=0)  # a fleet's count of cases is known once its machines are
    except OutputRefused as exc:
        return refuse("fleet", str(exc))
    # SIGTERM stops like Ctrl-C: cases in flight are cancelled, a local cluster is shut down.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        result = fleet_sweep(config, scheduler=args.scheduler, local=args.local, results_path=out,
                             threads=args.threads, retries=args.retries, connect_timeout_s=args.connect_timeout_s,
                             progress=not args.no_progress, fresh=args.fresh)
    except FleetError as exc:
        where = f"--scheduler={args.scheduler}" if args.scheduler is not None else f"--local={args.local}"
        return refuse("fleet", f"{where}: {exc}")
    finally:
        signal.signal(signal.SIGTERM, previous)
    _print_outcome(result)
    return 0 if result.complete else 1


def _print_outcome(result: FleetResult) -> None:
    """The machines' tables (the whole results file), then what this run did and what is left."""
    from benchlib.report.fleet import machine_views

    views = machine_views(result.results_path)
    print(views.markdown())
    counts = ", ".join(f"{n} {s}" for s, n in sorted(result.counts().items())) or "none"
    hosts = sum(len(m.hosts) for m in result.machines)
    print(f"\nfleet: {len(result.machines)} machine(s), {hosts} host(s); {result.planned} case(s), "
          f"{result.resumed} already done, records now: {counts}; {result.wall_s:.0f} s")
    for case, machine, why in result.gave_up:
        print(f"  failed, not retried: {case.label()} on {machine.label}: {why}")
    for case, machine, why in result.not_run:
        print(f"  not run: {case.label()} on {machine.label}: {why}")
    if result.gave_up or result.not_run:
        print("  Run the same command again to retry them.")
    print(f"results: {result.results_path}")
