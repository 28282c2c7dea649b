"""The speed-level probe of the noise audit: its shape and its refusals (never its figures)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from benchlib.engine.state_probe import probe_speed_levels


def test_the_probe_returns_its_blocks_and_a_verdict() -> None:
    result = probe_speed_levels(0.3, 0.05)
    assert len(result["block_median_us"]) >= 1
    assert all(value > 0 for value in result["block_median_us"])
    assert isinstance(result["split"], bool) and result["text"]


@pytest.mark.parametrize(("seconds", "block"), [(0.0, 0.1), (1.0, 2.0), (601.0, 0.1)])
def test_bad_probe_lengths_are_refused(seconds: float, block: float) -> None:
    with pytest.raises(ValueError, match="allowed: 0 < block_s <= seconds <= 600"):
        probe_speed_levels(seconds, block)


def test_env_reports_the_probe_and_refuses_a_bad_length() -> None:
    shown = subprocess.run([sys.executable, "-m", "benchlib", "env", "--json", "--probe-s", "0.3"],
                           capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr
    audit = json.loads(shown.stdout)["noise_audit"]
    assert "speed_levels" in audit and audit["speed_level_probe"]["seconds"] == pytest.approx(0.3)
    bad = subprocess.run([sys.executable, "-m", "benchlib", "env", "--probe-s", "-1"], capture_output=True,
                         text=True, timeout=300)
    assert bad.returncode == 2 and "--probe-s=-1.0 is invalid; allowed" in bad.stderr
