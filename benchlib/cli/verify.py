"""``benchlib verify``: check every backend against the float64 reference, on every model."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence

from benchlib.cli.common import add_backends_option, add_threads_option, checked_list, option_type
from benchlib.engine.checked import ModelNames
from benchlib.engine.params import check_model
from benchlib.models.zoo import MODELS


def _model_and_file(value: str, option: str) -> str:
    """A ``--models`` value: its name checked (:func:`~benchlib.engine.params.check_model`), and an ONNX file
    ``onnx.checker`` accepts (a missing, non-ONNX or invalid file is refused before anything runs)."""
    from benchlib.errors import OnnxModelError
    from benchlib.models.onnx_model import check_onnx_file
    from benchlib.models.user import is_onnx_name

    check_model(value, option)
    if is_onnx_name(value):
        try:
            check_onnx_file(value)
        except OnnxModelError as exc:
            raise OnnxModelError(str(exc).replace("model=", f"{option}=", 1)) from None
    return value


#: ``--models`` value: a zoo name, a path to an ONNX file or ``torch:package.module:function``.
model_name = option_type(_model_and_file, "--models")
#: ``--models`` value of a command that measures zoo models only (``sweep``, ``fleet``).
zoo_model_name = option_type(lambda value, option: check_model(value, option, zoo_only=True), "--models")


def add_input_shape_option(parser: argparse.ArgumentParser) -> None:
    """``--input-shape NAME=d1,d2 ...``: per-sample sizes of an ONNX model's dynamic dimensions."""
    parser.add_argument("--input-shape", nargs="+", default=None, metavar="NAME=D1,D2",
                        help="per-sample shape (without the batch) of an ONNX model's input whose dimensions "
                             "besides the batch are dynamic, e.g. ids=128 (ONNX files and factories only)")
    parser.add_argument("--input-range", nargs="+", default=None, metavar="NAME=LOW:HIGH",
                        help="values drawn for an input of an ONNX model or factory: [LOW, HIGH), finite, LOW < HIGH, "
                             "within the input's type (integers: integer bounds within its minimum and maximum + 1, "
                             "or the rows of the table it indexes; bool: within 0:2, e.g. 1:2 for all true) "
                             "(default: floats in [0, 1), integer ids below the rows of the table they index), "
                             "e.g. ids=0:1000")


def check_user_models(models: list[str] | None, input_shape: list[str] | None,
                      input_range: list[str] | None = None, batch_sizes: Sequence[int] | None = None,
                      timeout_s: float | None = None) -> str | None:
    """Why the ONNX files among ``models`` cannot run with ``--input-shape`` (dynamic dimensions), or None.

    Each factory is planned in a child process killed after ``timeout_s``; memory is bounded from the
    declared shapes at the largest of ``batch_sizes`` (default: ``verify``'s), before any case starts.

    ``--input-shape`` and ``--input-range`` describe an ONNX file's or a factory's inputs: with zoo models
    only (``None``: every zoo model) they would be ignored, so they are refused.
    """
    from benchlib.errors import OnnxModelError
    from benchlib.models.user import VERIFY_BATCH_SIZES, is_user_model, memory_refusal, planned_model

    given = [option for option, value in (("--input-shape", input_shape), ("--input-range", input_range)) if value]
    if given and not any(is_user_model(m) for m in models or []):
        zoo = ", ".join(models or MODELS)
        return (f"{' and '.join(given)} given with the zoo model(s) {zoo}, whose inputs are fixed: --input-shape and "
                "--input-range apply to ONNX files and torch:package.module:function factories only; allowed: "
                "without them, or with an ONNX file or a factory in --models")
    for model in models or []:
        if is_user_model(model):
            try:  # a factory is imported, called and exported here, in a child process
                planned = planned_model(model, ";".join(input_shape or []) or None,
                                        ";".join(input_range or []) or None, timeout_s=timeout_s)
                problem = memory_refusal(planned, batch_sizes or VERIFY_BATCH_SIZES)
            except OnnxModelError as exc:
                return str(exc)
            if problem:  # verify has no --batch-sizes: say which it draws
                return problem + ("" if batch_sizes else f" (verify draws batch sizes "
                                  f"{' and '.join(map(str, VERIFY_BATCH_SIZES))}, or a fixed batch)")
    return None


