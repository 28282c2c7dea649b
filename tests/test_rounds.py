"""Interleaved rounds, scheduled over fake processes on a simulated two-state machine.

The sessions here are fakes with the real session's interface: what the rounds decide (order, which
process, when to stop, groups, what goes into the record) is the subject, not the processes, which
tests/test_child_session.py and the end-to-end test in tests/test_rounds_run.py cover.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from benchlib.engine import rounds
from benchlib.engine.case import RunCase
from benchlib.system.child import ChildResult


class Machine:
    """A machine that is slow (×``slow``) during the rounds listed in ``slow_rounds``; it counts blocks."""

    def __init__(self, cases: int, slow_rounds: set[int], slow: float = 1.9) -> None:
        self.cases, self.slow_rounds, self.slow = cases, slow_rounds, slow
        self.blocks = 0
        self.order: list[str] = []

    def factor(self) -> float:
        return self.slow if (self.blocks // self.cases) in self.slow_rounds else 1.0


class FakeSession:
    pid = 4242

    def __init__(self, machine: Machine, times_us: dict[str, float], status: dict[str, str],
                 fail_block_at: dict[str, int], rss_mb: float = 100.0, idle_cpu: float = 0.0) -> None:
        self.machine, self.times_us, self.status = machine, times_us, status
        self.fail_block_at, self.rss_mb, self.idle_cpu = fail_block_at, rss_mb, idle_cpu
        self.backend: str | None = None
        self.served = 0
        self.cpu = 0.0
        self.closed = False

    def call(self, target: str, payload: Any, timeout_s: float | None = None, what: str = "result") -> ChildResult:
        if target == rounds.PREPARE_TARGET:
            self.backend = payload["backend"]
            status = self.status.get(self.backend, "ok")
            return ChildResult(True, value={"status": status, "backend": self.backend, "batch_size": 1,
                                            "rss_peak_mb": self.rss_mb,
                                            "latency_ci95_ms": {"p50": [0.0199, 0.0201]},
                                            "stopping": {"halfwidth": 0.005}, "error": None if status == "ok"
                                            else f"{self.backend} is {status}"}, wall_s=0.5)
        assert target == rounds.BLOCK_TARGET and self.backend is not None
        self.served += 1
        if self.fail_block_at.get(self.backend) == self.served:
            return ChildResult(False, error="crashed with SIGSEGV")
        self.machine.order.append(self.backend)
        base = self.times_us[self.backend] * 1e3 * self.machine.factor()
        self.machine.blocks += 1
        self.cpu += payload["seconds"]
        for session in SESSIONS:  # the others idle meanwhile
            if session is not self:
                session.cpu += self.idle_cpu * payload["seconds"]
        calls = base * np.exp(np.random.default_rng(self.machine.blocks).normal(0, 0.01, 200))
        return ChildResult(True, value={"calls_ns": calls.tolist(), "cpu_s": payload["seconds"]})

    def send(self, target: str, payload: Any) -> bool:
        self._pending = (target, payload)
        return True

    def receive(self, timeout_s: float | None = None, what: str = "result") -> ChildResult:
        return self.call(*self._pending)

    def cpu_seconds(self) -> float:
        return self.cpu

    def close(self) -> None:
        self.closed = True


SESSIONS: list[FakeSession] = []


def run(backends: list[str], machine: Machine, settings: rounds.RoundSettings, *, status: dict | None = None,
        fail_block_at: dict | None = None, rss_mb: float = 100.0, idle_cpu: float = 0.0,
        monkeypatch: pytest.MonkeyPatch | None = None) -> list[dict[str, Any]]:
    SESSIONS.clear()
    times = {"numpy": 50.0, "onnxruntime": 20.0, "openvino": 56.0, "pytorch": 195.0}

    def start() -> FakeSession:
        session = FakeSession(machine, times, status or {}, fail_block_at or {}, rss_mb, idle_cpu)
        SESSIONS.append(session)
        return session

    ticks = iter(range(10**6))
    return rounds.measure_in_rounds([RunCase(b) for b in backends], settings, start_session=start,
                                    clock=lambda: float(next(ticks)) * 0.01)


def test_every_case_runs_once_per_round_in_a_shuffled_order_over_two_processes() -> None:
    backends = ["numpy", "onnxruntime", "openvino", "pytorch"]
    machine = Machine(4, slow_rounds=set())
    settings = rounds.RoundSettings(min_rounds=8, max_rounds=8, target_ci=0.0, seed=3)
    records = run(backends, machine, settings)
    order = machine.order
    assert len(order) == 32
    for r in range(8):
        assert sorted(order[4 * r: 4 * r + 4]) == sorted(backends)  # each case once per round
    assert len({tuple(order[4 * r: 4 * r + 4]) for r in range(8)}) > 1  # shuffled
    again = Machine(4, slow_rounds=set())
    run(backends, again, settings)
    assert again.order == order  # the seed fixes the order
    for record in records:
        assert record["rounds"]["round"] == list(range(8))
        assert record["rounds"]["process"] == [0, 1] * 4
        assert record["rounds"]["processes"] == 2 and record["rounds"]["stop"] == "max rounds"
    assert len(SESSIONS) == 8 and all(s.closed for s in SESSIONS)


def test_the_record_carries_the_round_median_its_interval_and_the_within_process_diagnostic() -> None:
    machine = Machine(2, slow_rounds={2, 3, 6})
    records = run(["numpy", "onnxruntime"], machine, rounds.RoundSettings(min_rounds=10, max_rounds=10))
    numpy_record = records[0]
    blocks = numpy_record["rounds"]["block_ms"]
    assert numpy_record["latency_ms"]["p50"] == pytest.approx(float(np.median(blocks)))
    low, high = numpy_record["latency_ci95_ms"]["p50"]
    assert low <= numpy_record["latency_ms"]["p50"] <= high
    assert high / low > 1.01  # the slow rounds widen it, unlike the within-process interval
    assert numpy_record["within_process"]["latency_ci95_ms"] == {"p50": [0.0199, 0.0201]}
    assert numpy_record["stopping"]["halfwidth"] == pytest.approx(numpy_record["rounds"]["interval"]["halfwidth"])
    assert numpy_record["throughput_sps"] == pytest.approx(1 / (numpy_record["latency_ms"]["p50"] / 1e3))
    assert numpy_record["rounds"]["group"] == records[1]["rounds"]["group"]  # paired with each other


def test_two_machine_levels_are_detected_and_each_levels_median_given() -> None:
    machine = Machine(2, slow_rounds={0, 1, 2, 5, 6, 7, 10, 11})
    records = run(["numpy", "onnxruntime"], machine, rounds.RoundSettings(min_rounds=16, max_rounds=16))
    levels = records[0]["machine_levels"]
    assert levels["split"] and levels["shares"] == [0.5, 0.5] and levels["near_even"]
    fast, slow = levels["level_medians_ms"]
    assert slow / fast == pytest.approx(1.9, rel=0.05)
    low, high = records[0]["latency_ci95_ms"]["p50"]
    assert low <= fast * 1.01 and high >= slow * 0.99  # either level could be the next run's median


def test_stops_once_every_interval_meets_the_target_after_the_minimum_rounds() -> None:
    machine = Machine(2, slow_rounds=set())
    records = run(["numpy", "onnxruntime"], machine, rounds.RoundSettings(min_rounds=6, max_rounds=30,
                                                                           target_ci=0.02))
    assert records[0]["rounds"]["n"] == 6 and records[0]["rounds"]["stop"] == "target met"


def test_a_skipped_case_keeps_its_record_and_a_crashed_process_is_dropped() -> None:
    machine = Machine(2, slow_rounds=set())
    records = run(["numpy", "onnxruntime", "openvino"], machine, rounds.RoundSettings(min_rounds=6, max_rounds=6),
                  status={"openvino": "skipped"}, fail_block_at={"onnxruntime": 2})
    by_backend = {r["backend"]: r for r in records}
    assert by_backend["openvino"]["status"] == "skipped"
    ort = by_backend["onnxruntime"]
    assert ort["status"] == "ok" and any("SIGSEGV" in note for note in ort["rounds"]["notes"])
    assert [r["backend"] for r in records] == ["numpy", "onnxruntime", "openvino"]


def test_groups_keep_compared_cases_together_within_processes_alive_and_memory() -> None:
    backends = ["numpy", "onnxruntime", "openvino", "pytorch"]
    records = run(backends, Machine(2, set()), rounds.RoundSettings(min_rounds=6, max_rounds=6, max_alive=4))
    assert len({r["rounds"]["group"] for r in records}) == 2
    # the grid's order is backend-major; cases compared with each other (one batch size) share a group
    grid = [RunCase(b, batch_size=n) for b in backends for n in (1, 64)]
    assert rounds.plan_groups(grid, 4) == [[0, 2, 4, 6], [1, 3, 5, 7]]
    assert rounds.plan_groups(grid, 8) == [[0, 2, 4, 6, 1, 3, 5, 7]]
    assert rounds.plan_groups(grid, 3) == [[0, 2, 4], [6], [1, 3, 5], [7]]
    huge = run(backends, Machine(1, set()), rounds.RoundSettings(min_rounds=6, max_rounds=6), rss_mb=10**9)
    assert len({r["rounds"]["group"] for r in huge}) == 4


def test_idle_processes_that_use_cpu_are_reported() -> None:
    quiet = run(["numpy", "onnxruntime"], Machine(2, set()), rounds.RoundSettings(min_rounds=6, max_rounds=6))
    assert quiet[0]["rounds"]["idle_cpu_share"] == pytest.approx(0.0, abs=1e-9)
    spinning = run(["numpy", "onnxruntime"], Machine(2, set()), rounds.RoundSettings(min_rounds=6, max_rounds=6),
                   idle_cpu=0.5)
    assert spinning[0]["rounds"]["idle_cpu_share"] > rounds.IDLE_CPU_LIMIT
    assert any("idle processes" in note for note in spinning[0]["rounds"]["notes"])


@pytest.mark.parametrize(("field", "value"), [("block_s", 0), ("min_rounds", 0), ("processes", 1.5),
                                              ("target_ci", -1), ("max_rounds", 2)])
def test_bad_settings_name_the_parameter(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"{field}={value!r} is invalid; allowed"):
        rounds.RoundSettings(**{field: value})


def test_the_rounds_time_is_the_whole_runs_shared_among_groups_by_size() -> None:
    # the fake clock advances 0.01 s each time it is read (three reads a round), whatever the group's size;
    # 0.4 s of rounds for four cases is 0.2 s for each group of two
    backends = ["numpy", "onnxruntime", "openvino", "pytorch"]
    settings = rounds.RoundSettings(min_rounds=2, max_rounds=1000, target_ci=0.0001, max_time_s=0.4, max_alive=4)
    records = run(backends, Machine(2, set()), settings)
    groups = {r["rounds"]["group"] for r in records}
    assert len(groups) == 2 and all(r["rounds"]["stop"] == "max time" for r in records)
    n = [r["rounds"]["n"] for r in records]
    # shared: each group stops near 0.2 s (about 7 rounds), not at the run's whole 0.4 s (about 14)
    assert all(5 <= k <= 12 for k in n), n
    alone = run(backends[:2], Machine(2, set()), settings)
    assert alone[0]["rounds"]["n"] > max(n)  # one group of two has the run's whole time
