"""Results store: appends, tolerant reads with reported problems, concurrent writers."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pandas as pd

from benchlib.engine.case import RunCase
from benchlib.results import SCHEMA_VERSION, append_record, failed_record, load, make_record, read_records, to_csv


def _record(batch: int = 1, **fields: object) -> dict:
    return make_record(RunCase("numpy", batch_size=batch), latency_ms={"p50": 1.5}, samples_ms=[1.0, 2.0],
                       env={"cpu_model": "test cpu", "usable_cores": 2}, **fields)


def test_append_and_load(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "r.jsonl"
    append_record(path, _record(1))
    append_record(path, failed_record(RunCase("pytorch"), "skipped", "not installed"))
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(line)["schema_version"] == SCHEMA_VERSION for line in lines)
    df = load(path)
    assert len(df) == 2
    assert df.loc[0, "latency_ms.p50"] == 1.5 and pd.isna(df.loc[1, "latency_ms.p50"])
    assert df.loc[0, "env.cpu_model"] == "test cpu"
    assert "samples_ms" not in df.columns and "env" not in df.columns
    assert df.loc[1, "status"] == "skipped" and df.loc[1, "error"] == "not installed"
    assert len(load(tmp_path / "sub")) == 2  # a folder loads every *.jsonl inside
    assert len(load([path, path])) == 4
    assert to_csv(df, tmp_path / "r.csv").read_text().startswith("schema_version")


def test_nan_is_stored_as_null(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    append_record(path, _record(max_abs_err=float("inf")))
    assert json.loads(path.read_text())["max_abs_err"] is None


def test_broken_lines_are_skipped_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    append_record(path, _record(1))
    with open(path, "a") as handle:
        handle.write("this is not json\n")
        handle.write(json.dumps({**_record(2), "schema_version": SCHEMA_VERSION + 1}) + "\n")
        handle.write("[1, 2]\n")
    append_record(path, _record(3))
    whole = json.dumps(_record(4))
    with open(path, "a") as handle:  # a writer killed mid-line
        handle.write(whole[: len(whole) // 2])
    records, problems = read_records(path)
    assert [r["batch_size"] for r in records] == [1, 3]
    assert len(problems) == 4
    assert f"{path}:2: skipped not JSON" in problems[0]
    assert f"{path}:3:" in problems[1] and "schema_version" in problems[1]
    assert f"{path}:4:" in problems[2]
    assert f"{path}:6: skipped truncated line" in problems[3]

    # The next append starts on a fresh line, so the cut line stays alone and the new one loads.
    append_record(path, _record(5))
    records, problems = read_records(path)
    assert [r["batch_size"] for r in records] == [1, 3, 5]
    assert len(problems) == 4
    assert load(path).attrs["problems"] == problems


def test_missing_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    records, problems = read_records(tmp_path / "nope.jsonl")
    assert records == [] and "cannot read" in problems[0]


def _writer(path: str, worker: int, count: int) -> None:
    padding = "x" * 20_000  # long lines make interleaving likely if writes were not atomic
    for i in range(count):
        append_record(path, _record(worker * 1000 + i + 1, padding=padding))


def test_concurrent_writers_produce_only_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_writer, args=(str(path), w, 25)) for w in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(600)  # bounds a hang only: returns as soon as the writer ends
        assert proc.exitcode == 0
    records, problems = read_records(path)
    assert problems == []
    assert len(records) == 100
    assert len({r["batch_size"] for r in records}) == 100


def test_load_keeps_only_the_asked_columns_and_the_newest_record_per_case(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    for created, p50 in (("2026-01-01T00:00:00Z", 1.0), ("2026-01-03T00:00:00Z", 3.0), ("2026-01-02T00:00:00Z", 2.0)):
        append_record(path, {**_record(1), "created": created, "latency_ms": {"p50": p50}})
    append_record(path, _record(2))
    df = load(path, columns=["latency_ms.p50"], newest_only=True)
    assert len(df) == 2 and df.loc[0, "latency_ms.p50"] == 3.0
    assert "samples_ms" not in df.columns and "env.python" not in df.columns and "case_key" in df.columns


def test_records_from_different_machines_are_different_cases(tmp_path: Path) -> None:
    from benchlib.results.records import latest, machine_of

    here = {**_record(1), "env": {"cpu_model": "AMD EPYC", "logical_cores": 2, "memory_total_mb": 24105.1}}
    there = {**here, "env": {"cpu_model": "Intel Xeon", "logical_cores": 8, "memory_total_mb": 65536.0},
             "created": "2099-01-01T00:00:00Z"}
    amd, intel = machine_of(here), machine_of(there)
    assert amd.startswith("AMD EPYC, 2 CPUs [") and intel.startswith("Intel Xeon, 8 CPUs [")
    assert machine_of({**here, "env": {**here["env"], "memory_total_mb": 1.0}}) == amd  # not a machine field
    assert machine_of({**here, "env": {**here["env"], "isa_flags": ["avx512f"]}}) != amd
    assert len(latest([here, there])) == 2
    path = tmp_path / "r.jsonl"
    for record in (here, there):
        append_record(path, record)
    df = load(path)
    assert sorted(df["machine"]) == [amd, intel]
    from benchlib.report.tables import comparison_table

    table = comparison_table(df)
    assert list(table["machine"]) == [amd, intel]
    assert list(table["vs_fastest"]) == [1.0, 1.0]  # each machine ranked on its own
    assert "machine" not in comparison_table(load(path).iloc[:1]).columns  # one machine: no column


def test_export_csv_streams_every_run_and_replaces_only_whole(tmp_path: Path) -> None:
    from benchlib.results.store import export_csv

    path = tmp_path / "r.jsonl"
    append_record(path, _record(1))
    append_record(path, failed_record(RunCase("pytorch"), "skipped", "not installed"))
    dest, rows = export_csv(path, tmp_path / "out" / "r.csv")
    assert rows == 2
    frame = pd.read_csv(dest)
    assert list(frame["status"]) == ["ok", "skipped"] and frame.columns[0] == "schema_version"
    assert not list((tmp_path / "out").glob(".*.tmp"))