def add_models_option(parser: argparse.ArgumentParser, default: list[str] | None, default_help: str,
                      user_models: bool = True) -> None:
    """``--models NAME ...`` (``--model`` is accepted as an alias); ``user_models=False``: zoo names only."""
    offered = ", ".join(MODELS)
    if user_models:
        offered += ", a path to an .onnx file, torch:package.module:function or keras:package.module:function"
    parser.add_argument("--models", "--model", dest="models", nargs="+", default=default, metavar="NAME",
                        type=model_name if user_models else zoo_model_name, action=checked_list(ModelNames),
                        help=f"models to include ({offered}); default: {default_help}")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify", help="check every backend's outputs against a float64 NumPy reference, on every model",
        description="Build each backend from each model spec, run random inputs at the model's verification "
                    "batch sizes and compare with a float64 reference, within the model's own tolerance "
                    "(stated in the spec with its reason). Prints a backend x model table of the largest "
                    "absolute error. Exits 1 if any installed backend fails, or if every backend skipped a model "
                    "(nothing was verified).",
    )
    add_backends_option(parser, "all (missing frameworks are reported as skipped)")
    add_models_option(parser, None, "all")
    add_input_shape_option(parser)
    parser.add_argument("--variants", nargs="+", default=None, metavar="NAME",
                        help="variants to verify: 'all', or names (each backend checks those it offers); "
                             "default: each backend's default variant")
    add_threads_option(parser, "thread settings to verify with, each in turn: integers, 'cores' (one per usable "
                               "core) or 'default' (the framework's own; this is the default)")
    parser.add_argument("--json", action="store_true", help="print a JSON list (one row per backend and model)")
    parser.set_defaults(func=run)


def _cell(result) -> str:  # noqa: ANN001 - a VerifyResult
    from benchlib.studies.verify import NOT_VERIFIED

    if result.status == "skipped":
        return "skipped"
    if result.max_abs_err is None:
        return "UNVERIFIED" if result.reason.startswith(NOT_VERIFIED) else "FAIL"
    return f"{result.max_abs_err:.1e} {'ok' if result.ok else 'FAIL'}"


def format_table(results: list, threads_of: dict[int, object] | None = None) -> str:
    """Backends as rows, models as columns (each headed by its tolerance); notes for anything not passing.

    ``threads_of`` (result's ``id`` -> its thread setting), when several were verified, adds ``t=N`` to each row.
    """
    from benchlib.models.user import is_user_model
    from benchlib.models.zoo import get_model
    from benchlib.studies.verify import flops_notes

    models = list(dict.fromkeys(r.model for r in results))
    several = threads_of is not None and len(set(threads_of.values())) > 1
    label = {id(r): r.backend + (f"/{r.variant}" if r.variant else "")
             + (f" t={threads_of[id(r)] or 'default'}" if several else "") for r in results}
    backends = list(dict.fromkeys(label[id(r)] for r in results))
    by_key = {(label[id(r)], r.model): r for r in results}
    by_model = {r.model: r for r in results}
    # An ONNX file's column is headed by its file name and its relative tolerance.
    headers = [(f"{m.rsplit('/', 1)[-1]}" + (f" (rel {r.tolerance:.0e})" if r.tolerance is not None else ""))
               if is_user_model(m) else f"{m} (tol {get_model(m).tolerance:.0e})"
               for m, r in ((m, by_model[m]) for m in models)]
    widths = [max(len(h), 16) for h in headers]
    name_width = max(12, *(len(b) for b in backends))
    header = " ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))
    lines = [f"{'backend':<{name_width}} {'version':<12} {header}"]
    for backend in backends:
        row = [by_key[(backend, m)] for m in models]
        version = next((r.version for r in row if r.version), None) or "-"
        cells = " ".join(_cell(r).rjust(w) for r, w in zip(row, widths, strict=True))
        lines.append(f"{backend:<{name_width}} {version.split('-')[0][:12]:<12} {cells}")
    notes = [f"  {label[id(r)]} / {r.model}: {r.status}: {r.reason}" for r in results if r.reason]
    return "\n".join(lines + (["", *notes] if notes else []) + _reference_notes(results) + flops_notes(results))


