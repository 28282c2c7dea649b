"""One child-process runner, one case grid, one place for record rules, and imports that follow the layers."""

from __future__ import annotations

import ast
import json
import os
import time
from pathlib import Path

import pytest

from benchlib.engine.case import RunCase
from benchlib.engine.grid import ALL_VARIANTS, case_grid
from benchlib.engine.params import CORES, check_threads
from benchlib.results.records import SETTLED, latest, latest_rows
from benchlib.results.resume import done_keys
from benchlib.system.child import run_in_child
from benchlib.system.env import usable_cores

PACKAGE = Path(__file__).resolve().parents[1] / "benchlib"


# -- child functions (run in a fresh process by run_in_child) -------------------------------------------

def echo_pid(payload: dict) -> dict:
    return {"payload": payload, "pid": os.getpid(), "parent": os.getppid()}


def raise_error(payload: dict) -> None:
    raise ValueError(f"bad payload {payload['x']}")


def sleep_forever(payload: dict) -> None:
    time.sleep(600)


def not_json(payload: dict) -> object:
    return {1, 2, 3}


# -- the runner -----------------------------------------------------------------------------------------

def test_child_runs_a_function_in_a_fresh_process_with_json_in_and_out() -> None:
    result = run_in_child("tests.test_consolidation:echo_pid", {"x": [1, 2.5, "a"]}, timeout_s=60)
    assert result.ok, result.error
    assert result.value["payload"] == {"x": [1, 2.5, "a"]}
    assert result.value["pid"] == result.pid != os.getpid()
    assert result.value["parent"] == os.getpid()


def test_child_failure_timeout_and_bad_result_are_reported_not_raised() -> None:
    crashed = run_in_child("tests.test_consolidation:raise_error", {"x": 7}, timeout_s=60)
    assert not crashed.ok and "no result written; exit status 1" in crashed.error
    assert "ValueError: bad payload 7" in crashed.stderr_tail

    hung = run_in_child("tests.test_consolidation:sleep_forever", {}, timeout_s=1.5)
    assert not hung.ok and hung.error == "timed out after 1.5 s"
    with pytest.raises(ProcessLookupError):
        os.kill(hung.pid, 0)  # the whole tree was killed and reaped

    unserialisable = run_in_child("tests.test_consolidation:not_json", {}, timeout_s=60)
    assert not unserialisable.ok and "TypeError" in unserialisable.stderr_tail


def test_child_refuses_a_target_without_function() -> None:
    with pytest.raises(ValueError, match="target='tests.test_consolidation' is invalid"):
        run_in_child("tests.test_consolidation", {})


def test_nothing_but_the_child_runner_starts_python_processes() -> None:
    """The launcher, rounds, ablation, article protocol and roofline all go through system/child.py."""
    # suite.py runs the `verify` command as a user would (its output goes to the suite's log); env.py
    # only records which interpreter ran. Neither is a second way of running measurement code.
    allowed = {"notebook/suite.py": ("sys.executable",), "system/env.py": ("sys.executable",)}
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        where = str(path.relative_to(PACKAGE))
        if where == "system/child.py":
            continue
        text = path.read_text()
        for needle in ("multiprocessing", "ProcessPoolExecutor", "sys.executable"):
            if needle in text and needle not in allowed.get(where, ()):
                offenders.append(f"{where}: {needle}")
    assert offenders == []


# -- the grid ---------------------------------------------------------------------------------------------

def test_grid_expands_every_dimension_once_in_a_stable_order() -> None:
    cases = case_grid(["numpy", "numpy"], [1, 8, 1], models=["fnn"], threads=[1, 2, 1], min_time_s=0.5)
    assert [(c.backend, c.threads, c.batch_size) for c in cases] == [
        ("numpy", 1, 1), ("numpy", 1, 8), ("numpy", 2, 1), ("numpy", 2, 8)]
    assert all(isinstance(c, RunCase) and c.min_time_s == 0.5 for c in cases)


