"""Reliability (issue 7): every fault is injected for real (child processes, signals, files) and
every completed result survives it. docs/reliability.md lists what each test shows."""

from __future__ import annotations

import gc
import json
import os
import pickle
import re
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from benchlib.engine import RunCase, run_cases
from benchlib.engine.worker import TEST_FAULTS_ENV
from benchlib.results import append_record, load, make_record, read_records
from benchlib.results.schema import SCHEMA_VERSION
from tests.conftest import (
    QUICK,
    ROOT,
    child_env,
    fault_case,
    first_code_cell_failure,
    line_count,
    process_gone,
    run_cli,
    wait_for,
)

# -- missing framework ---------------------------------------------------------------------------

def test_missing_framework_run_and_report_say_not_installed(tmp_path: Path) -> None:
    out = tmp_path / "results" / "run.jsonl"
    run = run_cli("run", "--backends", "numpy", "onnxruntime", "--batch-sizes", "1", "7", "--out", str(tmp_path),
                  *QUICK, BENCHLIB_BLOCK_IMPORTS="onnxruntime")
    assert run.returncode == 0, run.stderr
    records, problems = read_records(out)
    assert problems == []
    by = {(r["backend"], r["batch_size"]): r for r in records}
    assert {by["numpy", b]["status"] for b in (1, 7)} == {"ok"}
    assert all(by["numpy", b]["latency_ms"]["p50"] > 0 for b in (1, 7))
    for batch in (1, 7):
        assert by["onnxruntime", batch]["status"] == "skipped"
        assert by["onnxruntime", batch]["error"] == "not installed: pip install onnxruntime onnx"
    assert re.search(r"\| onnxruntime .*\| skipped .*not installed: pip install onnxruntime onnx", run.stdout)

    report = run_cli("report", str(out))  # read without the blocker: what was stored is what is shown
    assert report.returncode == 0, report.stderr
    assert re.search(r"\| onnxruntime .*\| skipped .*not installed: pip install onnxruntime onnx", report.stdout)
    assert len(re.findall(r"\| numpy .*\| ok ", report.stdout)) == 2

    from benchlib.report.insights import insights

    sentences = insights(load(out), expected_backends=["numpy", "onnxruntime", "jax"])
    assert any(s.startswith("onnxruntime skipped: not installed: pip install onnxruntime onnx") for s in sentences)
    assert "jax has no results here (not available or not run)." in sentences


def test_missing_framework_verify_skips_it() -> None:
    verify = run_cli("verify", "--backends", "numpy", "jax", "--json", BENCHLIB_BLOCK_IMPORTS="tensorflow,jax")
    assert verify.returncode == 0, verify.stderr
    rows = {row["backend"]: row for row in json.loads(verify.stdout)}
    assert rows["numpy"]["status"] == "pass"
    assert rows["jax"]["status"] == "skipped" and rows["jax"]["reason"] == "not installed: pip install jax jaxlib"


def test_missing_framework_article_skips_it(tmp_path: Path) -> None:
    article = run_cli("article", "--num-runs", "2", "--backends", "tensorflow", "onnxruntime", "--min-time-s", "0.05",
                   "--out", str(tmp_path), "--no-progress", BENCHLIB_BLOCK_IMPORTS="tensorflow,jax")
    assert article.returncode == 0, article.stderr
    assert "tensorflow-cpu" in article.stdout  # the status tables name the requirement
    protocol, problems = read_records(tmp_path / "results" / "article-protocol.jsonl")
    assert problems == []
    status = {r["backend"]: r for r in protocol}
    assert status["tensorflow"]["status"] == "skipped" and "pip install tensorflow-cpu" in status["tensorflow"]["error"]
    assert status["onnxruntime"]["status"] == "ok"
    corrected, _ = read_records(tmp_path / "results" / "article-corrected.jsonl")
    skipped = [r for r in corrected if r["backend"] == "tensorflow"]
    assert skipped and all(r["status"] == "skipped" and "tensorflow-cpu" in r["error"] for r in skipped)
    assert {r["status"] for r in corrected if r["backend"] == "onnxruntime"} == {"ok"}


# -- crashing and hanging runs -------------------------------------------------------------------