def _reference_notes(results: list) -> list[str]:
    """One line per model checked against something other than its first-choice reference: which, and why."""
    from benchlib.models.reference_check import EVALUATOR, METHODS, NUMPY_FLOAT64

    lines = []
    for model in dict.fromkeys(r.model for r in results):
        result = next(r for r in results if r.model == model)
        if result.reference in (None, EVALUATOR, NUMPY_FLOAT64):  # None: the notes above say why nothing ran
            continue
        named = "; ".join(f"{METHODS.get(m, m)} ({m})" for m in result.reference.split(", "))
        lines.append(f"  {model}: checked against {named}, because {result.reference_reason}")
    return ["", "Reference:", *lines] if lines else []


def run(args: argparse.Namespace) -> int:
    from benchlib.backends.registry import BACKEND_NAMES, backend_variants
    from benchlib.cli.common import refuse
    from benchlib.errors import OnnxModelError
    from benchlib.studies.verify import NOT_VERIFIED, verify_models

    variants = args.variants
    if variants is not None:
        known = {v for name in (args.backends or BACKEND_NAMES) for v in backend_variants(name)}
        unknown = [v for v in variants if v != "all" and v not in known]
        if unknown:
            return refuse("verify", f"--variants={unknown[0]!r} is not offered by any selected backend; "
                                    f"allowed: all, {', '.join(sorted(known))}")
        variants = "all" if "all" in variants else variants
    problem = check_user_models(args.models, args.input_shape, args.input_range) or _zoo_memory(args.models)
    if problem:
        return refuse("verify", problem)
    started = time.perf_counter()
    results: list = []
    threads_of: dict[int, object] = {}  # each result's thread setting (None: the framework's own)
    try:
        with _stdout_to_stderr(args.json):  # a factory's or a framework's prints must not corrupt the JSON
            for setting in args.threads or [None]:
                batch = verify_models(args.models, args.backends, threads=setting, variants=variants,
                                      input_shapes=";".join(args.input_shape or []) or None,
                                      input_ranges=";".join(args.input_range or []) or None)
                threads_of.update((id(r), setting) for r in batch)
                results += batch
    except OnnxModelError as exc:  # a model refused while verifying (e.g. a batch that will not fit)
        return refuse("verify", str(exc))
    wall = time.perf_counter() - started
    if args.json:  # with --threads, each row says the setting it was verified with
        print(json.dumps([{**r.to_dict(), **({"threads": threads_of[id(r)]} if args.threads else {})}
                          for r in results], indent=2))
    else:
        print(format_table(results, threads_of))
        counts = {s: sum(r.status == s for r in results) for s in ("pass", "fail", "skipped")}
        not_verified = sum(r.reason.startswith(NOT_VERIFIED) for r in results)  # failed: nothing was compared
        print(f"\n{len(results)} backend x model check(s): {counts['pass']} passed, "
              f"{counts['fail'] - not_verified} failed, {counts['skipped']} skipped"
              f"{f', {not_verified} not verified' if not_verified else ''}, in {wall:.1f} s")
    unverified = [m for m in dict.fromkeys(r.model for r in results)
                  if all(r.status == "skipped" for r in results if r.model == m)]
    for model in unverified:  # every backend skipped is not a pass: nothing was compared with a reference
        print(f"benchlib verify: nothing was verified for {model}: every backend was skipped (the reasons are "
              "listed in the output)", file=sys.stderr)
    for model in dict.fromkeys(r.model for r in results if r.reason.startswith(NOT_VERIFIED)):
        print(f"benchlib verify: nothing was verified for {model}: no reference check could run its graph (the "
              "reasons are listed in the output)", file=sys.stderr)
    return 1 if unverified or any(r.status == "fail" for r in results) else 0


def _zoo_memory(models: list[str] | None) -> str | None:
    """Why a zoo model's verification batch sizes will not fit in memory (the estimate), or None."""
    from benchlib.models.user import is_user_model, memory_refusal
    from benchlib.models.zoo import get_model

    for name in models or list(MODELS):
        if not is_user_model(name):
            spec = get_model(name)
            problem = memory_refusal(spec, spec.verify_batch_sizes)
            if problem:
                return problem
    return None


@contextlib.contextmanager
def _stdout_to_stderr(active: bool) -> Iterator[None]:
    """While ``active``, send everything written to stdout (Python's and file descriptor 1) to stderr."""
    if not active:
        yield
        return
    sys.stdout.flush()
    try:
        saved = os.dup(1)
        os.dup2(2, 1)
    except OSError:  # no usable descriptors (an embedding host): Python's own prints are still moved
        saved = None
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stderr.flush()
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)
