"""Every study's shape (benchlib.studies.plan): a fixed results file, resume decided once from its records."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchlib.engine.case import RunCase
from benchlib.results.records import SETTLED
from benchlib.results.resume import done_keys, done_keys_by
from benchlib.studies.plan import plan_study, results_file, run_study

A = RunCase(backend="numpy", batch_size=1, threads=1)
B = RunCase(backend="numpy", batch_size=8, threads=1)


def test_results_file_is_fixed_per_study_and_quickness(tmp_path: Path) -> None:
    assert results_file("sweep", False, tmp_path) == tmp_path / "sweep.jsonl"
    assert results_file("scenarios", True, tmp_path) == tmp_path / "scenarios-quick.jsonl"


def test_plan_keeps_only_unsettled_cases_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    plan = plan_study("sweep", [A, B], tmp_path / "s.jsonl", done={A.case_key}, progress=True)
    assert plan.todo == (B,) and (plan.planned, plan.resumed) == (2, 1)
    assert "sweep: resuming, 1 of 2 case(s) already in" in capsys.readouterr().err
    assert plan_study("sweep", [A, B], tmp_path / "missing.jsonl").todo == (A, B)  # no file: nothing settled


def test_fresh_plans_every_case_again(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """``--fresh`` of run, sweep, scenarios and fleet: the one exception to the resume rule."""
    plan = plan_study("run", [A, B], tmp_path / "r.jsonl", done={A.case_key, B.case_key}, progress=True, fresh=True)
    assert plan.todo == (A, B) and plan.resumed == 0 and "resuming" not in capsys.readouterr().err


def test_run_study_runs_exactly_the_planned_todo_and_decides_nothing_again(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}

    def fake_run_cases(cases, **options):
        seen.update(cases=list(cases), **options)
        return []

    monkeypatch.setattr("benchlib.engine.launcher.run_cases", fake_run_cases)
    plan = plan_study("scenarios", [A, B], tmp_path / "r.jsonl", resume_hint="again", done={B.case_key})
    assert run_study(plan, progress=False) == []
    assert seen["cases"] == [A] and seen["results_path"] == plan.results_path and seen["resume_hint"] == "again"
    assert not seen.get("skip_done")  # the plan decided: the launcher skips nothing on its own


def test_done_keys_by_place_agrees_with_done_keys() -> None:
    records = [{"case_key": "a", "status": "ok", "env_key": "E"},
               {"case_key": "b", "status": "skipped", "env_key": "F"},
               {"case_key": "c", "status": "failed", "env_key": "E"}]
    by_env = done_keys_by(records, lambda r: r.get("env_key"), SETTLED)
    assert by_env == {"E": {"a"}, "F": {"b"}}
    assert done_keys(records, "E", SETTLED) == by_env["E"] and done_keys(records, "G") == set()