def test_grid_threads_have_one_meaning() -> None:
    cores = int(usable_cores()["usable"])
    assert check_threads(None) is None and check_threads("default") is None
    assert check_threads(CORES) == cores and check_threads(" Cores ") == cores
    assert check_threads(3) == 3 and check_threads("3") == 3
    for bad in (0, -1, 2.5, "many", True):
        with pytest.raises(ValueError, match=r"threads=.* is invalid; allowed: an integer from 1 to 1024, 'cores'"):
            check_threads(bad)
    assert [c.threads for c in case_grid(["numpy"], [1], threads=[CORES, cores])] == [cores]


def test_grid_variants_default_all_named_and_missing() -> None:
    from benchlib.backends.registry import backend_variants

    assert [c.variant for c in case_grid(["onnxruntime"], [1])] == [None]
    every = [c.variant for c in case_grid(["onnxruntime"], [1], variants=ALL_VARIANTS)]
    assert every == list(backend_variants("onnxruntime"))
    named = case_grid(["onnxruntime", "numpy"], [1], variants=[every[-1]])
    assert [(c.backend, c.variant) for c in named] == [("onnxruntime", every[-1]), ("numpy", None)]
    omitted = case_grid(["onnxruntime", "numpy"], [1], variants=[every[-1]], omit_missing_variants=True)
    assert [(c.backend, c.variant) for c in omitted] == [("onnxruntime", every[-1])]


# -- record rules -----------------------------------------------------------------------------------------

def _rec(key: str, status: str, created: str, env_key: str = "E", **more: object) -> dict:
    return {"case_key": key, "status": status, "created": created, "env_key": env_key, **more}


def test_done_keys_counts_statuses_of_this_environment_only(tmp_path: Path) -> None:
    records = [_rec("a", "ok", "1"), _rec("b", "skipped", "1"), _rec("c", "failed", "1"),
               _rec("d", "ok", "1", env_key="other")]
    assert done_keys(records, "E") == {"a"}
    assert done_keys(records, "E", SETTLED) == {"a", "b"}
    assert done_keys(tmp_path / "missing.jsonl", "E") == set()
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps({"schema_version": 1, **r}) + "\n" for r in records))
    assert done_keys(path, "E", SETTLED) == {"a", "b"}


def test_latest_keeps_the_newest_record_per_case_in_first_seen_order() -> None:
    records = [_rec("a", "failed", "2026-01-02", n=1), _rec("b", "ok", "2026-01-01", n=2),
               _rec("a", "ok", "2026-01-03", n=3), _rec("a", "ok", "2026-01-01", n=4)]
    assert [r["n"] for r in latest(records)] == [3, 2]
    foreign = [{"backend": "x", "batch_size": 1, "n": 1}, {"backend": "x", "batch_size": 1, "n": 2}]
    assert [r["n"] for r in latest(foreign)] == [2]


def test_latest_rows_agrees_with_latest() -> None:
    import pandas as pd

    records = [_rec("a", "failed", "2026-01-02", n=1), _rec("b", "ok", "2026-01-01", n=2),
               _rec("a", "ok", "2026-01-03", n=3)]
    frame = latest_rows(pd.DataFrame(records))
    assert sorted(frame["n"]) == sorted(r["n"] for r in latest(records))


# -- layers -----------------------------------------------------------------------------------------------

def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_imports_do_not_run_back_up_the_layers() -> None:
    """Machine facts (env) know nothing of the engine; the engine knows nothing of the CLI, reports or
    protocols; results know nothing of the engine's runner."""
    # (tests/test_layers.py holds the whole package to its layers; these are the oldest rules, kept by name)
    rules = {
        "system/env.py": ("benchlib.engine", "benchlib.cli", "benchlib.report", "benchlib.studies"),
        "engine": ("benchlib.cli", "benchlib.report", "benchlib.studies", "benchlib.notebook"),
        "results": ("benchlib.engine.launcher", "benchlib.engine.worker", "benchlib.cli", "benchlib.report"),
        "studies/article": ("benchlib.cli",),
    }
    broken = []
    for where, forbidden in rules.items():
        assert (PACKAGE / where).exists(), f"{where} moved: update the rule"
        paths = [PACKAGE / where] if where.endswith(".py") else list((PACKAGE / where).rglob("*.py"))
        for path in paths:
            for module in _imports(path):
                if module.startswith(forbidden):
                    broken.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert broken == []
