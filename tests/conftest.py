"""Shared fixtures: every test writes generated files under a temporary outputs folder."""

from __future__ import annotations

import os
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
    from benchlib.suite import TINY, run_suite

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