def test_sigkilled_run_is_failed_and_earlier_records_are_intact(tmp_path: Path, faults: None) -> None:
    results = tmp_path / "r.jsonl"
    run_cases([fault_case(1)], results_path=results, progress=False)
    before = results.read_bytes()
    records = run_cases([fault_case(2, "kill"), fault_case(3, "raise"), fault_case(4, "abort"), fault_case(5)],
                        results_path=results, progress=False)
    assert [r["status"] for r in records] == ["failed", "failed", "failed", "ok"]
    assert records[0]["error"] == "killed by SIGKILL (out of memory?)" and records[0]["returncode"] == -9
    assert records[1]["error"] == "RuntimeError: injected test fault"
    assert records[2]["error"] == "crashed with SIGABRT"
    assert results.read_bytes().startswith(before)  # nothing written before is touched
    stored, problems = read_records(results)
    assert problems == [] and [r["batch_size"] for r in stored] == [1, 2, 3, 4, 5]


#: Timeouts tried in turn until the hanging worker has started its grandchildren before its timeout (its
#: start-up, about 1 s, can outlast a short timeout on a busy machine; the first one is enough on an idle one).
HANG_TIMEOUTS_S = (3.0, 12.0, 48.0, 192.0)


def test_hang_is_stopped_at_the_timeout_with_its_grandchildren(tmp_path: Path, faults: None) -> None:
    for timeout in HANG_TIMEOUTS_S:
        records = run_cases([fault_case(1, "hang_with_child", timeout_s=timeout), fault_case(2)],
                            results_path=tmp_path / "r.jsonl", progress=False)
        hung = records[0]
        assert hung["status"] == "failed" and hung["error"] == f"timed out after {timeout:g} s"
        started = re.search(r"grandchild pids: (\d+) (\d+)", hung["stderr_tail"])
        if started:  # the timeout struck the hang itself, not the worker's start-up
            break
    assert started, f"the worker never reached its hang within {timeout:g} s: {hung['stderr_tail']}"
    pids = [int(p) for p in started.groups()]
    # one grandchild shares the worker's process group, the other escaped into its own session
    assert wait_for(lambda: all(process_gone(pid) for pid in pids))
    assert process_gone(hung["pid"])
    assert records[1]["status"] == "ok"


# -- interrupted suite ---------------------------------------------------------------------------

def _start_run(out: Path, batches: tuple[int, ...], min_time: str) -> subprocess.Popen:
    """``run`` with ``--out OUT``, where ``out`` is OUT/results/run.jsonl (the records file it writes); fixed time:
    one process per case, each record saved as its case ends (interrupted rounds: tests/test_rounds_run.py)."""
    return subprocess.Popen(
        [sys.executable, "-m", "benchlib", "run", "--backends", "numpy", "--batch-sizes", *map(str, batches),
         "--min-time-s", min_time, "--warmup-time-s", "0", "--target-ci", "0", "--no-progress", "--out",
         str(out.parents[1])],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(), cwd=ROOT)


def test_sigkill_mid_run_keeps_every_completed_record_and_leaves_no_orphan(tmp_path: Path) -> None:
    out = tmp_path / "results" / "run.jsonl"
    proc = _start_run(out, (1, 2, 3, 4, 5, 6), "0.5")
    try:
        assert wait_for(lambda: line_count(out) >= 2 or proc.poll() is not None)
        worker = wait_for(lambda: psutil.Process(proc.pid).children() or proc.poll() is not None)
        workers = [c.pid for c in psutil.Process(proc.pid).children()] if worker and proc.poll() is None else []
        proc.kill()
    finally:
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    records, problems = read_records(out)
    assert problems == [] and len(records) >= 2
    assert all(r["status"] == "ok" for r in records)
    assert [r["batch_size"] for r in records] == list(range(1, len(records) + 1))
    assert len(records) < 6, "the run finished before it could be killed"
    # the running worker dies with its launcher (PR_SET_PDEATHSIG) instead of running on as an orphan
    assert wait_for(lambda: all(process_gone(pid) for pid in workers))


_LAUNCHER = """
import sys
from benchlib.engine import RunCase, run_cases
cases = [RunCase("numpy", min_time_s=0.05, warmup_time_s=0.0),
         RunCase("numpy", batch_size=2, min_time_s=0.05, extra=(("test_fault", "hang"),))]
run_cases(cases, results_path=sys.argv[1], progress=False)
"""


