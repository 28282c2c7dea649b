"""A bare install: benchlib plus exactly the dependencies pyproject.toml declares, in a fresh virtual environment.

With those alone, ``import benchlib``, the NumPy backend, ``verify``, ``run`` and ``report`` with it, and every
module of ``benchlib.report`` work; no framework is installed. The versions are requirements.txt's (``-c``).
pip reads its own configuration (index, find-links, certificates), so this needs the package index that
``make setup`` uses. One environment serves the whole module: building it takes about a minute.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from benchlib.models.zoo import MODELS
from tests.conftest import ROOT

#: What the package build reads; copied so that setuptools' build/ and *.egg-info land in the copy, not the checkout.
SOURCE_FILES = ("pyproject.toml", "README.md")
#: Variables that would let the environment's Python find the checkout's benchlib or the test run's .venv.
LEAKING_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV",
                     "__PYVENV_LAUNCHER__")
#: Every module of report/ but report.html, which builds report.html from executed notebooks (the notebooks extra).
NOTEBOOK_ONLY = {"benchlib.report.html"}


def declared_dependencies() -> list[str]:
    """``[project] dependencies`` of pyproject.toml, as written."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        return list(tomllib.load(file)["project"]["dependencies"])


def bare_env(venv: Path, workdir: Path) -> dict[str, str]:
    """The test's environment with the fresh environment first on PATH and nothing pointing back at the checkout."""
    env = {key: value for key, value in os.environ.items() if key not in LEAKING_VARIABLES}
    env["PATH"] = str(venv / "bin") + os.pathsep + env.get("PATH", "")
    env["TMPDIR"] = str(workdir)  # pip's and the build's temporary files stay in the test's folder
    env["PYTHONNOUSERSITE"] = "1"  # packages in ~/.local would hide a missing dependency
    return env


def run_in(venv: Path, workdir: Path, argv: list[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``argv`` run from ``workdir`` (outside the checkout: ``python -m`` puts the working folder on sys.path)."""
    return subprocess.run(argv, cwd=workdir, env=bare_env(venv, workdir), capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh environment holding benchlib (built from a copy of the checkout) and its declared dependencies."""
    root = tmp_path_factory.mktemp("install")
    source = root / "source"
    shutil.copytree(ROOT / "benchlib", source / "benchlib", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in SOURCE_FILES:
        shutil.copy2(ROOT / name, source / name)
    venv = root / "venv"
    # venv builds on the base interpreter, so none of the test run's packages are visible in it
    made = run_in(venv, root, [sys.executable, "-m", "venv", str(venv)])
    assert made.returncode == 0, made.stderr
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
    for argv in ([*pip, "-c", str(ROOT / "requirements.txt"), *declared_dependencies()],
                 [*pip, "--no-deps", str(source)]):
        installed = run_in(venv, root, argv, timeout=900)
        assert installed.returncode == 0, (f"{' '.join(argv)} failed (exit {installed.returncode}); pip needs the "
                                           f"package index make setup uses:\n{installed.stderr[-3000:]}")
    return venv


def test_the_environment_has_benchlib_and_its_dependencies_and_no_framework(venv: Path, tmp_path: Path) -> None:
    check = run_in(venv, tmp_path, [str(venv / "bin" / "python"), "-m", "pip", "check", "--disable-pip-version-check"])
    assert check.returncode == 0, check.stdout + check.stderr
    probe = ("import json, benchlib; from benchlib.backends.registry import available_backends; "
             "print(json.dumps({'file': benchlib.__file__, 'available': available_backends()}))")
    proc = run_in(venv, tmp_path, [str(venv / "bin" / "python"), "-c", probe])
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert Path(found["file"]).is_relative_to(venv)  # the installed copy, not the checkout
    assert found["available"] == ["numpy"]


def test_verify_numpy_passes_on_every_model(venv: Path, tmp_path: Path) -> None:
    proc = run_in(venv, tmp_path, [str(venv / "bin" / "benchlib"), "verify", "--backends", "numpy", "--json"])
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [(row["backend"], row["model"]) for row in rows] == [("numpy", model) for model in MODELS]
    assert all(row["status"] == "pass" and row["ok"] is True for row in rows), rows

    table = run_in(venv, tmp_path, [str(venv / "bin" / "python"), "-m", "benchlib", "verify", "--backends", "numpy"])
    assert table.returncode == 0, table.stderr
    assert f"{len(MODELS)} passed, 0 failed, 0 skipped" in table.stdout


def test_run_and_report_numpy(venv: Path, tmp_path: Path) -> None:
    out = tmp_path / "results" / "run.jsonl"  # what run writes in its --out folder
    proc = run_in(venv, tmp_path, [str(venv / "bin" / "benchlib"), "run", "--backends", "numpy", "--models", "fnn",
                                  "--batch-sizes", "1", "--min-time-s", "0.05", "--warmup-time-s", "0", "--out",
                                  str(tmp_path), "--no-progress"])
    assert proc.returncode == 0, proc.stderr
    record = json.loads(out.read_text().splitlines()[0])
    assert record["status"] == "ok" and record["backend"] == "numpy" and record["outputs_valid"] is True
    report = run_in(venv, tmp_path, [str(venv / "bin" / "benchlib"), "report", str(out)])
    assert report.returncode == 0, report.stderr
    assert "| numpy" in report.stdout


def test_every_report_module_imports_and_draws(venv: Path, tmp_path: Path) -> None:
    probe = f"""
import importlib, pkgutil
import pandas as pd
import benchlib.report
from matplotlib.figure import Figure

for module in pkgutil.iter_modules(benchlib.report.__path__, "benchlib.report."):
    if module.name not in {sorted(NOTEBOOK_ONLY)!r}:
        importlib.import_module(module.name)
from benchlib.report.display import people_table

assert "<table" in people_table(pd.DataFrame({{"p50_ms": [1.5]}})).to_html()  # pandas' Styler needs jinja2
figure = Figure()
figure.add_subplot().plot([1, 2])
figure.savefig({str(tmp_path / "chart.png")!r})
"""
    proc = run_in(venv, tmp_path, [str(venv / "bin" / "python"), "-c", probe])
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "chart.png").stat().st_size > 0
