"""``benchlib results-page``: a results folder as a page under docs/results/, from a real tiny run, and bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchlib.cli import main
from benchlib.report.results_page import MARKER, locate, machine_slug, suite_mode
from benchlib.report.results_sections import isa_summary, noise_audit
from tests.conftest import child_env


@pytest.fixture(scope="module")
def run_outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ``outputs/`` folder whose ``results/`` holds the records of a tiny real ``benchlib run``."""
    outputs = tmp_path_factory.mktemp("run") / "outputs"
    proc = subprocess.run(  # run keeps its records in outputs/results/run.jsonl
        [sys.executable, "-m", "benchlib", "run", "--backends", "numpy", "onnxruntime", "--batch-sizes", "1",
         "--min-time-s", "0.05", "--target-ci", "0", "--out", str(outputs), "--no-progress"],
        capture_output=True, text=True, timeout=300, env=child_env(BENCHLIB_OUTPUTS=str(outputs)), check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return outputs


def test_a_page_from_a_real_run(run_outputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = tmp_path / "docs" / "results"
    assert main(["results-page", str(run_outputs), "--docs", str(docs)]) == 0
    pages = [p for p in docs.glob("*.md") if p.name != "README.md"]
    assert len(pages) == 1
    page = pages[0]
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)?-\d+c-\d{4}-\d{2}-\d{2}\.md", page.name), page.name
    text = page.read_text(encoding="utf-8")
    assert text.startswith(MARKER)
    for heading in ("## Machine", "## Frameworks", "## Settings", "## Comparison", "## Models", "## Precision",
                    "## Scenarios", "## Noise audit", "## Charts"):
        assert heading in text, heading
    assert "single commands, not a suite run" in text  # a `benchlib run` folder is neither quick nor full
    assert str(run_outputs.parent) not in text  # the folder is named, not this machine's path to it
    for fact in ("ISA flags", "OPENBLAS_CORETYPE", "thread variables", "load average"):
        assert fact in text, fact
    comparison = text.split("## Comparison", 1)[1].split("\n## ", 1)[0]
    assert "onnxruntime" in comparison and "numpy" in comparison and "p50 (ms)" in comparison
    # the charts: drawn from the records (the folder has none), beside the page and linked from it
    charts = sorted((docs / page.stem).glob("*.png"))
    assert 2 <= len(charts) <= 4
    for chart in charts:
        assert f"]({page.stem}/{chart.name})" in text
        assert chart.read_bytes().startswith(b"\x89PNG")
    index = (docs / "README.md").read_text(encoding="utf-8")
    assert f"]({page.name})" in index
    assert str(page) in capsys.readouterr().out
    # written again: the same page, replaced (it carries the marker)
    assert main(["results-page", str(run_outputs), "--docs", str(docs)]) == 0
    assert [p.name for p in docs.glob("*.md") if p.name != "README.md"] == [page.name]


def test_the_folder_of_results_files_itself_and_copied_charts(run_outputs: Path, tmp_path: Path) -> None:
    figures = run_outputs / "figures"
    figures.mkdir(exist_ok=True)
    for name in ("comparison-p50-p99", "sweep_throughput", "a", "b", "c"):
        (figures / f"{name}.png").write_bytes(b"\x89PNG\r\n\x1a\n" + name.encode())
    try:
        assert main(["results-page", str(run_outputs / "results"), "--docs", str(tmp_path / "r")]) == 0  # no charts
        assert main(["results-page", str(run_outputs), "--docs", str(tmp_path / "o")]) == 0
    finally:
        for png in figures.glob("*.png"):
            png.unlink()
        figures.rmdir()
    page = next(p for p in (tmp_path / "o").glob("*.md") if p.name != "README.md")
    copied = sorted(p.name for p in (tmp_path / "o" / page.stem).glob("*.png"))
    assert len(copied) == 4 and {"comparison-p50-p99.png", "sweep_throughput.png"} <= set(copied)


@pytest.mark.parametrize("make", ["empty", "no records", "missing"])
def test_a_folder_without_records_is_refused(make: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "outputs"
    if make != "missing":
        (folder / "results").mkdir(parents=True)
    if make == "no records":
        (folder / "results" / "broken.jsonl").write_text("not json\n")
    docs = tmp_path / "docs"
    assert main(["results-page", str(folder), "--docs", str(docs)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("benchlib results-page: error: RESULTS_FOLDER=")
    assert str(folder) in err and "allowed:" in err
    assert not docs.exists()  # nothing written


def test_a_page_not_written_by_results_page_is_never_replaced(run_outputs: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "README.md").write_text("# my own index\n")
    assert main(["results-page", str(run_outputs), "--docs", str(docs)]) == 2
    assert "was not written by benchlib results-page" in capsys.readouterr().err
    assert (docs / "README.md").read_text() == "# my own index\n"


def test_machine_slug() -> None:
    assert machine_slug({"cpu_model": "AMD EPYC 7B13", "usable_cores": 2}) == "amd-epyc-2c"
    assert machine_slug({"cpu_model": "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", "usable_cores": 8}) == \
        "intel-xeon-8c"
    assert machine_slug({"cpu_model": "AMD EPYC", "logical_cores": 4}) == "amd-epyc-4c"
    assert machine_slug(None) == "unknown-cpu"


def test_quick_or_full_as_the_suite_marks_it(tmp_path: Path) -> None:
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "sweep-quick.jsonl").write_text("")
    assert suite_mode(locate(tmp_path))[0] == "quick"
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    executed = {"cells": [], "metadata": {"papermill": {"parameters": {"quick": False}}}}
    (notebooks / "sweeps.ipynb").write_text(json.dumps(executed))
    assert suite_mode(locate(tmp_path)) == ("full", "the executed notebook sweeps.ipynb ran with quick=False")
    assert suite_mode(locate(tmp_path / "results"))[0] == "quick"  # the results folder alone: its file names


def test_isa_summary_and_speed_levels() -> None:
    summary = isa_summary(["avx2", "fma", "avx512f", "avx512_bf16", "amx_tile"])
    assert summary.startswith("AVX2, FMA; AVX-512 (2 extensions)") and "AMX: amx_tile" in summary
    record = {"rounds": {"group": "g1", "n": 12, "processes": 2, "idle_cpu_share": 0.004, "stop": "target met"},
              "machine_levels": {"split": True, "shares": [0.6, 0.4], "ratios": [1.0, 1.9], "near_even": True}}
    text = "\n".join(noise_audit([record, {**record, "machine_levels": record["machine_levels"]}]))
    assert "two speed levels in 1 of them" in text and "40%" in text and "1.90× the fast" in text
    assert "No case was measured in interleaved rounds" in "\n".join(noise_audit([{"status": "ok"}]))


def test_a_page_never_carries_the_path_of_the_machine_it_was_made_on(tmp_path: Path) -> None:
    from benchlib.report.results_page import portable_paths

    root = tmp_path / "outputs"
    inside = str(root / "models" / "fnn-1.onnx")
    records = [{"model": inside}, {"model": "/elsewhere/net.onnx"}, {"model": "fnn"}, {"model": None}]
    assert [r["model"] for r in portable_paths(records, root)] == ["outputs/models/fnn-1.onnx", "net.onnx", "fnn", None]
    assert records[0]["model"] == inside  # the records themselves are not changed
