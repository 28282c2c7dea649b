"""Argument types shared by the commands: each refusal names the option, the value and what is allowed."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from benchlib.backends.registry import BACKEND_NAMES
from benchlib.engine.case import MAX_BATCH_SIZE, MAX_SECONDS, check_positive_float, check_positive_int


def positive_int(option: str, maximum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{option}={text!r} is invalid; allowed: an integer from 1 to {maximum}") from None
        try:
            return check_positive_int(option, value, maximum)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def positive_seconds(option: str, allow_zero: bool = False) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{option}={text!r} is invalid; allowed: a number of seconds") from None
        try:
            return check_positive_float(option, value, MAX_SECONDS, allow_zero=allow_zero)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def backend_name(text: str) -> str:
    if text not in BACKEND_NAMES:
        raise argparse.ArgumentTypeError(f"--backends={text!r} is unknown; allowed: {', '.join(BACKEND_NAMES)}")
    return text


batch_size = positive_int("--batch-sizes", MAX_BATCH_SIZE)


def threads(text: str) -> int | str | None:
    """``--threads`` value: an integer, ``cores`` (one per usable core) or ``default`` (docs/threads.md)."""
    from benchlib.engine.grid import CORES, resolve_threads

    if text.strip().lower() == CORES:
        return CORES
    try:
        return resolve_threads(text, "--threads")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_backends_option(parser: argparse.ArgumentParser, default_help: str = "all installed") -> None:
    parser.add_argument("--backends", nargs="+", type=backend_name, metavar="NAME",
                        help=f"backends to include ({', '.join(BACKEND_NAMES)}); default: {default_help}")


def refuse(command: str, message: str) -> int:
    """Print ``benchlib <command>: error: <message>`` to stderr and return exit status 2."""
    print(f"benchlib {command}: error: {message}", file=sys.stderr)
    return 2
