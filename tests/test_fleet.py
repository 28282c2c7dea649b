"""Fleet runs on a local Dask cluster: a killed host costs its case only, rounds shared on one host, resume,
refusals; cross-machine views."""

from __future__ import annotations

import dataclasses
import json
import signal
import socket
import threading
import time
from pathlib import Path

import psutil
import pytest

from benchlib.cli import main
from benchlib.engine.case import RunCase
from benchlib.engine.rounds import RoundSettings
from benchlib.report.fleet import machine_views
from benchlib.results.schema import make_record
from benchlib.results.store import append_record, read_records
from benchlib.studies.fleet.cluster import Host, Machine, colocation_warning, group_machines, local_cluster, survey
from benchlib.studies.fleet.jobs import CaseState, plan_jobs
from benchlib.studies.fleet.plan import machine_threads
from benchlib.studies.fleet.runner import run_fleet, settled_keys
from benchlib.system.env import collect_env, machine_key

#: The case whose host is killed: its timed loop is long enough to be killed in the middle.
VICTIM_MIN_TIME_S = 1.5
TINY = {"threads": 1, "min_time_s": 0.02, "warmup_time_s": 0.0, "warmup_calls": 1, "min_calls": 5}
#: Precision mode (a target above 0): such cases are measured in interleaved rounds.
PRECISE = {**TINY, "target_ci": 0.05}


def _ends_within(proc: psutil.Process, seconds: float) -> bool:
    """Whether ``proc`` ends within ``seconds`` (a zombie has ended: its new parent may reap it late)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.02)
    return False


def _kill_host_of_victim(stop: threading.Event, killed: list[int]) -> None:
    """SIGKILL the worker process running the victim's benchmark child, once that child has run 0.3 s.

    ``killed`` gets the worker's pid, then whether the benchmark child then ended without finishing its
    case: it had at least 1.5 s of timed loop left, and only the parent-death signal ends it before it
    writes its result file. (Judged by that file, not by how soon the child was gone, which a busy
    machine can delay.)
    """
    me = psutil.Process()
    while not stop.is_set():
        for proc in me.children(recursive=True):
            try:
                command = proc.cmdline()
                if "benchlib.system.child" not in command or time.time() - proc.create_time() < 0.3:
                    continue
                payload = json.loads(Path(command[-2]).read_text())["payload"]
                if payload["min_time_s"] == VICTIM_MIN_TIME_S:
                    worker = proc.parent()
                    killed.append(worker.pid)
                    worker.send_signal(signal.SIGKILL)
                    # the dead worker never removes the child's folder: a finished case's result stays there
                    killed.append(_ends_within(proc, 120.0) and not Path(command[-1]).exists())
                    return
            except (psutil.Error, OSError, ValueError, KeyError, IndexError):
                continue  # a child that just ended, or a request file already removed
        time.sleep(0.05)


def test_killed_host_costs_its_case_only_and_the_case_is_retried_on_another(tmp_path):
    path = tmp_path / "fleet.jsonl"
    cases = [RunCase("numpy", batch_size=1, **TINY),
             RunCase("numpy", batch_size=5, **{**TINY, "min_time_s": VICTIM_MIN_TIME_S}),
             RunCase("numpy", batch_size=2, **TINY)]
    stop, killed = threading.Event(), []
    with local_cluster(2) as client:
        machines = group_machines(survey(client, 30))
        assert len(machines) == 1 and len(machines[0].hosts) == 2
        pids = {host.pid: host for host in machines[0].hosts}
        watcher = threading.Thread(target=_kill_host_of_victim, args=(stop, killed), daemon=True)
        watcher.start()
        try:
            result = run_fleet(client, machines, lambda machine: cases, path, local=True, progress=False)
        finally:
            stop.set()
    assert len(killed) == 2 and killed[0] in pids
    assert killed[1] is True  # the benchmark did not outlive its host's worker: it ended without finishing
    dead = pids[killed[0]]
    records, problems = read_records(path)
    assert not problems and [r["run_id"] for r in records] == [r["run_id"] for r in result.records]
    victim = [r for r in records if r["batch_size"] == 5]
    assert [r["status"] for r in victim] == ["failed", "ok"]
    assert "was lost mid-case" in victim[0]["error"] and dead.worker in victim[0]["error"]
    assert victim[0]["fleet"]["worker"] == dead.worker and victim[0]["fleet"]["host"] == socket.gethostname()
    assert victim[1]["fleet"]["worker"] != dead.worker and victim[1]["fleet"]["attempt"] == 2
    # nothing lost: every case ends ok, once, with the fingerprint of the host that measured it
    assert result.complete and result.counts() == {"failed": 1, "ok": 3}
    assert sorted(r["case_key"] for r in records if r["status"] == "ok") == sorted(c.case_key for c in cases)
    for record in records:
        assert record["env"]["key"] == record["env_key"] == machines[0].env["key"]
        assert any(w.startswith("co-located") and "corrupt each other's numbers" in w for w in record["warnings"])


def test_cases_compared_with_each_other_share_rounds_on_one_host_and_resume(tmp_path):
    path = tmp_path / "fleet.jsonl"
    paired = [RunCase("numpy", batch_size=1, seed=seed, **PRECISE) for seed in (0, 1)]
    once = RunCase("numpy", batch_size=2, **TINY)  # fixed time: not in rounds, a task of its own as before
    tiny = RoundSettings(min_rounds=2, max_rounds=2, block_s=0.01)
    with local_cluster(2) as client:
        machines = group_machines(survey(client, 30))
        result = run_fleet(client, machines, lambda machine: [*paired, once], path, local=True, progress=False,
                           rounds=tiny)
        again = run_fleet(client, machines, lambda machine: [*paired, once], path, local=True, progress=False,
                          rounds=tiny)
    records, problems = read_records(path)
    assert not problems and result.complete and result.counts() == {"ok": 3}
    by_key = {r["case_key"]: r for r in records}
    first, second = (by_key[case.case_key] for case in paired)
    for record in (first, second):
        rounds = record["rounds"]
        assert rounds["n"] == 2 and rounds["processes"] == 2
        assert rounds["settings"]["block_s"] == 0.01 and rounds["process"] == [0, 1]  # one block a round, alternating
        assert record["fleet"]["attempt"] == 1 and record["env_key"] == machines[0].env["key"]
        assert any(w.startswith("co-located") for w in record["warnings"])
    # one group, on one host: the two cases' blocks alternated in the same rounds
    assert first["rounds"]["group"] == second["rounds"]["group"]
    assert first["fleet"]["worker"] == second["fleet"]["worker"]
    assert "rounds" not in by_key[once.case_key]
    assert again.resumed == 3 and not again.records and len(read_records(path)[0]) == 3


def _kill_host_after_record(path: Path, case_key: str, pids: dict[str, int], stop: threading.Event,
                            killed: list[str]) -> None:
    """SIGKILL the worker that measured ``case_key`` as soon as that case's record is in ``path``; ``killed``
    gets the worker's address."""
    while not stop.is_set():
        records = read_records(path)[0] if path.exists() else []
        record = next((r for r in records if r.get("case_key") == case_key), None)
        if record is not None:
            worker = record["fleet"]["worker"]
            killed.append(worker)
            psutil.Process(pids[worker]).send_signal(signal.SIGKILL)
            return
        time.sleep(0.05)