def test_worker_dies_with_a_sigkilled_launcher(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    proc = subprocess.Popen([sys.executable, "-c", _LAUNCHER, str(out)], env=child_env(**{TEST_FAULTS_ENV: "1"}),
                            cwd=ROOT)
    try:
        assert wait_for(lambda: line_count(out) >= 1 or proc.poll() is not None)
        workers: list[int] = []
        assert wait_for(lambda: bool(workers.extend(c.pid for c in psutil.Process(proc.pid).children()) or workers)
                         or proc.poll() is not None)
        assert workers, "the hanging case never started"
        proc.kill()
    finally:
        proc.wait()
    # without PR_SET_PDEATHSIG the hanging worker would run on forever as an orphan
    assert wait_for(lambda: all(process_gone(pid) for pid in workers))
    records, problems = read_records(out)
    assert problems == [] and [r["status"] for r in records] == ["ok"]


def test_ctrl_c_stops_the_current_case_says_how_to_resume_and_resume_skips_done(tmp_path: Path) -> None:
    out = tmp_path / "results" / "run.jsonl"
    # eight cases: on a loaded machine the run must still be going when the signal is sent
    batches = tuple(range(1, 9))
    proc = _start_run(out, batches, "0.5")
    try:
        assert wait_for(lambda: line_count(out) >= 1 or proc.poll() is not None)
        workers: list[int] = []
        assert wait_for(lambda: bool(workers.extend(c.pid for c in psutil.Process(proc.pid).children()) or workers)
                         or proc.poll() is not None)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "run resumes by itself: run the same command again" in stderr
    assert wait_for(lambda: all(process_gone(pid) for pid in workers))
    records, problems = read_records(out)
    assert problems == [] and 1 <= len(records) < len(batches)
    assert all(r["status"] == "ok" for r in records)  # the interrupted case left nothing behind
    done = [r["batch_size"] for r in records]

    # the same command again (min-time is part of what a case measures, so it stays the same)
    again = run_cli("run", "--backends", "numpy", "--batch-sizes", *map(str, batches), "--min-time-s", "0.5",
                 "--warmup-time-s", "0", "--target-ci", "0", "--no-progress", "--out", str(tmp_path))
    assert again.returncode == 0, again.stderr
    assert f"run: resuming, {len(done)} of {len(batches)} case(s) already in {out}" in again.stderr
    final, problems = read_records(out)
    assert problems == [] and sorted(r["batch_size"] for r in final) == list(batches)  # none repeated


# -- concurrent writers --------------------------------------------------------------------------

def test_two_run_commands_append_to_one_file_at_once(tmp_path: Path) -> None:
    out = tmp_path / "results" / "run.jsonl"  # both write into the same --out folder
    argv = ["--batch-sizes", *map(str, range(1, 7)), "--out", str(tmp_path), "--min-time-s", "0.02", "--min-calls", "5",
            "--warmup-time-s", "0", "--no-progress"]
    procs = [subprocess.Popen([sys.executable, "-m", "benchlib", "run", "--backends", backend, *argv],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env(), cwd=ROOT)
             for backend in ("numpy", "onnxruntime")]
    for proc in procs:
        _, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err.decode()
    raw = out.read_bytes()
    assert raw.endswith(b"\n") and all(line.startswith(b"{") and line.endswith(b"}") for line in raw.splitlines())
    records, problems = read_records(out)
    assert problems == [] and len(records) == 12
    assert sorted((r["backend"], r["batch_size"]) for r in records) == sorted(
        (b, n) for b in ("numpy", "onnxruntime") for n in range(1, 7))


# -- corrupt or foreign input --------------------------------------------------------------------

class _Trap:
    """Unpickling this creates a marker file: proof that nothing ever unpickles results."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (Path.touch, (self.marker,))


def test_report_reads_what_it_can_and_names_each_bad_line(tmp_path: Path) -> None:
    good = make_record(fault_case(1), latency_ms={"p50": 1.5, "p99": 2.0}, outputs_valid=True)
    results = tmp_path / "mixed.jsonl"
    append_record(results, good)
    with open(results, "a") as handle:
        handle.write('{"schema_version": 1, "backend": "num\n')  # a cut line
        handle.write(json.dumps({**good, "schema_version": SCHEMA_VERSION + 1}) + "\n")
    append_record(results, make_record(fault_case(2), latency_ms={"p50": 2.5, "p99": 3.0}, outputs_valid=True))
    marker = tmp_path / "unpickled"
    foreign = tmp_path / "foreign.jsonl"
    foreign.write_bytes(pickle.dumps([_Trap(marker)]))
    csv = tmp_path / "table.jsonl"
    csv.write_text("backend,p50\nnumpy,1.0\n")

    report = run_cli("report", str(results), str(foreign), str(csv))
    assert report.returncode == 0, report.stderr
    assert len(re.findall(r"\| numpy ", report.stdout)) == 2
    assert f"load problem: {results}:2: skipped not JSON" in report.stderr
    assert f"load problem: {results}:3: skipped, schema_version {SCHEMA_VERSION + 1} is not readable" in report.stderr
    assert "upgrade benchlib" in report.stderr
    assert f"load problem: {foreign}:1: skipped" in report.stderr
    assert f"load problem: {csv}:1: skipped not JSON" in report.stderr
    assert f"load problem: {csv}:2: skipped" in report.stderr
    assert not marker.exists()

    only_foreign = run_cli("report", str(foreign))
    assert only_foreign.returncode == 1 and "no records found" in only_foreign.stderr
    assert f"{foreign}:1" in only_foreign.stderr and not marker.exists()


def test_results_are_never_unpickled_and_models_come_from_outputs_models() -> None:
    for folder in ("results", "report"):
        for source in (ROOT / "benchlib" / folder).glob("*.py"):
            assert not re.search(r"^\s*(import|from) (pickle|dill|joblib|cloudpickle)\b", source.read_text(), re.M), \
                source
    from benchlib.backends.registry import create_backend
    from benchlib.models import get_model
    from benchlib.system.paths import models_dir

    backend = create_backend("onnxruntime", get_model("fnn"))
    backend.import_framework()
    backend.build()
    assert backend.model_path.resolve().parent == models_dir().resolve()


# -- divergent outputs ---------------------------------------------------------------------------

def test_divergent_outputs_are_marked_invalid_and_left_out_of_rankings(tmp_path: Path, faults: None) -> None:
    from benchlib.report.insights import insights
    from benchlib.report.tables import comparison_table

    results = tmp_path / "r.jsonl"
    records = run_cases([fault_case(1, "perturb"), fault_case(1, backend="onnxruntime")], results_path=results,
                        progress=False)
    bad = records[0]
    assert bad["status"] == "ok" and bad["outputs_valid"] is False and bad["max_abs_err"] > 1e-4
    assert any(w.startswith("outputs invalid: max abs error") for w in bad["warnings"])
    assert records[1]["outputs_valid"] is True

    table = comparison_table(load(results)).set_index("backend")
    assert table.loc["numpy", "vs_fastest"] != table.loc["numpy", "vs_fastest"]  # NaN: not ranked
    assert "outputs invalid (max abs err 0.001); not ranked" in table.loc["numpy", "note"]
    assert table.loc["onnxruntime", "vs_fastest"] == 1.0
    sentences = insights(load(results))
    assert any("fastest is onnxruntime" in s for s in sentences)
    assert any(s.startswith("numpy (default) at batch size 1 produced outputs that differ")
               and "left out of the rankings" in s for s in sentences)
    report = run_cli("report", str(results))
    assert report.returncode == 0 and "outputs invalid (max abs err 0.001); not ranked" in report.stdout


# -- invalid parameters --------------------------------------------------------------------------

@pytest.mark.parametrize(("argv", "message"), [
    (["run", "--batch-sizes", "-4"], "--batch-sizes=-4 is invalid; allowed: an integer from 1 to 1000000"),
    (["run", "--batch-sizes", "1.5"], "--batch-sizes='1.5' is invalid; allowed: an integer from 1 to 1000000"),
    (["run", "--batch-sizes", "1000000000"], "--batch-sizes=1000000000 is invalid; allowed: an integer from 1"),
    (["run", "--threads", "0"], "--threads=0 is invalid; allowed: an integer from 1 to 1024"),
    (["run", "--threads", "2.5"], "--threads='2.5' is invalid"),
    (["run", "--threads", "100000"], "--threads=100000 is invalid"),
    (["run", "--min-time-s", "-0.5"], "--min-time-s=-0.5 is invalid; allowed: a number of seconds"),
    (["run", "--min-time-s", "1e9"], "--min-time-s=1000000000.0 is invalid; allowed: a number of seconds from more"),
    (["run", "--min-time-s", "soon"], "--min-time-s='soon' is invalid"),
    (["run", "--timeout-s", "-1"], "--timeout-s=-1.0 is invalid"),
    (["run", "--min-calls", "2.5"], "--min-calls='2.5' is invalid"),
    (["run", "--backends", "numpy", "--variants", "turbo"],
     "--variants='turbo' is not supported by any selected backend; allowed: default"),
    (["verify", "--backends", "caffe"], "--backends='caffe' is unknown; allowed: numpy"),
    (["verify", "--threads", "0"], "--threads=0 is invalid"),
    (["article", "--num-runs", "0"], "--num-runs=0 is invalid; allowed: an integer from 1 to 1000000"),
    (["article", "--num-runs", "-3"], "--num-runs=-3 is invalid"),
    (["article", "--num-runs", "2.5"], "--num-runs='2.5' is invalid"),
    (["article", "--num-runs", "10000000000"], "--num-runs=10000000000 is invalid"),
    (["article", "--backends", "caffe"], "--backends='caffe' is not one of the article's frameworks"),
    (["article", "--min-time-s", "0"], "--min-time-s=0.0 is invalid; allowed: a number of seconds from more than 0"),
    (["article", "--seed", "-1"], "--seed='-1' is invalid; allowed: an integer from 0 to 4294967295"),
    (["ablation", "--min-time-s", "nan"], "--min-time-s=nan is invalid"),
])
def test_invalid_cli_values_are_refused_before_any_run(argv: list[str], message: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from benchlib.cli import main

    out = tmp_path / "never"
    target = ["--out", str(out)] if argv[0] in ("run", "article", "ablation") else []
    with pytest.raises(SystemExit) as exc:
        sys.exit(main([*argv, *target]))
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_unwritable_out_under_a_file_is_refused_before_any_run(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    from benchlib.cli import main

    blocker = tmp_path / "somefile"
    blocker.write_text("")
    assert main(["run", "--backends", "numpy", "--out", str(blocker / "sub")]) == 2
    err = capsys.readouterr().err
    assert f"--out='{blocker / 'sub'}' is not writable (Not a directory)" in err
    assert "allowed: a path in a writable folder" in err
    assert blocker.read_text() == ""


def test_more_threads_than_cores_is_a_warning_not_an_error(tmp_path: Path) -> None:
    from benchlib.system.env import usable_cores

    many = str(int(usable_cores()["usable"]) * 4)
    run = run_cli("run", "--backends", "numpy", "--batch-sizes", "1", "--threads", many, "--out", str(tmp_path), *QUICK)
    assert run.returncode == 0, run.stderr
    assert f"warning: --threads {many} exceeds the" in run.stderr
    assert read_records(tmp_path / "results" / "run.jsonl")[0][0]["status"] == "ok"


@pytest.mark.parametrize(("notebook", "parameters", "message"), [
    ("00_numpy", {"variants": ["turbo"]}, "variants=['turbo']: 'turbo' is unknown for numpy"),
    ("00_numpy", {"batch_sizes": [1.5]}, "batch_sizes=1.5 is invalid; allowed: an integer from 1 to 1000000"),
    ("00_numpy", {"batch_sizes": [10**9]}, "batch_sizes=1000000000 is invalid"),
    ("00_numpy", {"results_dir": "SOMEFILE/sub"}, "results_dir="),
    ("article", {"num_runs": 0}, "num_runs=0 is invalid; allowed: an integer from 1 to 1000000"),
    ("article", {"num_runs": -5}, "num_runs=-5 is invalid"),
])
def test_bad_notebook_parameters_fail_in_the_first_code_cell(notebook: str, parameters: dict, message: str,
                                                             tmp_path: Path) -> None:
    if parameters.get("results_dir") == "SOMEFILE/sub":
        (tmp_path / "somefile").write_text("")
        parameters = {**parameters, "results_dir": str(tmp_path / "somefile" / "sub")}
        message = f"results_dir='{tmp_path / 'somefile' / 'sub'}' is not a writable folder (Not a directory)"
    assert message in str(first_code_cell_failure(notebook, parameters, tmp_path).evalue)


# -- noisy machine -------------------------------------------------------------------------------

_BURN = "import time\nend = time.monotonic() + 120\nwhile time.monotonic() < end:\n    pass\n"


def test_busy_machine_is_warned_in_the_record_and_the_report(tmp_path: Path) -> None:
    from benchlib.system.env import usable_cores

    burners = [subprocess.Popen([sys.executable, "-c", _BURN]) for _ in range(int(usable_cores()["usable"]))]
    try:
        results = tmp_path / "r.jsonl"
        records = run_cases([RunCase("numpy", batch_size=1, min_time_s=0.3, warmup_time_s=0.05)],
                            results_path=results, progress=False)
    finally:
        for proc in burners:
            proc.kill()
            proc.wait()
    record = records[0]
    assert record["status"] == "ok"
    busy = [w for w in record["warnings"] if w.startswith("busy machine: other processes used")]
    assert busy, record["warnings"]
    assert record["others_cpu_cores"] > 0.25 * record["usable_cores"]
    report = run_cli("report", str(results))
    assert report.returncode == 0 and re.search(r"\| numpy .*busy machine", report.stdout)
    from benchlib.report.insights import insights

    assert any("measured on a busy machine" in s for s in insights(load(results)))


# -- soak ----------------------------------------------------------------------------------------

def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_soak_three_rounds_in_one_process(tmp_path: Path, record_property) -> None:  # noqa: ANN001
    results = tmp_path / "soak.jsonl"
    cases = [fault_case(b, backend=name) for name in ("numpy", "onnxruntime") for b in (1, 64)]
    me = psutil.Process()
    gc.collect()
    rss0, fds0 = me.memory_info().rss, _fds()
    children0 = {c.pid for c in me.children(recursive=True)}  # e.g. multiprocessing's resource tracker
    fds = []
    for _ in range(3):
        records = run_cases(cases, results_path=results, progress=True)
        assert [r["status"] for r in records] == ["ok"] * len(cases)
        gc.collect()
        fds.append(_fds())
    growth_mb = (me.memory_info().rss - rss0) / 2**20
    record_property("rss_growth_mb", round(growth_mb, 1))
    record_property("fds", [fds0, *fds])
    print(f"soak: RSS growth {growth_mb:.1f} MB; open fds before/after each round {[fds0, *fds]}")
    assert growth_mb < 50
    assert fds[0] == fds[1] == fds[2] and fds[2] <= fds0 + 2
    stored, problems = read_records(results)
    assert problems == [] and len(stored) == 3 * len(cases)
    assert {c.pid for c in me.children(recursive=True)} <= children0  # no worker left behind


def test_soak_notebook_suite_three_times_in_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite machinery itself (papermill kernels, engine runs, the HTML report) three times in a row."""
    from benchlib.notebook.suite import TINY, run_suite

    notebooks = ("00_numpy", "04_onnxruntime", "comparison")
    me = psutil.Process()
    gc.collect()
    rss0 = me.memory_info().rss
    fds, rss = [], []
    for round_ in range(3):
        # a fresh outputs folder per round: framework notebooks resume finished cases, and every round
        # must run the engine again for the soak to mean anything
        monkeypatch.setenv("BENCHLIB_OUTPUTS", str(tmp_path / f"outputs{round_}"))
        result = run_suite(TINY, notebooks=notebooks)
        assert result.failed == {} and result.report is not None and result.report.exists()
        gc.collect()
        fds.append(_fds())
        rss.append(me.memory_info().rss)
    # The first round imports papermill, nbconvert, pandas and the report templates into this
    # process once (about 90 MB here); a leak shows as growth over the rounds that follow it.
    growth_mb = (rss[-1] - rss[0]) / 2**20
    print(f"suite soak: RSS {rss0 / 2**20:.0f} MB before, {[round(r / 2**20) for r in rss]} MB after each round; "
          f"growth after the first round {growth_mb:.1f} MB; open fds after each round {fds}")
    assert growth_mb < 50
    assert fds[0] == fds[1] == fds[2]
    for backend in ("numpy", "onnxruntime"):
        for round_ in range(3):
            stored, problems = read_records(tmp_path / f"outputs{round_}" / "results" / f"{backend}.jsonl")
            assert problems == [] and len(stored) == 1 and {r["status"] for r in stored} == {"ok"}


def test_ctrl_c_stops_a_run_started_with_sigint_ignored(tmp_path: Path) -> None:
    """A non-interactive shell starts background jobs with SIGINT ignored; the CLI still stops on it."""
    out = tmp_path / "results" / "run.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchlib", "run", "--backends", "numpy", "--batch-sizes", *map(str, range(1, 9)),
         "--min-time-s", "0.5", "--warmup-time-s", "0", "--target-ci", "0", "--no-progress", "--out", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(), cwd=ROOT,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        assert wait_for(lambda: line_count(out) >= 1 or proc.poll() is not None)
        assert proc.poll() is None, "the run ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "interrupted after" in stderr
