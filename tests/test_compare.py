"""Telling a real difference from noise: the ratio of medians, its interval, verdicts, ties and `compare`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchlib.results.schema import make_record
from benchlib.results.store import append_record
from benchlib.studies.compare import bootstrap_medians, compare_runs, compare_samples, describe, tie_groups
from tests.conftest import RECORD_ENV, run_cli


def _latencies(rng: np.random.Generator, median_ms: float, n: int) -> np.ndarray:
    # right-skewed like real latencies; the lognormal's median is exp(mu)
    return median_ms * rng.lognormal(0.0, 0.3, n)


def test_exact_bootstrap_median_matches_resampling() -> None:
    rng = np.random.default_rng(1)
    x = _latencies(rng, 1.0, 201)
    exact = bootstrap_medians(x, 20000, np.random.default_rng(2))
    resampled = np.median(rng.choice(x, size=(4000, x.size), replace=True), axis=1)
    for q in (0.025, 0.5, 0.975):
        assert abs(np.quantile(exact, q) - np.quantile(resampled, q)) < 0.01


def test_known_difference_and_known_tie() -> None:
    rng = np.random.default_rng(3)
    base = _latencies(rng, 1.0, 2000)
    slower = compare_samples(base, _latencies(rng, 1.10, 2000))
    assert slower.verdict == "slower" and slower.lo > 1.0 and 1.05 < slower.ratio < 1.15
    faster = compare_samples(base, _latencies(rng, 0.80, 2000))
    assert faster.verdict == "faster" and faster.hi < 1.0
    tie = compare_samples(base, _latencies(rng, 1.0, 2000))
    assert tie.verdict == "indistinguishable" and tie.lo < 1.0 < tie.hi
    assert "indistinguishable at this precision" in describe(tie)
    assert "1.25x faster" in describe(compare_samples(base, base / 1.25), "onnxruntime", "numpy")


def test_interval_covers_the_true_ratio_in_a_seeded_simulation() -> None:
    # 1000 trials, so that the rate (at least 94 in 100) is measured to about +-0.7%, not guessed from 100
    rng = np.random.default_rng(2026)
    true_ratio, covered = 1.07, 0
    for trial in range(1000):
        ratio = compare_samples(_latencies(rng, 1.0, 400), _latencies(rng, true_ratio, 400), seed=trial, draws=2000)
        covered += ratio.lo <= true_ratio <= ratio.hi
    assert covered >= 940


def test_ties_are_grouped_and_bad_samples_refused() -> None:
    rng = np.random.default_rng(5)
    a, b, c = _latencies(rng, 1.0, 3000), _latencies(rng, 1.003, 3000), _latencies(rng, 2.0, 3000)
    groups = tie_groups(["c", "a", "b"], [c, a, b])
    assert sorted(groups[0]) == ["a", "b"] and groups[1:] == [["c"]]
    with pytest.raises(ValueError, match="base has 1 usable sample"):
        compare_samples([1.0, float("nan"), -1.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="confidence=1.5 is invalid"):
        compare_samples(a, b, confidence=1.5)


def _write(path: Path, cases: dict[tuple[str, int], float], seed: int, env: dict | None = None) -> None:
    """Records with lognormal samples; a case whose median is 0.5 ms gets the same samples in every file
    (an exact tie), the others samples drawn from ``seed``."""
    for (backend, batch), median in cases.items():
        rng = np.random.default_rng(0 if median == 0.5 else (seed, batch, len(backend)))
        case = {"backend": backend, "model": "fnn", "batch_size": batch, "threads": None, "variant": "default",
                "protocol": "engine", "case_key": f"{backend}-{batch}"}
        samples = _latencies(rng, median, 3000).tolist()
        append_record(path, make_record(case, samples_ms=samples, env=env or RECORD_ENV, env_key="k"))


def test_compare_runs_matches_cases_and_keeps_machines_apart(tmp_path: Path) -> None:
    import json

    _write(tmp_path / "a.jsonl", {("numpy", 1): 1.0, ("onnxruntime", 1): 0.5, ("jax", 1): 0.7}, seed=1)
    _write(tmp_path / "b.jsonl", {("numpy", 1): 1.3, ("onnxruntime", 1): 0.5, ("pytorch", 1): 0.9}, seed=2)
    read = [[json.loads(line) for line in (tmp_path / f"{n}.jsonl").read_text().splitlines()] for n in "ab"]
    result = compare_runs(*read)
    verdicts = {row["case"].split("/")[0]: row["verdict"] for row in result.rows}
    assert verdicts == {"numpy": "slower", "onnxruntime": "indistinguishable"}
    assert [r["backend"] for r in result.only_base] == ["jax"]
    assert [r["backend"] for r in result.only_new] == ["pytorch"]
    assert [r["case"].split("/")[0] for r in result.regressions(0.05)] == ["numpy"]

    _write(tmp_path / "c.jsonl", {("numpy", 1): 1.0}, seed=3, env={**RECORD_ENV, "cpu_model": "other cpu"})
    other = [json.loads(line) for line in (tmp_path / "c.jsonl").read_text().splitlines()]
    apart = compare_runs(read[0], other)
    assert apart.rows == [] and apart.other_machine[0]["differs"]["cpu_model"] == ("test cpu", "other cpu")
    across = compare_runs(read[0], other, across_machines=True)
    assert "cpu_model: test cpu -> other cpu" in across.rows[0]["fingerprint_differs"]


def test_compare_command_flags_regressions_and_refuses_nothing_in_common(tmp_path: Path) -> None:
    base, new = tmp_path / "base", tmp_path / "new"
    _write(base / "r.jsonl", {("numpy", 1): 1.0, ("onnxruntime", 1000): 0.5}, seed=1)
    _write(new / "r.jsonl", {("numpy", 1): 1.2, ("onnxruntime", 1000): 0.5}, seed=2)
    done = run_cli("compare", str(base), str(new), "--markdown", str(tmp_path / "pr.md"))
    assert done.returncode == 0, done.stderr
    assert "| REGRESSION |" in done.stdout and "1 significant regression(s) of at least 5%" in done.stdout
    assert "| numpy/default fnn b=1 t=default |" in (tmp_path / "pr.md").read_text()
    assert run_cli("compare", str(base), str(new), "--fail-on-regression").returncode == 1
    assert run_cli("compare", str(base), str(new), "--fail-on-regression", "--min-change", "0.5").returncode == 0

    _write(tmp_path / "other.jsonl", {("jax", 8): 1.0}, seed=4)
    refused = run_cli("compare", str(base), str(tmp_path / "other.jsonl"))
    assert refused.returncode == 2 and "have no case in common" in refused.stderr
    (tmp_path / "notes.md").write_text("my own notes\n")
    foreign = run_cli("compare", str(base), str(new), "--markdown", str(tmp_path / "notes.md"))
    assert foreign.returncode == 2 and "benchlib did not write" in foreign.stderr
    assert (tmp_path / "notes.md").read_text() == "my own notes\n"
    assert run_cli("compare", str(base), str(new), "--markdown", str(base / "r.jsonl")).returncode == 2
    own_export = run_cli("compare", str(base), str(new), "--markdown", str(tmp_path / "pr.md"))  # its own export
    assert own_export.returncode == 0
    bad = run_cli("compare", str(base), str(new), "--min-change", "-1")
    assert bad.returncode == 2 and "--min-change='-1' is invalid" in bad.stderr


def test_comparison_table_shows_ties_as_ties() -> None:
    import pandas as pd

    from benchlib.report.tables import comparison_table

    def row(backend: str, p50: float, lo: float, hi: float, status: str = "ok") -> dict:
        return {"model": "fnn", "backend": backend, "variant": "default", "batch_size": 1, "threads": None,
                "status": status, "case_key": backend, "latency_ms.p50": p50, "latency_ci95_ms.p50.lo": lo,
                "latency_ci95_ms.p50.hi": hi, "outputs_valid": True, "created": "2026-11-25T00:00:00Z"}

    frame = pd.DataFrame([row("numpy", 1.00, 0.98, 1.02), row("jax", 0.50, 0.49, 0.51),
                          row("pytorch", 0.505, 0.50, 0.52), row("onnxruntime", 0.70, 0.69, 0.71),
                          row("tensorflow", None, None, None, status="failed")])
    ranks = dict(zip(comparison_table(frame)["backend"], comparison_table(frame)["rank"], strict=True))
    assert ranks == {"jax": "1=", "pytorch": "1=", "onnxruntime": "3", "numpy": "4", "tensorflow": ""}