def test_a_group_whose_host_dies_sends_again_only_its_cases_without_a_record(tmp_path):
    path = tmp_path / "fleet.jsonl"
    first, second = (RunCase("numpy", batch_size=1, seed=seed, **PRECISE) for seed in (0, 1))
    # NumPy has no bf16: skipped in its first process, so its record comes back while the others are measured
    skipped = RunCase("numpy", batch_size=1, precision="bf16", **PRECISE)
    # 4 rounds of 0.3 s blocks per case: the host is killed before they end, whatever the machine's speed
    slow = RoundSettings(min_rounds=4, max_rounds=4, block_s=0.3)
    stop, killed = threading.Event(), []
    with local_cluster(2) as client:
        machines = group_machines(survey(client, 30))
        pids = {host.worker: host.pid for host in machines[0].hosts}
        watcher = threading.Thread(target=_kill_host_after_record, args=(path, skipped.case_key, pids, stop, killed),
                                   daemon=True)
        watcher.start()
        try:
            result = run_fleet(client, machines, lambda machine: [first, skipped, second], path, local=True,
                               progress=False, rounds=slow)
        finally:
            stop.set()
    assert len(killed) == 1
    records, problems = read_records(path)
    assert not problems
    # the case with a record is not run again; the two without are recorded as lost, then retried together
    assert [r["status"] for r in records if r["case_key"] == skipped.case_key] == ["skipped"]
    retried = []
    for case in (first, second):
        mine = [r for r in records if r["case_key"] == case.case_key]
        assert [r["status"] for r in mine] == ["failed", "ok"]
        assert "was lost mid-case" in mine[0]["error"] and killed[0] in mine[0]["error"]
        assert mine[1]["fleet"]["attempt"] == 2 and mine[1]["fleet"]["worker"] != killed[0]
        assert mine[1]["rounds"]["n"] == 4
        retried.append(mine[1])
    assert retried[0]["rounds"]["group"] == retried[1]["rounds"]["group"]
    assert result.complete and result.counts() == {"failed": 2, "ok": 2, "skipped": 1}


