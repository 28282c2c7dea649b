"""What the LoadGen harness costs per query, measured with a no-op system under test.

The no-op SUT completes every query inside LoadGen's callback (:mod:`benchlib.scenarios.harness_cost`),
so the time measured is LoadGen's scheduling and logging, the Python binding's callback and the
completion call: everything a scenario run adds to each query besides the inference.

* SingleStream, queries back to back: LoadGen's own ``qps_with_loadgen_overhead`` as microseconds per
  query (the latency the harness adds to every query; LoadGen's fixed start-up excluded), and the
  wall time of the whole run per query (start-up included).
* Server at a fixed arrival rate: the process's CPU time per query (the share of the cores the harness
  takes from the framework while queries arrive).

Each measurement runs ``--repeats`` times, each in a fresh process; the table shows the median and the
spread. The goal: at most 20 µs per query, so that the harness does not cap ``fnn`` at batch 1.

Run: ``python benchmarks/loadgen_harness_cost.py [--queries 50000] [--rate 5000] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import os
import statistics

from benchlib.scenarios.harness_cost import GOAL_US, measure_in_child


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=50_000, help="SingleStream queries per run")
    parser.add_argument("--server-queries", type=int, default=20_000, help="Server queries per run")
    parser.add_argument("--rate", type=float, default=5_000.0, help="Server arrival rate (queries/s)")
    parser.add_argument("--repeats", type=int, default=5, help="fresh processes per measurement")
    args = parser.parse_args(argv)
    for name, value in (("--queries", args.queries), ("--server-queries", args.server_queries),
                        ("--rate", args.rate), ("--repeats", args.repeats)):
        if not value > 0:
            parser.error(f"{name}={value!r} is invalid; allowed: a number above 0")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    rows = []
    for scenario, queries in (("SingleStream", args.queries), ("Server", args.server_queries)):
        runs = [measure_in_child(scenario, queries=queries, rate=args.rate) for _ in range(args.repeats)]
        per_query = [r["us_per_query"] for r in runs]
        rows.append((scenario, queries, statistics.median(per_query), min(per_query), max(per_query),
                     statistics.median(r["wall_us_per_query"] for r in runs),
                     statistics.median(r["cpu_us_per_query"] for r in runs), runs[0]["loadgen_version"]))
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print("\n| scenario | queries | µs/query (median) | min | max | wall µs/query | CPU µs/query | LoadGen |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for scenario, queries, median, low, high, wall, cpu, version in rows:
        print(f"| {scenario} | {queries:,} | {median:.2f} | {low:.2f} | {high:.2f} | {wall:.2f} | {cpu:.2f} "
              f"| {version} |")
    worst = max(row[2] for row in rows)
    verdict = "met" if worst <= GOAL_US else "missed"
    print(f"\ngoal: at most {GOAL_US:g} µs per query: {verdict} ({worst:.2f} µs at most, median of {args.repeats})")
    return 0 if worst <= GOAL_US else 1


if __name__ == "__main__":
    raise SystemExit(main())
