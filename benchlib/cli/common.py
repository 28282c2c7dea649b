"""Argument types shared by the commands: each refusal names the option, the value and what is allowed."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from benchlib import defaults
from benchlib.backends.registry import BACKEND_NAMES
from benchlib.engine.checked import BackendNames, BatchSizes, Checked, ThreadCounts, ThreadSettings
from benchlib.engine.params import (
    MAX_SECONDS,
    check_backend,
    check_batch_size,
    check_positive_float,
    check_positive_int,
    check_thread_setting,
    check_threads,
)

T = TypeVar("T")


def option_type(check: Callable[[Any, str], T], option: str, number: type | None = None) -> Callable[[str], T]:
    """argparse type: the text (as a ``number`` where it reads as one) through ``check``, the one check of
    the parameter (:mod:`benchlib.engine.params`); its refusal, naming ``option``, exits with status 2."""

    def parse(text: str) -> T:
        value: Any = text
        if number is not None:
            try:
                value = number(text)
            except ValueError:
                pass  # the check refuses the text itself, saying what is allowed
        try:
            return check(value, option)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def checked_list(kind: type[Checked]) -> type[argparse.Action]:
    """argparse action of a list option whose ``type`` checked each value: the values as ``kind``, each once
    (a repeat is named in a note on stderr; every case runs once anyway)."""

    class StoreChecked(argparse.Action):
        def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                     option_string: str | None = None) -> None:
            setattr(namespace, self.dest, kind.of(option_string or self.dest, values))

    return StoreChecked


def positive_int(option: str, maximum: int) -> Callable[[str], int]:
    return option_type(lambda value, name: check_positive_int(name, value, maximum), option, int)


def positive_seconds(option: str, allow_zero: bool = False, maximum: float = MAX_SECONDS) -> Callable[[str], float]:
    """argparse type of a ``--*-s`` option: a finite number of seconds up to ``maximum`` (above 0, or from 0)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{option}={text!r} is invalid; allowed: a number of seconds") from None
        try:
            return check_positive_float(option, value, maximum, allow_zero=allow_zero)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def seed(text: str) -> int:
    """``--seed`` value: an integer from 0 to 2**32 - 1 (what NumPy's generators take)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"--seed={text!r} is invalid; allowed: an integer from 0 to {2**32 - 1}")
    return value


backend_name = option_type(check_backend, "--backends")
#: ``--threads`` value: an integer, ``cores`` (one per usable core) or ``default`` (docs/threads.md), as a count.
threads = option_type(check_threads, "--threads")


def add_batch_sizes_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``--batch-sizes N ...``: each checked by :func:`~benchlib.engine.params.check_batch_size`."""
    parser.add_argument("--batch-sizes", nargs="+", type=option_type(check_batch_size, "--batch-sizes", int),
                        action=checked_list(BatchSizes), default=None, metavar="N", help=help_text)


def add_threads_option(parser: argparse.ArgumentParser, help_text: str, sweep: bool = False) -> None:
    """``--threads N ...``: thread settings as counts on this machine; ``sweep``: without ``default``, and
    ``cores`` kept as a setting (a fleet counts it on each machine)."""
    if sweep:
        check, kind = (lambda value, name: check_thread_setting(value, name, explicit=True)), ThreadSettings
    else:
        check, kind = check_threads, ThreadCounts
    parser.add_argument("--threads", nargs="+", type=option_type(check, "--threads"), action=checked_list(kind),
                        default=None, metavar="N", help=help_text)


def add_backends_option(parser: argparse.ArgumentParser, default_help: str = "all installed") -> None:
    parser.add_argument("--backends", nargs="+", type=backend_name, action=checked_list(BackendNames),
                        metavar="NAME",
                        help=f"backends to include ({', '.join(BACKEND_NAMES)}); default: {default_help}")


def refuse(command: str, message: str) -> int:
    """Print ``benchlib <command>: error: <message>`` to stderr and return exit status 2."""
    print(f"benchlib {command}: error: {message}", file=sys.stderr)
    return 2


def check_environment_variables(command: str) -> int:
    """0 if every ``BENCHLIB_*`` environment variable is valid (notes on stderr for unknown ones), else the
    refusal naming the variable, its value and what is allowed, with exit status 2."""
    from benchlib.engine.env_params import check_environment

    try:
        notes = check_environment()
    except ValueError as exc:
        return refuse(command, str(exc))
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def timing_conflict(timeout_s: float, warmup_time_s: float, min_time_s: float) -> str | None:
    """Why a ``--timeout-s`` cannot let a case finish (not longer than warm-up plus timed loop), or ``None``."""
    least = warmup_time_s + min_time_s
    if timeout_s > least:
        return None
    return (f"--timeout-s={timeout_s:g} is not longer than --warmup-time-s ({warmup_time_s:g} s) + --min-time-s "
            f"({min_time_s:g} s) = {least:g} s, so every case would be killed before its timed loop ends; "
            f"allowed: more than {least:g} seconds (the default is {defaults.TIMEOUT_S:g}), or a shorter --min-time-s")


# -- the options every command shares, spelled and explained once -------------------------------------------


def add_out_option(parser: argparse.ArgumentParser, writes: str) -> None:
    """``--out DIR``: the one output folder of a command, which ``writes`` says what it holds."""
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help=f"output folder, created if missing (default: outputs/): {writes}")


def out_folder(args: argparse.Namespace) -> Path:
    """The ``--out`` folder, or benchlib's outputs folder."""
    from benchlib.system.paths import outputs_dir

    return Path(args.out) if args.out is not None else outputs_dir()


def add_fresh_option(parser: argparse.ArgumentParser, results: str,
                     where: str = "in this environment (CPU and framework versions)") -> None:
    """``--fresh``: the one exception to the resume rule (:func:`benchlib.studies.plan.plan_study`)."""
    parser.add_argument("--fresh", action="store_true",
                        help=f"measure every case again, appending the new records (default: resume: a case with an "
                             f"ok or skipped record in {results} {where} is not run again)")


def add_progress_option(parser: argparse.ArgumentParser) -> None:
    """``--no-progress``: every command that measures has it."""
    parser.add_argument("--no-progress", action="store_true", help="no progress bar or per-case lines on stderr")
