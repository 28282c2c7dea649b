"""Argument types shared by the commands: each refusal names the option, the value and what is allowed."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

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


def check_environment_variables(command: str) -> int:
    """0 if every ``BENCHLIB_*`` environment variable is valid (notes on stderr for unknown ones), else the
    refusal naming the variable, its value and what is allowed, with exit status 2."""
    from benchlib.engine.params import check_environment

    try:
        notes = check_environment()
    except ValueError as exc:
        return refuse(command, str(exc))
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def once_each(option: str, values: Sequence[Any] | None) -> list[Any] | None:
    """``values`` without repeats, in order; a value given more than once is named in a note on stderr.

    Every case runs once anyway (the case grid drops repeats); the note says why fewer run.
    """
    if values is None:
        return None
    unique = list(dict.fromkeys(values))
    if len(unique) < len(values):
        repeated = " ".join("default" if v is None else str(v) for v in unique if list(values).count(v) > 1)
        print(f"note: {option} {repeated} given more than once; each case runs once", file=sys.stderr)
    return unique


def model_key(name: str) -> str:
    """What makes two ``--models`` values one model: an ONNX file's resolved path, else the name itself."""
    from benchlib.models.user import is_onnx_name

    return str(Path(name).resolve()) if is_onnx_name(name) else name


def once_each_model(values: Sequence[str] | None) -> list[str] | None:
    """``--models`` without repeats, in order: one file named several ways (``m.onnx``, ``./m.onnx``, its
    absolute path) runs once, under the first spelling given; the others are named in a note on stderr."""
    unique = once_each("--models", values)
    if unique is None:
        return None
    spellings: dict[str, list[str]] = {}
    for value in unique:
        spellings.setdefault(model_key(value), []).append(value)
    for key, names in spellings.items():
        if len(names) > 1:
            print(f"note: --models {' '.join(names)} name one file ({key}); it runs once, as {names[0]}",
                  file=sys.stderr)
    return [names[0] for names in spellings.values()]


def timing_conflict(timeout_s: float, warmup_time_s: float, min_time_s: float) -> str | None:
    """Why a ``--timeout`` cannot let a case finish (not longer than warm-up plus timed loop), or ``None``."""
    least = warmup_time_s + min_time_s
    if timeout_s > least:
        return None
    return (f"--timeout={timeout_s:g} is not longer than --warmup-time ({warmup_time_s:g} s) + --min-time "
            f"({min_time_s:g} s) = {least:g} s, so every case would be killed before its timed loop ends; "
            f"allowed: more than {least:g} seconds (the default is 600), or a shorter --min-time")
