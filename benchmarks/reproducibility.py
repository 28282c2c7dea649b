"""Does an answer hold on a second run? The same ``benchlib run`` repeated R times, each a separate invocation.

For every case (backend, model, batch size) it reports over the R runs:

* the spread between runs: (max - min) / median of the runs' p50, and their standard deviation over the median;
* the half-width each run claimed for its p50 (mean over runs);
* how many runs' 95% intervals hold the median of all R runs' p50;

and for every pair of backends at one model and batch size:

* the spread between runs of the ratio of their p50s;
* how many runs' ratio intervals hold the median ratio of all runs (the paired-round interval where the
  records have rounds, otherwise the ratio of the two intervals' ends);
* whether the winner was the same in every run.

Run from the repository root, alone on the machine:
``python benchmarks/reproducibility.py --runs 8 -- --backends numpy pytorch onnxruntime openvino --batch-sizes 1 64``
(everything after ``--`` goes to ``benchlib run``). ``--keep DIR`` keeps each run's records; ``--from DIR``
summarises records kept earlier without running anything. Prints Markdown tables, the wall time of each
run, and the load average before and after.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def run_once(index: int, folder: Path, run_args: list[str]) -> tuple[Path, float]:
    """One ``benchlib run`` in its own interpreter (``--out folder/run-<index>``); its records copied to
    ``folder/run-<index>.jsonl``."""
    out = folder / f"run-{index}"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "benchlib", "run", *run_args, "--out", str(out), "--no-progress"],
                   cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    # --out is the run's folder (its records in results/run.jsonl); an older benchlib took a file
    records = out / "results" / "run.jsonl" if out.is_dir() else out
    kept = folder / f"run-{index}.jsonl"
    kept.write_text(records.read_text())
    return kept, wall


def load_runs(paths: list[Path]) -> list[list[dict[str, Any]]]:
    runs = []
    for path in paths:
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        runs.append([r for r in records if r.get("status") == "ok"])
    return runs


def case_of(record: dict[str, Any]) -> tuple[str, str, int, str]:
    return (str(record.get("backend")), str(record.get("model")), int(record.get("batch_size") or 0),
            str(record.get("threads")))


def _p50(record: dict[str, Any]) -> float:
    return float((record.get("latency_ms") or {}).get("p50", math.nan))


def _interval(record: dict[str, Any]) -> tuple[float, float]:
    low, high = ((record.get("latency_ci95_ms") or {}).get("p50") or [math.nan, math.nan])[:2]
    return float(low if low is not None else math.nan), float(high if high is not None else math.nan)


def _ratio_interval(a: dict[str, Any], b: dict[str, Any]) -> tuple[float, float, float]:
    """The ratio a/b and its interval: paired rounds where both records have them, else the intervals' ends."""
    ra, rb = a.get("rounds") or {}, b.get("rounds") or {}
    if ra.get("block_ms") and rb.get("block_ms") and ra.get("group") == rb.get("group"):
        from benchlib.engine.round_stats import compare_samples

        result = compare_samples(ra["block_ms"], ra["round"], rb["block_ms"], rb["round"], paired=True)
        return result.ratio, result.low, result.high
    (alow, ahigh), (blow, bhigh) = _interval(a), _interval(b)
    return _p50(a) / _p50(b), alow / bhigh, ahigh / blow


