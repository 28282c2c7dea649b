"""Telling a real difference from noise: the one rule for "faster" (paired or unpaired rounds), verdicts,
ties, ranks and `compare`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchlib.results.schema import make_record
from benchlib.results.store import append_record, flatten
from benchlib.studies.compare import compare_records, compare_runs, describe, rounds_problem, tie_groups
from tests.conftest import RECORD_ENV, round_data, run_cli

ROUNDS = 11


def _machine(seed: int = 0) -> np.ndarray:
    """Per round, the speed of a shared core that switches between a fast and a 25% slower level."""
    return np.where(np.random.default_rng(seed).random(ROUNDS) < 0.5, 1.0, 1.25)


def _record(backend: str, blocks: np.ndarray | list[float] | None, group: str = "run-1", **fields: object) -> dict:
    """An ok record measured in the rounds of ``group`` (``blocks``: its block medians; None: without rounds)."""
    case = {"backend": backend, "model": "fnn", "batch_size": 1, "threads": None, "variant": "default",
            "protocol": "engine", "case_key": f"{backend}-1", **fields}
    if blocks is None:
        return make_record(case, latency_ms={"p50": 1.0}, latency_ci95_ms={"p50": [0.99, 1.01]}, env=RECORD_ENV,
                           env_key="k")
    rounds = {**round_data(0, blocks=[float(v) for v in blocks]), "group": group}
    return make_record(case, latency_ms={"p50": float(np.median(blocks))}, rounds=rounds, env=RECORD_ENV,
                       env_key="k")


def _noise(seed: int, spread: float = 0.01) -> np.ndarray:
    return np.exp(np.random.default_rng(seed).normal(0.0, spread, ROUNDS))


def test_paired_rounds_tell_a_small_win_from_a_tie_where_the_machine_state_hides_both() -> None:
    state = _machine()
    base = _record("numpy", state * _noise(1))
    win = _record("onnxruntime", 0.95 * state * _noise(2))  # 5% faster in every round
    tie = _record("jax", state * _noise(3))
    faster = compare_records(win, base)
    assert faster.paired and faster.verdict == "faster" and faster.high < 1 and faster.rounds == ROUNDS
    assert 0.93 < faster.ratio < 0.97
    same = compare_records(tie, base)
    assert same.paired and same.verdict == "tie" and same.low <= 1 <= same.high
    assert compare_records(base, win).verdict == "slower"
    # the same blocks as two runs: the 25% swings between rounds swamp the 5% win
    assert compare_records(win, base, paired=False).verdict == "tie"
    assert "indistinguishable at this precision" in describe(same, "jax", "numpy")
    assert describe(faster, "onnxruntime", "numpy").startswith("onnxruntime is 1.05x faster than numpy")


def test_two_runs_are_compared_unpaired_and_one_round_cannot_tell() -> None:
    first = _record("numpy", _noise(1, 0.02), group="run-1")
    slower = _record("numpy", 1.3 * _noise(2, 0.02), group="run-2")
    result = compare_records(slower, first)
    assert not result.paired and result.verdict == "slower" and result.low > 1
    one = _record("numpy", [1.3], group="run-2")
    lone = compare_records(one, first)
    assert lone.verdict == "cannot tell" and np.isnan(lone.low) and "fewer than 2 rounds" in lone.reason


def test_a_record_without_rounds_is_never_given_a_verdict() -> None:
    rounds = _record("numpy", 2.0 * _noise(1), group="run-1")
    fixed = _record("onnxruntime", None)  # a fixed-time (or older, or LoadGen) record: one round
    for a, b in ((fixed, rounds), (rounds, fixed), (fixed, fixed)):
        result = compare_records(a, b)
        assert result.verdict == "cannot tell" and "without interleaved rounds" in result.reason
    assert compare_records(fixed, rounds).ratio == pytest.approx(0.5, rel=0.05)  # the ratio, but no verdict
    assert describe(compare_records(fixed, rounds), "onnxruntime", "numpy").startswith("cannot tell whether")
    # "cannot tell" ties: the fixed-time record is no winner, however much lower its median
    assert tie_groups([rounds, fixed]) == [[1, 0]]


def test_ties_are_grouped_from_the_fastest_by_the_rule() -> None:
    state = _machine(5)
    c, a, b = (_record(n, f * state * _noise(s)) for n, f, s in (("c", 2.0, 1), ("a", 1.0, 2), ("b", 1.003, 3)))
    groups = tie_groups([c, a, b])
    assert sorted(groups[0]) == [1, 2] and groups[1:] == [[0]]
    fixed = _record("d", None)
    fixed["latency_ms"]["p50"] = 0.1  # the lowest median, measured without rounds: "cannot tell" ties them all
    assert [sorted(group) for group in tie_groups([c, a, b, fixed])] == [[0, 1, 2, 3]]


def test_round_data_from_a_file_is_checked() -> None:
    good = _record("numpy", _noise(1))
    assert rounds_problem(good) is None and rounds_problem(_record("numpy", None)) is None
    moved = {**good, "latency_ms": {"p50": 2.0}}
    assert "disagree with its own p50" in rounds_problem(moved)
    twice = {**good, "rounds": {**good["rounds"], "round": [0] * ROUNDS}}
    assert rounds_problem(twice) == "rounds.round names a round twice; allowed: one block per round"
    assert compare_records(twice, good).verdict == "cannot tell"


def _write(path: Path, cases: dict[tuple[str, int], float], seed: int, env: dict | None = None,
           rounds: int = ROUNDS) -> None:
    """One run's records, measured in its own rounds; a case whose median is 0.5 ms gets the same blocks in
    every file (an exact tie), the others blocks drawn from ``seed``."""
    for (backend, batch), median in cases.items():
        rng = np.random.default_rng(0 if median == 0.5 else (seed, batch, len(backend)))
        case = {"backend": backend, "model": "fnn", "batch_size": batch, "threads": None, "variant": "default",
                "protocol": "engine", "case_key": f"{backend}-{batch}"}
        blocks = (median * rng.lognormal(0.0, 0.03, rounds)).tolist()
        append_record(path, make_record(case, latency_ms={"p50": float(np.median(blocks))},
                                        rounds={**round_data(0, blocks=blocks), "group": f"run-{seed}"},
                                        env=env or RECORD_ENV, env_key="k"))


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_compare_runs_matches_cases_and_keeps_machines_apart(tmp_path: Path) -> None:
    _write(tmp_path / "a.jsonl", {("numpy", 1): 1.0, ("onnxruntime", 1): 0.5, ("jax", 1): 0.7}, seed=1)
    _write(tmp_path / "b.jsonl", {("numpy", 1): 1.3, ("onnxruntime", 1): 0.5, ("pytorch", 1): 0.9}, seed=2)
    read = [_read(tmp_path / f"{n}.jsonl") for n in "ab"]
    result = compare_runs(*read)
    verdicts = {row["case"].split("/")[0]: row["verdict"] for row in result.rows}
    assert verdicts == {"numpy": "slower", "onnxruntime": "tie"}
    assert not any(row["paired"] for row in result.rows)  # two runs share no rounds
    assert [r["backend"] for r in result.only_base] == ["jax"]
    assert [r["backend"] for r in result.only_new] == ["pytorch"]
    assert [r["case"].split("/")[0] for r in result.regressions(0.05)] == ["numpy"]

    _write(tmp_path / "c.jsonl", {("numpy", 1): 1.0}, seed=3, env={**RECORD_ENV, "cpu_model": "other cpu"})
    other = _read(tmp_path / "c.jsonl")
    apart = compare_runs(read[0], other)
    assert apart.rows == [] and apart.other_machine[0]["differs"]["cpu_model"] == ("test cpu", "other cpu")
    across = compare_runs(read[0], other, across_machines=True)
    assert "cpu_model: test cpu -> other cpu" in across.rows[0]["fingerprint_differs"]


def test_compare_runs_with_one_round_on_a_side_cannot_tell(tmp_path: Path) -> None:
    _write(tmp_path / "a.jsonl", {("numpy", 1): 1.0}, seed=1)
    _write(tmp_path / "b.jsonl", {("numpy", 1): 2.0}, seed=2, rounds=1)
    result = compare_runs(_read(tmp_path / "a.jsonl"), _read(tmp_path / "b.jsonl"))
    assert [row["verdict"] for row in result.rows] == ["cannot tell"] and result.regressions(0.0) == []
    assert result.rows[0]["ratio"] > 1.5  # twice the median, and still no verdict


def test_compare_command_flags_regressions_and_refuses_nothing_in_common(tmp_path: Path) -> None:
    base, new = tmp_path / "base", tmp_path / "new"
    _write(base / "r.jsonl", {("numpy", 1): 1.0, ("onnxruntime", 1000): 0.5}, seed=1)
    _write(new / "r.jsonl", {("numpy", 1): 1.2, ("onnxruntime", 1000): 0.5}, seed=2)
    done = run_cli("compare", str(base), str(new), "--markdown", str(tmp_path / "pr.md"))
    assert done.returncode == 0, done.stderr
    assert "| REGRESSION |" in done.stdout and "1 significant regression(s) of at least 5%" in done.stdout
    assert "1 slower, 1 tie(s), 0 cannot tell" in done.stdout
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


def test_compare_command_says_it_cannot_tell_with_one_round(tmp_path: Path) -> None:
    _write(tmp_path / "base.jsonl", {("numpy", 1): 1.0}, seed=1, rounds=1)
    _write(tmp_path / "new.jsonl", {("numpy", 1): 3.0}, seed=2)
    done = run_cli("compare", str(tmp_path / "base.jsonl"), str(tmp_path / "new.jsonl"), "--fail-on-regression")
    assert done.returncode == 0, done.stderr  # no verdict, so no regression
    assert "| none | cannot tell |  |" in done.stdout and "REGRESSION" not in done.stdout
    assert "cannot tell: numpy/default fnn b=1 t=default: fewer than 2 rounds" in done.stdout


def test_comparison_table_ranks_and_shows_the_interval_over_rounds() -> None:
    from benchlib.report.display import LABELS, people_frame
    from benchlib.report.tables import comparison_table

    state = _machine(7)
    blocks = {"numpy": 1.0 * state * _noise(1), "jax": 0.50 * state * _noise(2), "pytorch": 0.502 * state * _noise(3),
              "onnxruntime": 0.70 * state * _noise(4)}
    records = [_record(b, v, case_key=b, outputs_valid=True) for b, v in blocks.items()]
    records.append(make_record({"backend": "tensorflow", "model": "fnn", "batch_size": 1, "case_key": "tensorflow"},
                               status="failed", error="boom", env=RECORD_ENV))
    # a record whose call-level interval is narrow but whose rounds are not: its ± is the rounds' one
    for record in records:
        record["within_process"] = {"halfwidth": 0.0001}
        record["stopping"] = {"halfwidth": 0.0001}
    table = comparison_table(pd.DataFrame([flatten(r) for r in records]))
    ranks = dict(zip(table["backend"], table["rank"], strict=True))
    # paired over one run's rounds: jax and pytorch tie; each of the others is slower than its rank's leader
    assert ranks == {"jax": "1=", "pytorch": "1=", "onnxruntime": "3", "numpy": "4", "tensorflow": ""}
    widths = dict(zip(table["backend"], table["p50_halfwidth"], strict=True))
    for record in records[:4]:
        assert widths[record["backend"]] == pytest.approx(record["rounds"]["interval"]["halfwidth"])
        assert widths[record["backend"]] > 0.01  # the machine's levels are in it, unlike the 0.01% within
    assert np.isnan(widths["tensorflow"])
    assert LABELS["p50_halfwidth"] in people_frame(table).columns


def test_comparison_table_ties_rows_measured_without_rounds() -> None:
    from benchlib.report.tables import comparison_table

    state = _machine(7)
    records = [_record("jax", 0.5 * state * _noise(1), case_key="jax", outputs_valid=True),
               _record("numpy", 1.0 * state * _noise(2), case_key="numpy", outputs_valid=True),
               _record("onnxruntime", None, case_key="onnxruntime", outputs_valid=True)]  # p50 1.0, one round
    records[2]["latency_ms"]["p50"] = 0.3  # the lowest median, yet no verdict: it leads a tie
    table = comparison_table(pd.DataFrame([flatten(r) for r in records])).set_index("backend")
    assert list(table["rank"]) == ["1=", "1=", "1="]
    assert "no rounds: cannot tell, so tied" in table.loc["onnxruntime", "note"]
    assert np.isnan(table.loc["onnxruntime", "p50_halfwidth"])
