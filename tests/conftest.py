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