def summarise(runs: list[list[dict[str, Any]]]) -> tuple[str, str, dict[str, float]]:
    """Markdown tables per case and per pair, and the overall coverage figures."""
    by_case: dict[tuple, list[dict[str, Any]]] = {}
    for run in runs:
        for record in run:
            by_case.setdefault(case_of(record), []).append(record)
    case_rows = ["| case | runs | median p50 (ms) | spread (max−min)/median | sd/median | claimed half-width "
                 "(mean) | intervals holding the median of all runs |", "|---|---:|---:|---:|---:|---:|---:|"]
    held_total = pairs_total = 0
    for key in sorted(by_case):
        records = by_case[key]
        p50 = np.array([_p50(r) for r in records])
        centre = float(np.median(p50))
        held = sum(low <= centre <= high for low, high in (_interval(r) for r in records))
        claimed = [max(_p50(r) - low, high - _p50(r)) / _p50(r) for r, (low, high)
                   in zip(records, (_interval(r) for r in records), strict=True)]
        held_total += held
        pairs_total += len(records)
        sd = p50.std(ddof=1) / centre if len(p50) > 1 else 0.0
        case_rows.append(f"| {key[0]} {key[1]} b{key[2]} | {len(records)} | {centre:.4g} | "
                         f"{(p50.max() - p50.min()) / centre:.0%} | {sd:.0%} "
                         f"| {np.mean(claimed):.2%} | {held}/{len(records)} |")
    ratio_rows = ["| pair (a / b) | runs | median ratio | spread (max−min)/median | intervals holding the median "
                  "ratio | winner the same in every run |", "|---|---:|---:|---:|---:|---|"]
    ratio_held = ratio_total = 0
    groups: dict[tuple, list[str]] = {}
    for key in by_case:
        groups.setdefault(key[1:], []).append(key[0])
    for (model, batch, threads), backends in sorted(groups.items()):
        for a, b in itertools.combinations(sorted(backends), 2):
            triples = []
            for run in runs:
                found = {case_of(r)[0]: r for r in run if case_of(r)[1:] == (model, batch, threads)}
                if a in found and b in found:
                    triples.append(_ratio_interval(found[a], found[b]))
            if len(triples) < 2:
                continue
            ratios = np.array([t[0] for t in triples])
            centre = float(np.median(ratios))
            held = sum(low <= centre <= high for _, low, high in triples)
            ratio_held += held
            ratio_total += len(triples)
            same = len({r < 1 for r in ratios}) == 1
            ratio_rows.append(f"| {a} / {b} {model} b{batch} | {len(triples)} | {centre:.3g} | "
                              f"{(ratios.max() - ratios.min()) / centre:.0%} | {held}/{len(triples)} | "
                              f"{'yes' if same else 'no'} |")
    totals = {"case_coverage": held_total / pairs_total if pairs_total else math.nan,
              "ratio_coverage": ratio_held / ratio_total if ratio_total else math.nan}
    return "\n".join(case_rows), "\n".join(ratio_rows), totals


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    run_args: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, run_args = argv[:cut], argv[cut + 1:]
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=8, help="separate invocations of benchlib run (default 8)")
    parser.add_argument("--keep", type=Path, default=None, help="keep each run's records in this folder")
    parser.add_argument("--from", dest="source", type=Path, default=None,
                        help="summarise the run-*.jsonl files of this folder instead of running")
    args = parser.parse_args(argv)
    if args.runs < 2:
        parser.error(f"--runs={args.runs} is invalid; allowed: 2 or more (one run has no spread)")
    if args.source is not None:
        paths = sorted(args.source.glob("run-*.jsonl"))
        print(f"records from {args.source}: {len(paths)} runs")
    else:
        load_before = os.getloadavg()
        folder = args.keep or Path(tempfile.mkdtemp(prefix="benchlib-repro-"))
        folder.mkdir(parents=True, exist_ok=True)
        paths, walls = [], []
        for index in range(args.runs):
            path, wall = run_once(index, folder, run_args or ["--backends", "numpy", "onnxruntime"])
            paths.append(path)
            walls.append(wall)
            print(f"run {index + 1}/{args.runs}: {wall:.1f} s", file=sys.stderr)
        load_after = os.getloadavg()
        print(f"benchlib run {' '.join(run_args)}: {args.runs} runs, wall time per run "
              f"{np.median(walls):.1f} s (min {min(walls):.1f}, max {max(walls):.1f}); load average before "
              f"{load_before[0]:.2f}, after {load_after[0]:.2f}; records in {folder}")
    cases, ratios, totals = summarise(load_runs(paths))
    print("\n" + cases + "\n\n" + ratios + "\n")
    print(f"case intervals holding the median of all runs: {totals['case_coverage']:.0%}; "
          f"ratio intervals holding the median ratio: {totals['ratio_coverage']:.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
