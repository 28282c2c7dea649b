"""``benchlib verify``: check every backend against the float64 reference."""

from __future__ import annotations

import argparse
import json

from benchlib.cli.common import add_backends_option, threads
from benchlib.models.zoo import MODELS, get_model
from benchlib.verify import BATCH_SIZES, TOLERANCE, verify_all


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify", help="check every backend's outputs against a float64 NumPy reference",
        description=f"Build each backend from the model spec, run random inputs at batch sizes "
                    f"{', '.join(map(str, BATCH_SIZES))} and compare with a float64 reference "
                    f"(tolerance {TOLERANCE:g}). Exits 1 if any installed backend fails.",
    )
    add_backends_option(parser, "all (missing frameworks are reported as skipped)")
    parser.add_argument("--model", default="fnn", choices=sorted(MODELS), help="model spec (default: fnn)")
    parser.add_argument("--threads", type=threads, default=None, help="threads per framework (default: framework's)")
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    parser.set_defaults(func=run)




def run(args: argparse.Namespace) -> int:
    results = verify_all(get_model(args.model), args.backends, threads=args.threads)
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        print(f"{'backend':<12} {'version':<16} {'max_abs_err':>12}  result")
        for r in results:
            err = "-" if r.max_abs_err is None else f"{r.max_abs_err:.3e}"
            version = (r.version or "-").split("-")[0][:16]
            note = f"  ({r.reason})" if r.reason else ""
            print(f"{r.backend:<12} {version:<16} {err:>12}  {r.status.upper()}{note}")
    return 1 if any(r.status == "fail" for r in results) else 0