def test_fleet_local_runs_a_small_sweep_then_resumes_without_rerunning(tmp_path, capsys):
    out = tmp_path / "results" / "fleet.jsonl"  # where fleet keeps its records in --out
    argv = ["fleet", "--local", "2", "--backends", "numpy", "--batch-sizes", "1", "8", "--threads", "1",
            "--min-time-s", "0.02", "--max-time-s", "0.5", "--out", str(tmp_path), "--no-progress"]
    assert main(argv) == 0
    first = capsys.readouterr()
    records, _ = read_records(out)
    assert [r["status"] for r in records] == ["ok", "ok"]
    assert {r["batch_size"] for r in records} == {1, 8}
    for record in records:
        assert record["env_key"] == collect_env()["key"] and record["fleet"]["local"] is True
        assert record["fleet"]["host"] == socket.gethostname() and record["fleet"]["worker"].startswith("tcp://127.0.0.1:")
        assert any(w.startswith("co-located") for w in record["warnings"])
        assert record["env"]["load_avg_before_batch"] is not None  # judged by the load before the fleet
    assert "## M1" in first.out and "fleet: 1 machine(s), 2 host(s); 2 case(s), 0 already done" in first.out
    assert main(argv) == 0
    again = capsys.readouterr()
    assert "2 case(s), 2 already done, records now: none" in again.out
    assert len(read_records(out)[0]) == 2


