"""The noise audit reads the kernel's counters and turns the ones that moved during a loop into warnings."""

from __future__ import annotations

import json
import subprocess
import sys

from benchlib.system.audit import advice, audit, counters, difference, loop_warnings


def test_counters_are_cumulative_and_differences_never_negative() -> None:
    before = counters()
    sum(i * i for i in range(200_000))
    delta = difference(before, counters())
    assert set(delta) == {"steal_s", "nr_throttled", "throttled_s", "swap_io_bytes"}
    assert all(v is None or v >= 0 for v in delta.values())
    assert difference({"steal_s": None, "swap_io_bytes": 5}, {"steal_s": 3.0, "swap_io_bytes": 7}) == \
        {"steal_s": None, "swap_io_bytes": 2}


def test_loop_warnings_name_what_moved_the_number() -> None:
    quiet = {"steal_s": 0.001, "nr_throttled": 0, "throttled_s": 0.0, "swap_io_bytes": 0}
    assert loop_warnings(quiet, wall_s=1.0, cores=2) == []
    noisy = {"steal_s": 0.2, "nr_throttled": 3, "throttled_s": 0.05, "swap_io_bytes": 2**21}
    found = loop_warnings(noisy, wall_s=1.0, cores=2)
    assert [w.split(":")[0] for w in found] == ["CPU steal", "CPU throttling", "swap activity"]
    assert "10.0% of the time" in found[0] and "3 time(s)" in found[1] and "2.0 MiB" in found[2]


def test_audit_reports_every_source_and_advises_without_changing_anything() -> None:
    facts = audit()
    for key in ("governor", "frequency_mhz", "boost", "smt_active", "smt_sibling_groups", "steal_s_since_boot",
                "cgroup_throttled", "swap_used_mb", "advice"):
        assert key in facts
    assert all(isinstance(tip, str) and tip for tip in facts["advice"])
    tips = advice({"governor": {0: "powersave"}, "boost": "1", "smt_sibling_groups": ["0,1"],
                   "steal_s_since_boot": 12.0, "cgroup_throttled": {"nr_throttled": 4}, "swap_used_mb": 100.0})
    assert [t.split(" ")[0] for t in tips] == ["governor", "turbo/boost", "SMT", "this", "the", "100"]
    assert "not exposed" in advice({"governor": None})[0]


def test_env_command_prints_the_audit() -> None:
    done = subprocess.run([sys.executable, "-m", "benchlib", "env", "--json"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "advice" in json.loads(done.stdout)["noise_audit"]
    text = subprocess.run([sys.executable, "-m", "benchlib", "env"], capture_output=True, text=True, timeout=300)
    assert "noise audit (read-only)" in text.stdout
