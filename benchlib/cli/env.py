"""``benchlib env``: the environment fingerprint stored with every record."""

from __future__ import annotations

import argparse
import json

from benchlib.cli.common import positive_seconds

#: The longest speed-level probe ``--probe-s`` allows.
MAX_PROBE_S = 600.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "env", help="print the environment fingerprint (CPU, cores, memory, frameworks, thread variables)",
        description="Print what every result record stores about the machine: CPU model and ISA flags, "
                    "physical/logical/usable cores, memory, OS, Python, framework versions (read from "
                    "package metadata, nothing imported), thread environment variables, load average, "
                    "and warnings (busy machine, CPU quota); then the noise audit (steal time, cgroup "
                    "throttling, frequency governor and frequencies, turbo, SMT siblings, swap) with advice, "
                    "and a short probe of whether the machine switches between speed levels. "
                    "Nothing on the machine is changed.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--probe-s", type=positive_seconds("--probe-s", allow_zero=True, maximum=MAX_PROBE_S),
                        default=3.0, metavar="S",
                        help=f"seconds of the speed-level probe, up to {MAX_PROBE_S:g} (default: 3; 0: no probe)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from benchlib.system.audit import audit
    from benchlib.system.env import collect_env

    env = collect_env()
    noise = audit()
    if args.probe_s > 0:
        from benchlib.engine.state_probe import probe_speed_levels

        levels = probe_speed_levels(max(args.probe_s, 0.1))
        noise["speed_levels"] = levels["text"]
        if levels["split"]:
            noise["advice"] = [*noise["advice"], "the machine switched between speed levels during the probe: "
                               "compare frameworks by their paired ratios (benchlib run measures in interleaved "
                               "rounds), not by medians taken at different times"]
        if args.json:
            noise["speed_level_probe"] = levels
    if args.json:
        print(json.dumps({**env, "noise_audit": noise}, indent=2, default=str))
        return 0
    for key, value in env.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
        elif isinstance(value, list):
            value = ", ".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in value) or "-"
        print(f"{key:<22} {value}")
    print("\nnoise audit (read-only)")
    for key, value in noise.items():
        if key == "advice":
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
        elif isinstance(value, list):
            value = ", ".join(map(str, value)) or "-"
        print(f"  {key:<22} {'not exposed' if value is None else value}")
    for tip in noise["advice"]:
        print(f"  advice: {tip}")
    return 0