def test_scheduler_that_does_not_answer_exits_2_naming_it(tmp_path, capsys):
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    out = tmp_path / "results" / "fleet.jsonl"
    assert main(["fleet", "--scheduler", address, "--connect-timeout-s", "1", "--backends", "numpy",
                 "--batch-sizes", "1", "--threads", "1", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"scheduler '{address}' does not answer within 1 s" in err and "dask scheduler" in err
    assert not out.exists()


@pytest.mark.parametrize("argv, message", [
    (["--local", "0"], "--local=0 is invalid; allowed: an integer from 1 to 64"),
    (["--scheduler", "no-port-here"], "is invalid (missing port number"),
    (["--local", "2", "--retries", "-1"], "--retries='-1' is invalid; allowed: an integer from 0 to 100"),
])
def test_bad_fleet_options_are_refused(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        code = main(["fleet", *argv, "--backends", "numpy"])
        raise SystemExit(code)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_jobs_put_the_cases_of_one_pair_key_together_and_share_the_rounds_time():
    machine = Machine(key="m", env={})
    paired = [RunCase("numpy", batch_size=batch, seed=seed, **PRECISE) for batch in (1, 2) for seed in (0, 1, 2)]
    once = RunCase("numpy", batch_size=1, **TINY)  # fixed time: never in rounds
    states = [CaseState(case, machine) for case in [*paired, once]]
    settings = RoundSettings(max_time_s=12.0, processes=2, max_alive=4)  # groups of at most 2 cases
    jobs = plan_jobs(states, settings)
    assert [[s.case for s in job.states] for job in jobs] == [[once], paired[0:2], paired[2:3], paired[3:5],
                                                                paired[5:6]]
    function, (cases, rounds, topic, key) = jobs[1].task("topic", "key")
    assert function.__name__ == "run_rounds_on_host" and cases == [c.to_dict() for c in paired[0:2]]
    assert rounds == {**settings.to_dict(), "max_time_s": 4.0}  # 12 s over 6 cases in rounds: 2 s a case
    assert jobs[0].task("topic", "key")[0].__name__ == "run_on_host"
    assert [len(job.states) for job in plan_jobs(states, None)] == [1] * 7  # rounds=False: every case once


def test_fleet_rounds_setting_is_checked(tmp_path):
    with pytest.raises(TypeError, match=r"rounds='yes' \(str\) is invalid; allowed: a RoundSettings"):
        run_fleet(None, [], lambda machine: [], tmp_path / "fleet.jsonl", rounds="yes")


def test_threads_follow_each_machines_usable_cores():
    eight = {"usable_cores": 8}
    assert machine_threads(None, False, eight) == tuple(range(1, 9))
    assert machine_threads(None, True, eight) == (8,)
    assert machine_threads([1, "cores", 8], False, eight) == (1, 8)
    assert machine_threads([2], False, {"usable_cores": 4}) == (2,)


def _env(cpu: str, flags: list[str], cores: int = 2, numpy: str = "2.4.6") -> dict:
    env = {"cpu_model": cpu, "isa_flags": flags, "usable_cores": cores, "logical_cores": cores,
           "cpu_quota_cores": None, "memory_total_mb": 8192.0, "frameworks": {"numpy": numpy}}
    env["key"] = f"key-{cpu}-{numpy}"
    return env


def _record(backend: str, env: dict, median: float, seed: int = 0, rounds: bool = True) -> dict:
    """An ok record of one run on ``env``'s machine, measured in its rounds (or, ``rounds=False``, without)."""
    import numpy as np

    from tests.conftest import round_data

    samples = (median * np.random.default_rng(seed).lognormal(0.0, 0.05, 300)).tolist()  # 5% spread
    case = RunCase(backend, batch_size=1, threads=1)
    measured = {"rounds": round_data(median, 0.01, group=env["key"], seed=f"{backend}-{seed}")} if rounds else {}
    return make_record(case, status="ok", env=env, env_key=env["key"], samples_ms=samples,
                       latency_ms={"p50": median}, latency_ci95_ms={"p50": [median * 0.99, median * 1.01]}, **measured)


def test_resume_counts_only_cases_settled_on_the_same_machine(tmp_path):
    intel, amd = _env("Intel Xeon", ["avx512f"]), _env("AMD EPYC", [])
    path = tmp_path / "r.jsonl"
    append_record(path, _record("numpy", intel, 1.0))
    machines = [Machine(key=f"{machine_key(env)}/{env['key']}", env=env) for env in (intel, amd)]
    done = settled_keys(path, machines)
    key = RunCase("numpy", batch_size=1, threads=1).case_key
    assert done[machines[0].key] == {key} and done[machines[1].key] == set()


def test_colocation_is_warned_for_local_runs_and_shared_hosts_only():
    host = Host(worker="tcp://10.0.0.7:4000", name="a", ip="10.0.0.7", env={}, benchlib="0.1.0")
    assert colocation_warning(host, local=False) is None
    shared = colocation_warning(dataclasses.replace(host, colocated=2), local=False)
    assert shared.startswith("co-located: 2 benchmark workers share host a") and "corrupt" in shared
    assert colocation_warning(host, local=True).startswith("co-located: measured by `fleet --local`")


def test_machine_views_rank_within_a_machine_and_show_how_machines_differ():
    intel, amd = _env("Intel Xeon", ["avx2", "avx512f", "amx_tile"], 4), _env("AMD EPYC", ["avx2"], 2, "2.5.0")
    records = [
        _record("numpy", intel, 1.0), _record("onnxruntime", intel, 2.0),  # clearly apart on Intel
        _record("numpy", amd, 3.0, seed=1), _record("onnxruntime", amd, 3.001, seed=2),  # a tie on AMD
        make_record(RunCase("pytorch", batch_size=1, threads=1), status="failed", error="boom", env=amd,
                    env_key=amd["key"]),  # failed: no number, so not in the views
    ]
    views = machine_views(records)
    names = list(views.machines["machine"])
    assert len(names) == 2 and names[0].startswith("Intel Xeon, 4 CPUs") and names[1].startswith("AMD EPYC, 2 CPUs")
    m1, m2 = views.per_machine["M1"], views.per_machine["M2"]
    assert list(m1["framework"]) == ["numpy", "onnxruntime"] and list(m1["ratio"]) == [1.0, 2.0]
    assert list(m1["tie group"]) == [1, 2] and list(m2["tie group"]) == [1, 1]  # the one rule, paired per machine
    assert list(m1["p50 lo (ms)"]) == [0.99, 1.98]  # the interval over rounds
    assert "pytorch" not in set(m2["framework"])
    cross = views.cross.set_index("framework")
    assert cross.loc["numpy", "p50 (ms) M1"] == 1.0 and cross.loc["numpy", "p50 (ms) M2"] == 3.0
    assert cross.loc["onnxruntime", "ratio M2"] == pytest.approx(3.001 / 3.0)
    assert cross.loc["onnxruntime", "tie group M1"] == 2 and cross.loc["onnxruntime", "tie group M2"] == 1
    assert not any("rank" in c for c in views.cross.columns)  # no ordering across machines
    # measured without rounds: no verdict, so no tie group of its own and no interval shown
    fixed = machine_views([_record("numpy", intel, 1.0), _record("onnxruntime", intel, 2.0, rounds=False)])
    table = fixed.per_machine["M1"]
    assert list(table["tie group"]) == [1, 1] and table["p50 lo (ms)"].isna().tolist() == [False, True]
    differ = views.differences
    assert differ.loc["isa_flags", "M1"] == "+amx_tile +avx512f"
    assert differ.loc["isa_flags", "M2"] == "(shared flags only)"
    assert differ.loc["frameworks.numpy", "M2"] == "2.5.0" and "usable_cores" in differ.index
    text = views.markdown()
    assert text.index("## How the machines differ") < text.index("## Each framework's p50 per machine")
