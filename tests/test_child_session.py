"""A child process kept alive between calls: state persists, and every fault still comes back as a reason.

Real processes and real faults: a call that raises, one that hangs past its timeout, one that kills its
own process, and a grandchild left running when the session closes.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import psutil

from benchlib.system.child import ChildSession

_STATE: dict[str, Any] = {}


def remember(payload: dict[str, Any]) -> dict[str, Any]:
    _STATE.update(payload)
    return {"pid": os.getpid(), "keys": sorted(_STATE)}


def recall(payload: dict[str, Any]) -> dict[str, Any]:
    return {"pid": os.getpid(), "value": _STATE.get(payload["key"])}


def raise_error(payload: dict[str, Any]) -> None:
    raise ValueError(f"bad payload {payload}")


def sleep_forever(payload: dict[str, Any]) -> None:
    time.sleep(3600)


def die(payload: dict[str, Any]) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def start_grandchild(payload: dict[str, Any]) -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"], start_new_session=True)
    return proc.pid


def test_state_persists_between_calls_in_one_process() -> None:
    with ChildSession() as session:
        first = session.call("tests.test_child_session:remember", {"model": "built"}, timeout_s=120)
        second = session.call("tests.test_child_session:recall", {"key": "model"}, timeout_s=120)
        assert first.ok and second.ok, (first.error, second.error)
        assert second.value == {"pid": first.value["pid"], "value": "built"}
        assert first.value["pid"] == session.pid != os.getpid()


def test_an_exception_is_a_reason_and_the_session_goes_on() -> None:
    with ChildSession() as session:
        failed = session.call("tests.test_child_session:raise_error", {"x": 1}, timeout_s=120)
        assert not failed.ok and failed.error == "ValueError: bad payload {'x': 1}"
        again = session.call("tests.test_child_session:remember", {"k": 1}, timeout_s=120)
        assert again.ok and session.alive


def test_a_hung_call_times_out_and_its_process_tree_is_killed() -> None:
    session = ChildSession()
    try:
        assert session.call("tests.test_child_session:remember", {}, timeout_s=120).ok  # started and imported
        hung = session.call("tests.test_child_session:sleep_forever", {}, timeout_s=1.0)
        assert not hung.ok and hung.error == "timed out after 1 s"
        assert not session.alive and session.proc.returncode == -signal.SIGKILL
        later = session.call("tests.test_child_session:remember", {}, timeout_s=5)
        assert not later.ok and "has ended" in later.error
    finally:
        session.close()


def test_a_process_that_dies_mid_call_gives_the_signal() -> None:
    with ChildSession() as session:
        died = session.call("tests.test_child_session:die", {}, timeout_s=120)
        assert not died.ok and "SIGKILL" in died.error
        assert not session.alive


def test_closing_kills_what_the_child_left_running() -> None:
    session = ChildSession()
    started = session.call("tests.test_child_session:start_grandchild", {}, timeout_s=120)
    assert started.ok, started.error
    grandchild = started.value
    assert psutil.pid_exists(grandchild)
    session.close()
    gone = not psutil.pid_exists(grandchild) or psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE
    assert gone
    assert session.proc.returncode is not None


def test_an_idle_session_uses_no_cpu() -> None:
    with ChildSession() as session:
        assert session.call("tests.test_child_session:remember", {}, timeout_s=120).ok
        before = session.cpu_seconds()
        time.sleep(0.5)
        # waiting on its pipe costs nothing; 10 ms allows for a scheduler tick of accounting
        assert session.cpu_seconds() - before < 0.01
