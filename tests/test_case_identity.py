"""One case identity (benchlib.results.records.case_identity) for resume, the newest-record rule, compare,
the summary tables, the precision pairs and the fleet views: scenario and precision are part of it."""

from __future__ import annotations

import pandas as pd

from benchlib.results.records import case_identities, case_identity, case_key, latest, latest_rows
from benchlib.results.resume import done_keys
from benchlib.results.schema import CASE_FIELDS

BASE = {"model": "fnn", "backend": "numpy", "variant": None, "precision": "fp32", "batch_size": 8, "threads": 1,
        "protocol": "engine", "scenario": "single"}


def test_scenario_and_precision_are_case_fields() -> None:
    assert {"scenario", "precision"} <= set(CASE_FIELDS)
    assert case_identity({**BASE, "scenario": "Server"}) != case_identity(BASE)
    assert case_identity({**BASE, "precision": "int8-dynamic"}) != case_identity(BASE)


def test_a_field_a_record_predates_means_its_old_meaning() -> None:
    old = {k: v for k, v in BASE.items() if k not in ("precision", "scenario")}
    assert case_identity(old) == case_identity(BASE)
    # records from before the rename kept how the timed loop stopped under "precision": float32 all the same
    assert case_identity({**BASE, "precision": {"target_ci": 0.01}}) == case_identity(BASE)


def test_frames_and_records_name_the_same_cases_apart() -> None:
    records = [BASE, {**BASE, "scenario": "Offline"}, {**BASE, "created": "later"}]
    keys = case_identities(pd.DataFrame(records))
    assert keys.iloc[0] == keys.iloc[2] != keys.iloc[1]


def test_records_without_case_key_differing_in_scenario_stay_two_cases() -> None:
    records = [{**BASE, "n": 1}, {**BASE, "scenario": "Server", "n": 2}, {**BASE, "n": 3}]
    assert [r["n"] for r in latest(records)] == [3, 2]
    assert sorted(latest_rows(pd.DataFrame(records))["n"]) == [2, 3]


def test_resume_matches_a_records_stored_case_key() -> None:
    record = {**BASE, "case_key": "abc", "status": "ok", "env_key": "E"}
    assert case_key(record) == "abc"
    assert done_keys([record], "E") == {"abc"}
    assert case_key({**BASE}) == case_identity(BASE)
