"""Command-line interface: ``python -m benchlib <command>`` or ``benchlib <command>``.

Each command lives in its own module exposing ``register(subparsers)``, which adds its parser
and sets ``func`` to a function taking the parsed arguments and returning an exit status.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading

#: Command modules, in the order ``--help`` lists them.
COMMANDS = ("verify", "env", "run", "report", "compare", "article", "ablation", "sweep", "fleet", "scenarios",
            "results-page")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchlib",
        description="Benchmark deep-learning inference on CPUs across frameworks.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        name = f"benchlib.cli.{command.replace('-', '_')}"  # results-page lives in results_page.py
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # command not built yet
            raise
        module.register(subparsers)
    # an option is spelled out in full: an old name (--min-time) must not pass as a prefix of a new one
    for sub in [parser, *subparsers.choices.values()]:
        sub.allow_abbrev = False
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (2 for invalid arguments or environment variables)."""
    from benchlib.notebook.console import degrade_to_ascii

    degrade_to_ascii()  # a terminal that cannot show ± or µ gets +/- and u, not a UnicodeEncodeError
    # A process started in the background by a non-interactive shell inherits SIGINT ignored, and Python
    # then never raises KeyboardInterrupt: a run sent SIGINT would go on to the end. Interrupting a run
    # (its children killed, its records kept, how to resume said) must work however it was started.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
    parser = build_parser()
    args = parser.parse_args(argv)
    from benchlib.cli.common import check_environment_variables

    status = check_environment_variables(args.command)
    if status:
        return status
    from benchlib.results.store import ResultsWriteError

    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except ResultsWriteError as exc:  # a full disk after the checks: say so instead of a traceback
        print(f"benchlib {args.command}: error: {exc}", file=sys.stderr)
        return 1
