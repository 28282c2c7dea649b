"""``BENCHLIB_TEST_BUSY_CORES``: the switch that runs the whole suite beside CPU-bound processes (CI-like load)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import psutil

from tests.conftest import ROOT, child_env

PROBE = '''
import json, os, psutil

def test_probe():
    busy = [p for p in psutil.Process().children() if "while True: pass" in " ".join(p.cmdline())]
    with open(os.environ["PROBE_OUT"], "w") as out:
        json.dump([p.pid for p in busy], out)
'''


def _pytest(folder: Path, busy: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, str(folder)],
                          capture_output=True, text=True, timeout=600, cwd=folder,
                          env=child_env(BENCHLIB_TEST_BUSY_CORES=busy, PROBE_OUT=str(folder / "pids.json")))


def _probe_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "probe"
    folder.mkdir()
    shutil.copy(ROOT / "tests" / "conftest.py", folder / "conftest.py")
    (folder / "test_probe.py").write_text(PROBE)
    return folder


def test_busy_processes_run_during_the_session_and_are_gone_after(tmp_path: Path) -> None:
    import json

    folder = _probe_folder(tmp_path)
    done = _pytest(folder, "2")
    assert done.returncode == 0, done.stdout + done.stderr
    pids = json.loads((folder / "pids.json").read_text())
    assert len(pids) == 2
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in pids)


def test_a_bad_value_is_a_usage_error_naming_the_variable(tmp_path: Path) -> None:
    folder = _probe_folder(tmp_path)
    for value in ("0", "-1", "abc", "65"):
        done = _pytest(folder, value)
        assert done.returncode == 4, (value, done.stdout, done.stderr)
        assert "BENCHLIB_TEST_BUSY_CORES" in done.stderr and repr(value) in done.stderr
        assert not (folder / "pids.json").exists()
