"""Shared fixtures and helpers: every test writes generated files under a temporary outputs folder."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


# -- helpers shared by test modules ------------------------------------------------------------------

#: The package's source folder.
PACKAGE = ROOT / "benchlib"
#: The notebooks folder and its notebooks.
NOTEBOOKS_DIR = ROOT / "notebooks"
NOTEBOOK_FILES = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
#: A torch factory with two outputs (tests/user_factories.py).
TWO_HEADS = "torch:tests.user_factories:two_heads"
#: ``benchlib run`` options for a short measurement.
QUICK = ("--min-time", "0.05", "--warmup-time", "0", "--no-progress")
#: ``benchlib run`` options for the shortest measurement the CLI accepts: three calls, no precision target (for
#: tests that check records, not speed).
FAST_CLI = ["--min-time", "0.001", "--min-calls", "3", "--target-ci", "0", "--warmup-time", "0.001",
            "--warmup-calls", "1", "--warmup-max", "0", "--no-progress"]
#: :class:`~benchlib.engine.case.RunCase` settings for the shortest measurement: three calls, no precision target.
FAST_CASE = {"min_time_s": 0.0, "min_calls": 3, "warmup_time_s": 0.0, "warmup_calls": 1, "target_ci": 0.0}
#: RunCase settings for a short measurement of at least five calls (the default precision target).
FIVE_CALLS_CASE = {"min_time_s": 0.0, "min_calls": 5, "warmup_time_s": 0.0, "warmup_calls": 1}
#: The machine of a record made up for a test.
RECORD_ENV = {"cpu_model": "test cpu", "isa_flags": ["avx2"], "usable_cores": 2, "logical_cores": 2,
              "cpu_quota_cores": None, "frameworks": {"numpy": "2.0"}}


def run_cli(*argv: str, timeout: float = 900, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m benchlib ARGV`` in a child process, from the checkout, with extra environment variables."""
    return subprocess.run([sys.executable, "-m", "benchlib", *argv], capture_output=True, text=True,
                          timeout=timeout, env=child_env(**env), cwd=cwd or ROOT)


def process_gone(pid: int) -> bool:
    """The process no longer runs (a zombie waiting for a reaper counts as gone)."""
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_for(predicate: Callable[[], object], timeout: float = 120.0) -> bool:
    """Whether ``predicate`` came true within ``timeout`` seconds, polled every 50 ms."""
    # Returns as soon as the predicate holds: the timeout only bounds a hang, so it is generous.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def line_count(path: Path) -> int:
    """Lines in the file at ``path``; 0 when there is none."""
    return len(path.read_bytes().splitlines()) if path.exists() else 0


def outputs_text(notebook: Any) -> str:
    """Every text output of an executed notebook (streams and text/* data), one after another."""
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", "") if output.get("output_type") == "stream" else "")
            parts += [str(v) for k, v in output.get("data", {}).items() if k.startswith("text/")]
    return "\n".join(parts)


def first_code_cell_failure(notebook: str, parameters: dict[str, Any], tmp_path: Path) -> Any:
    """Run ``notebooks/<notebook>.ipynb`` with ``parameters`` (output folders under ``tmp_path`` unless given) into
    ``tmp_path / "out.ipynb"``, check that it failed in its first code cell of its own (the one after the parameters
    cells) and nowhere else, with no result written, and return papermill's error (its ``ename``, ``evalue``)."""
    import nbformat
    from papermill.exceptions import PapermillExecutionError

    from benchlib.notebook.suite import execute_notebook

    folders = {name: str(tmp_path / name) for name in ("results_dir", "figures_dir", "tables_dir")}
    with pytest.raises(PapermillExecutionError) as failure:
        execute_notebook(NOTEBOOKS_DIR / f"{notebook}.ipynb", tmp_path / "out.ipynb", {**folders, **parameters},
                         timeout_s=300)
    code = [c for c in nbformat.read(tmp_path / "out.ipynb", as_version=4).cells if c.cell_type == "code"]
    own = [i for i, c in enumerate(code) if not {"parameters", "injected-parameters"} & set(c.metadata.get("tags", []))]
    failing = [i for i, c in enumerate(code) if any(o.get("output_type") == "error" for o in c.outputs)]
    assert failing == [own[0]]
    results = Path(str({**folders, **parameters}["results_dir"]))
    assert not results.exists() or not any(results.iterdir())
    return failure.value


#: Packages a framework's process may load on its own; a measuring process holds only its framework's.
WATCHED = ("tensorflow", "keras", "jax", "sklearn", "pandas", "matplotlib")


def worker_and_modules(payload: dict[str, Any]) -> dict[str, Any]:
    """Child entry: the measuring worker's record, and which of :data:`WATCHED` the process then held."""
    from benchlib.engine.worker import run_case_payload

    record = run_case_payload(payload)
    return {"record": record, "modules": sorted(name for name in WATCHED if name in sys.modules)}


def measure_in_child(case: Any) -> dict[str, Any]:
    """Run ``case`` (a RunCase) through the measuring worker in a fresh process (as the launcher does)."""
    from benchlib.system.child import run_in_child

    child = run_in_child("tests.conftest:worker_and_modules", case.to_dict(), 600, what="record")
    assert child.ok, f"{child.error}\n{child.stderr_tail}"
    return child.value


def fault_case(batch: int, fault: str | None = None, backend: str = "numpy", **kwargs: Any) -> Any:
    """A short :class:`~benchlib.engine.case.RunCase` whose worker injects ``fault`` (with :func:`faults` on)."""
    from benchlib.engine.case import RunCase

    extra = (("test_fault", fault),) if fault else ()
    return RunCase(backend, batch_size=batch, min_time_s=0.05, warmup_time_s=0.0, warmup_calls=1,
                   extra=extra, **kwargs)


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker obeys a case's ``test_fault`` setting (crash, hang, wrong outputs) in this test."""
    from benchlib.engine.worker import TEST_FAULTS_ENV

    monkeypatch.setenv(TEST_FAULTS_ENV, "1")


@pytest.fixture
def tmp_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """BENCHLIB_OUTPUTS at ``tmp_path / "outputs"``, with no torch factory plan cached by an earlier test (a plan
    names files in the outputs folder it was made for)."""
    from benchlib.models.torch_factory import plan_factory

    outputs = tmp_path / "outputs"
    monkeypatch.setenv("BENCHLIB_OUTPUTS", str(outputs))
    plan_factory.cache_clear()
    return outputs


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
