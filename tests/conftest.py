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
QUICK = ("--min-time-s", "0.05", "--warmup-time-s", "0", "--no-progress")
#: ``benchlib run`` options for the shortest measurement the CLI accepts: three calls, no precision target (for
#: tests that check records, not speed).
FAST_CLI = ["--min-time-s", "0.001", "--min-calls", "3", "--target-ci", "0", "--warmup-time-s", "0.001",
            "--warmup-calls", "1", "--warmup-max-s", "0", "--no-progress"]
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


#: Each backend's default variant, as records name it.
DEFAULT_VARIANTS = {"numpy": "default", "pytorch": "eager", "tensorflow": "function", "jax": "jit",
                    "onnxruntime": "default", "openvino": "latency"}


def round_data(p50: float, halfwidth: float = 0.01, group: str = "run-1", rounds: int = 11,
               seed: int | str = 0, blocks: list[float] | None = None) -> dict[str, Any]:
    """A record's ``rounds`` as interleaved rounds store them: block medians whose median is ``p50`` (or
    ``blocks`` as given) and whose interval over rounds is about p50 ± ``halfwidth`` × p50, one per round."""
    import zlib

    import numpy as np

    from benchlib.engine.round_stats import round_interval

    if blocks is None:
        state = seed if isinstance(seed, int) else zlib.crc32(seed.encode())  # not hash(): the same in every run
        spread = halfwidth * rounds ** 0.5 / (1.96 * 1.2533)  # the median's standard error is 1.25 σ / √n
        values = np.exp(np.random.default_rng(state).normal(0.0, spread, rounds))
        blocks = (values * (p50 / np.median(values))).tolist()
        blocks[int(np.argsort(blocks)[len(blocks) // 2])] = p50  # the median is p50 exactly (odd rounds)
    interval = round_interval(blocks)
    return {"group": group, "n": len(blocks), "processes": 2, "block_ms": list(blocks),
            "round": list(range(len(blocks))), "interval": interval.to_dict()}


def known_record(backend: str, p50: float, batch: int = 1000, threads: int | None = None, variant: str | None = None,
                 created: str = "2026-01-01T00:00:00Z", ci: float = 0.01, case_key: str | None = None,
                 noisy: bool = False, framework_mb: float = 50.0, rounds: int = 11, group: str = "run-1",
                 **extra: object) -> dict:
    """A stored record with known numbers (the median's 95% interval is p50 ± ``ci`` × p50), measured in
    ``rounds`` interleaved rounds of the run ``group`` (0: without rounds, as a fixed-time record)."""
    import numpy as np

    variant = variant or DEFAULT_VARIANTS[backend]
    rng = np.random.default_rng(abs(hash((backend, batch, threads, variant))) % 2**32)
    measured = {"rounds": round_data(p50, ci, group, rounds, seed=f"{backend}-{variant}-{batch}-{threads}")} \
        if rounds else {}
    return {
        "schema_version": 1, "created": created, "backend": backend, "model": "fnn", "batch_size": batch,
        "threads": threads, "variant": variant, "protocol": "engine", "status": "ok", "error": None,
        "case_key": case_key or f"{backend}-{variant}-{batch}-{threads}",
        "latency_ms": {"p50": p50, "p99": p50 * 3, "iqr": p50 * (0.3 if noisy else 0.02), "mean": p50},
        "latency_ci95_ms": {"p50": [p50 * (1 - ci), p50 * (1 + ci)], "p99": [p50 * 2.5, p50 * 3.5]},
        "noisy": noisy, "noisy_reasons": ["spread: IQR 30% of the median > 10%"] if noisy else [],
        "throughput_sps": batch / (p50 / 1e3), "cpu_percent": 150.0, "rss_peak_mb": framework_mb + 35,
        "framework_mb": framework_mb, "outputs_valid": True, "warnings": [],
        "samples_ms": list(rng.lognormal(np.log(p50), 0.1, 200)), **measured, **extra,
    }


def panel_boxes(png: bytes) -> list[tuple[int, int, int, int]]:
    """The data areas (x0, y0, x1, y1) of a chart's subplots, found from their black frames.

    A frame is a near-black horizontal line with another of about the same extent below it and a continuous
    near-black left edge between them; of nested candidates (a black line drawn across a panel) the
    outermost wins.
    """
    import io

    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    dark = pixels.max(axis=2) < 90  # black spines, not the colours of the data
    height, width = dark.shape
    shortest = max(40, int(0.05 * width))
    runs: list[tuple[int, int, int]] = []
    for y in range(height):
        row = np.flatnonzero(np.diff(np.concatenate([[0], dark[y].astype(int), [0]])))
        for start, stop in zip(row[::2], row[1::2], strict=True):
            if stop - start >= shortest and not any(abs(start - x0) <= 2 and abs(stop - x1) <= 2 and y - y0 <= 3
                                                    for y0, x0, x1 in runs[-8:]):
                runs.append((y, int(start), int(stop)))
    boxes = []
    for top, x0, x1 in runs:
        # within 8 px: a tick mark on the frame's corner row lengthens the line by its own length
        below = [(y, a) for y, a, b in runs if y > top + 10 and abs(a - x0) <= 8 and abs(b - x1) <= 8]
        # the left spine lies where the two lines start, or up to a tick's length (≤ 8 px) right of a
        # line that a corner tick lengthened
        framed = [y for y, a in below
                  if any(dark[top:y, x].mean() > 0.95 for x in range(max(min(x0, a) - 1, 0), max(x0, a) + 8))]
        if framed:
            boxes.append((x0, top, x1, max(framed)))
    return [b for b in boxes if not any(o != b and o[0] <= b[0] + 3 and o[2] >= b[2] - 3 and o[1] <= b[1]
                                        and o[3] >= b[3] for o in boxes)]


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
