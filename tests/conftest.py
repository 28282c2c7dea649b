"""Shared fixtures: every test writes generated files under a temporary outputs folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def isolated_outputs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point BENCHLIB_OUTPUTS at a per-test folder (inherited by child processes)."""
    outputs = tmp_path_factory.mktemp("outputs")
    monkeypatch.setenv("BENCHLIB_OUTPUTS", str(outputs))
    return outputs


@pytest.fixture
def python() -> str:
    """The interpreter running the tests, for child processes."""
    return sys.executable


def child_env(**extra: str) -> dict[str, str]:
    """Environment for a child process, with benchlib importable from the checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def suite(tmp_path_factory: pytest.TempPathFactory):
    """Run the whole notebook suite once, with the tiny settings, into its own outputs folder."""
    from benchlib.notebook.suite import TINY, run_suite

    outputs = tmp_path_factory.mktemp("suite-outputs")
    previous = os.environ.get("BENCHLIB_OUTPUTS")
    os.environ["BENCHLIB_OUTPUTS"] = str(outputs)
    try:
        result = run_suite(TINY)
    finally:
        if previous is None:
            os.environ.pop("BENCHLIB_OUTPUTS", None)
        else:
            os.environ["BENCHLIB_OUTPUTS"] = previous
    return outputs, result


# -- a machine kept busy, for CI-like runs ------------------------------------------------------------

#: ``BENCHLIB_TEST_BUSY_CORES=N`` keeps N cores busy for the whole session (as a co-runner on a CI host would).
BUSY_CORES_ENV = "BENCHLIB_TEST_BUSY_CORES"
#: More busy processes than this is a typo, not a test setting.
MAX_BUSY_CORES = 64


def busy_cores_wanted(value: str | None) -> int:
    """The number of busy processes ``value`` (the variable's text) asks for; 0 when unset or empty."""
    if value is None or not value.strip():
        return 0
    text = value.strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_BUSY_CORES:
        raise pytest.UsageError(f"{BUSY_CORES_ENV}={value!r} is invalid; allowed: a whole number of busy processes "
                                f"from 1 to {MAX_BUSY_CORES}, or unset for none")
    return int(text)


def pytest_configure(config: pytest.Config) -> None:
    """Check ``BENCHLIB_TEST_BUSY_CORES`` before any test runs, then start its busy processes once.

    Under pytest-xdist (``make test`` runs two workers) only the controlling process starts them, so the
    whole session sees N busy cores whatever the number of workers.
    """
    wanted = busy_cores_wanted(os.environ.get(BUSY_CORES_ENV))
    if hasattr(config, "workerinput"):  # an xdist worker: the controller keeps the cores busy
        return
    config.stash[_BUSY] = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"], stdin=subprocess.DEVNULL,
                         preexec_fn=_die_with_pytest if sys.platform.startswith("linux") else None)
        for _ in range(wanted)]


def pytest_unconfigure(config: pytest.Config) -> None:
    for proc in config.stash.get(_BUSY, []):
        proc.kill()
        proc.wait()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Start the tests that read the executed suite first: it is the longest single piece of work, so the
    other pytest-xdist worker takes the rest meanwhile (``--dist loadfile`` keeps their module on one worker)."""
    readers = [item for item in items if "suite" in getattr(item, "fixturenames", ())]
    elsewhere = sorted({item.path.name for item in readers} - {SUITE_READERS})
    if elsewhere:  # on another worker the suite would run a second time
        raise pytest.UsageError(f"the suite fixture is read in {', '.join(elsewhere)}; allowed: {SUITE_READERS} only")
    first = set(readers)
    items[:] = readers + [item for item in items if item not in first]


_BUSY = pytest.StashKey[list]()
#: The one module whose tests read the executed tiny suite.
SUITE_READERS = "test_notebooks.py"


def _die_with_pytest() -> None:
    # Runs in each busy process before exec: Linux kills it if the test session dies without cleaning up.
    import ctypes
    import signal

    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
