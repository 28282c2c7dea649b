"""What the LoadGen harness costs per query, measured with a no-op system under test.

The no-op SUT completes every query inside LoadGen's callback, through the same completion code as
the harness (:mod:`benchlib.scenarios.harness_cost`), so the time measured is LoadGen's scheduling
and logging, the Python binding's callback and the completion call: everything a scenario run adds
to each query besides the inference.

* SingleStream, queries back to back: LoadGen's own ``qps_with_loadgen_overhead`` as microseconds per
  query (the latency the harness adds to every query; LoadGen's fixed start-up excluded).
* Server, one second at each of several arrival rates: the process's CPU time per query (the share
  of the cores the harness takes from the framework while queries arrive), and the least-squares
  slope of CPU seconds against queries over the rates (the marginal cost of one more query, apart
  from the fixed share LoadGen's threads take whatever the rate).

Each SingleStream measurement runs ``--repeats`` times, each in a fresh process (median and range).
The goal: at most 20 µs per query, so that the harness does not cap ``fnn`` at batch 1.

Run: ``python benchmarks/loadgen_harness_cost.py [--queries 50000] [--rates 1000 5000 20000] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import os
import statistics

from benchlib.scenarios.harness_cost import GOAL_US, measure_in_child


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y against x."""
    mean_x = statistics.fmean(x for x, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=50_000, help="SingleStream queries per run")
    parser.add_argument("--rates", type=float, nargs="+", default=[1_000.0, 5_000.0, 20_000.0],
                        help="Server arrival rates (queries/s), one second each")
    parser.add_argument("--repeats", type=int, default=5, help="fresh processes per measurement")
    args = parser.parse_args(argv)
    if args.queries < 1 or args.repeats < 1 or any(not rate > 0 for rate in args.rates):
        parser.error("--queries, --rates and --repeats must be above 0")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    single = [measure_in_child("SingleStream", queries=args.queries) for _ in range(args.repeats)]
    server = []  # (rate, queries, cpu seconds) per run
    for _ in range(args.repeats):
        for rate in args.rates:
            run = measure_in_child("Server", queries=int(rate), rate=rate)
            server.append((rate, run["queries"], run["cpu_us_per_query"] * run["queries"] / 1e6))
    print(f"load average after: {os.getloadavg()[0]:.2f}\n")
    per_query = [r["us_per_query"] for r in single]
    print(f"LoadGen {single[0]['loadgen_version']}\n")
    print("| measurement | µs per query (median) | range |")
    print("| --- | ---: | --- |")
    print(f"| SingleStream, {args.queries:,} queries back to back (latency added per query) | "
          f"{statistics.median(per_query):.2f} | {min(per_query):.2f}-{max(per_query):.2f} |")
    for rate in args.rates:
        cpu = [c / q * 1e6 for r, q, c in server if r == rate]
        print(f"| Server at {rate:,.0f} queries/s (CPU per query) | {statistics.median(cpu):.2f} | "
              f"{min(cpu):.2f}-{max(cpu):.2f} |")
    marginal = slope([(q, c) for _, q, c in server]) * 1e6
    print(f"| Server, marginal CPU per query (slope over the rates) | {marginal:.2f} | |")
    worst = max(statistics.median(per_query), marginal)
    verdict = "met" if worst <= GOAL_US else "missed"
    print(f"\ngoal: at most {GOAL_US:g} µs per query: {verdict} ({worst:.2f} µs at most)")
    return 0 if worst <= GOAL_US else 1


if __name__ == "__main__":
    raise SystemExit(main())
