"""The quick run (``make reproduce QUICK=1``): every notebook gets its parameters, and everything it writes says
that it is the quick run. Unit tests: no notebook is executed."""

from __future__ import annotations

import ast

import nbformat
import pytest

from benchlib.notebook.suite import (
    ANALYSIS_NOTEBOOKS,
    FRAMEWORK_NOTEBOOKS,
    FULL,
    QUICK,
    TYPICAL_SECONDS,
    label_quick,
    notebook_parameters,
)
from benchlib.report.html import QUICK_NOTICE, write_report
from tests.conftest import NOTEBOOK_FILES, NOTEBOOKS_DIR

SUITE = FRAMEWORK_NOTEBOOKS + ANALYSIS_NOTEBOOKS
OUTPUT_FOLDERS = {"results_dir", "figures_dir", "tables_dir"}


def _parameter_names(name: str) -> set[str]:
    """The names a notebook's parameters cell assigns (what papermill can replace)."""
    notebook = nbformat.read(NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4)
    cell = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    names = set()
    for node in ast.parse(cell.source).body:
        target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
        names.add(target.id)
    return names


def test_the_quick_run_runs_every_notebook_in_the_folder() -> None:
    assert {path.stem for path in NOTEBOOK_FILES} == set(SUITE)


@pytest.mark.parametrize("name", SUITE)
def test_quick_gives_every_notebook_parameters_it_has(name: str) -> None:
    passed = notebook_parameters(name, QUICK)
    assert set(passed) - OUTPUT_FOLDERS, f"{name}: the quick run passes nothing but output folders"
    assert set(passed) <= _parameter_names(name), f"{name}: {sorted(set(passed) - _parameter_names(name))} " \
                                                  "are not parameters of the notebook"


def test_quick_measures_less_than_full_and_for_a_fixed_time() -> None:
    assert QUICK.quick and not FULL.quick
    for name in SUITE:  # a precision target would measure in interleaved rounds: several processes per case
        assert notebook_parameters(name, QUICK).get("target_ci", 0.0) == 0.0, name
    assert len(QUICK.batch_sizes) < len(FULL.batch_sizes) and QUICK.min_time_s < FULL.min_time_s
    assert len(QUICK.sweep_batch_sizes) < len(FULL.sweep_batch_sizes)
    assert QUICK.num_runs < FULL.num_runs and QUICK.ablation_num_runs < FULL.ablation_num_runs
    for name in ("scenarios", "models", "sweeps", "precision"):  # a few frameworks, not every installed one
        assert notebook_parameters(name, QUICK)["backends"], name


def test_the_quick_estimate_fits_in_five_minutes() -> None:
    assert set(TYPICAL_SECONDS["quick"]) == set(SUITE)
    assert sum(TYPICAL_SECONDS["quick"].values()) <= 4 * 60  # the suite's verification and start on top


def _executed(path, text: str) -> None:
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(1)")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/markdown": text})]
    notebook.cells = [nbformat.v4.new_markdown_cell("# A notebook"), cell]
    nbformat.write(notebook, path)


def test_the_quick_report_says_at_the_top_that_it_is_the_quick_run(tmp_path) -> None:
    _executed(tmp_path / "a.ipynb", "a measured number")
    page = write_report([tmp_path / "a.ipynb"], tmp_path / "quick.html", "benchlib", quick=True).read_text()
    assert "<title>benchlib (quick run)</title>" in page
    said = page.index("Quick run (")
    assert said < page.index("A notebook") and said < page.index("a measured number")
    for words in ("short measurements", "make reproduce</code>", "full run"):
        assert words in page[said:page.index("A notebook")], words
    full = write_report([tmp_path / "a.ipynb"], tmp_path / "full.html", "benchlib").read_text()
    assert "<title>benchlib</title>" in full and "Quick run" not in full and "quick run" not in full


def test_an_executed_quick_notebook_says_so_first_and_the_report_says_it_once(tmp_path) -> None:
    paths = [tmp_path / "a.ipynb", tmp_path / "b.ipynb"]
    for path in paths:
        _executed(path, "a measured number")
        label_quick(path, QUICK_NOTICE)
    cells = nbformat.read(paths[0], as_version=4).cells
    assert cells[0].cell_type == "markdown" and cells[0].source == QUICK_NOTICE
    assert cells[1].source == "# A notebook"
    page = write_report(paths, tmp_path / "report.html", "benchlib", quick=True).read_text()
    assert page.count("Quick run (") == 1


@pytest.mark.parametrize("quick", [1, 0])
def test_the_console_says_quick_and_verifies_the_quick_runs_model(quick: int, tmp_path, monkeypatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import subprocess

    from benchlib.notebook import suite
    from benchlib.system.env import BATCH_LOAD_ENV

    monkeypatch.setenv("BENCHLIB_OUTPUTS", str(tmp_path))
    monkeypatch.setenv(BATCH_LOAD_ENV, "0.5")
    commands, settings = [], []
    monkeypatch.setattr(suite.subprocess, "run",
                        lambda command, **_: commands.append(command) or subprocess.CompletedProcess(command, 0))
    monkeypatch.setattr(suite, "run_suite", lambda chosen, notebooks: settings.append(chosen) or suite.SuiteResult())
    assert suite.main(["--quick", str(quick), "--keep-results"]) == 0
    said = capsys.readouterr().out
    assert settings == [QUICK if quick else FULL]
    verify = commands[0][commands[0].index("verify") + 1:]
    if quick:
        assert verify == ["--models", *QUICK.verify_models] and "fnn" in QUICK.verify_models
        assert said.startswith("quick run (QUICK=1)") and "quick run finished in" in said
        assert "`make reproduce` for the full run" in said
    else:
        assert verify == [] and "quick run" not in said and "suite finished in" in said
