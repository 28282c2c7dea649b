"""``benchlib env``: the environment fingerprint stored with every record."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "env", help="print the environment fingerprint (CPU, cores, memory, frameworks, thread variables)",
        description="Print what every result record stores about the machine: CPU model and ISA flags, "
                    "physical/logical/usable cores, memory, OS, Python, framework versions (read from "
                    "package metadata, nothing imported), thread environment variables, load average, "
                    "and warnings (busy machine, CPU quota).",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from benchlib.env import collect_env

    env = collect_env()
    if args.json:
        print(json.dumps(env, indent=2))
        return 0
    for key, value in env.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
        elif isinstance(value, list):
            value = ", ".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in value) or "-"
        print(f"{key:<22} {value}")
    return 0
