"""``benchlib run`` / ``report`` / ``env``: refusals before any run, and a tiny real run end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchlib.cli import main


@pytest.mark.parametrize(("argv", "option"), [
    (["--batch-sizes", "0"], "--batch-sizes"),
    (["--batch-sizes", "x"], "--batch-sizes"),
    (["--threads", "-1"], "--threads"),
    (["--min-time-s", "0"], "--min-time-s"),
    (["--min-time-s", "nan"], "--min-time-s"),
    (["--warmup-time-s", "-1"], "--warmup-time-s"),
    (["--min-calls", "0"], "--min-calls"),
    (["--timeout-s", "0"], "--timeout-s"),
    (["--backends", "caffe"], "--backends"),
    (["--backends", "numpy", "--variants", "nope"], "--variants"),
    (["--resume"], "--resume"),
])
def test_invalid_options_are_refused_with_status_2(argv: list[str], option: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        sys.exit(main(["run", *argv]))
    assert exc.value.code == 2
    assert option in capsys.readouterr().err


def test_unwritable_out_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["run", "--backends", "numpy", "--out", str(blocker / "out")]) == 2
    assert "--out" in capsys.readouterr().err
    assert main(["run", "--backends", "numpy", "--out", str(blocker)]) == 2  # --out is a folder
    assert "not a folder" in capsys.readouterr().err


def test_tiny_run_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "results" / "run.jsonl"  # run writes its records into --out's results/
    proc = subprocess.run(
        [sys.executable, "-m", "benchlib", "run", "--backends", "numpy", "--batch-sizes", "1",
         "--min-time-s", "0.05", "--warmup-time-s", "0", "--out", str(tmp_path), "--no-progress"],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "| numpy" in proc.stdout and "p50_ms" in proc.stdout
    assert str(out) in proc.stdout
    record = json.loads(out.read_text().splitlines()[0])
    assert record["status"] == "ok" and record["backend"] == "numpy" and record["outputs_valid"] is True

    report = subprocess.run([sys.executable, "-m", "benchlib", "report", str(out), "--csv", str(tmp_path / "r.csv")],
                            capture_output=True, text=True, timeout=300)
    assert report.returncode == 0, report.stderr
    assert "| numpy" in report.stdout and (tmp_path / "r.csv").exists()


def test_report_refuses_missing_path(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "/nonexistent/r.jsonl"]) == 2
    assert "PATH" in capsys.readouterr().err


def test_env_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["env", "--json"]) == 0
    env = json.loads(capsys.readouterr().out)
    assert env["usable_cores"] >= 1 and "frameworks" in env and isinstance(env["warnings"], list)
