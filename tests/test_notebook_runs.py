"""Notebooks as files and as papermill runs of their own: parameters cells, committed without outputs, bad
parameters refused in the first cell, a missing framework, default folders and resume.

Kept apart from tests/test_notebooks.py (which reads the one executed tiny suite), so that ``make test``'s
second pytest-xdist worker takes these while the first runs the suite.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from benchlib.notebook.suite import NOTEBOOKS_DIR, execute_notebook
from tests.conftest import NOTEBOOK_FILES, ROOT, first_code_cell_failure, outputs_text


def test_default_folders_and_resume_do_not_depend_on_the_working_directory(tmp_path: Path,
                                                                        isolated_outputs: Path) -> None:
    import papermill

    parameters = {"batch_sizes": [1], "min_time_s": 0.05, "target_ci": 0.0, "variants": []}
    runs = []
    for attempt in range(2):  # started from a folder that is not notebooks/, as `papermill` from anywhere
        target = tmp_path / f"run{attempt}.ipynb"
        papermill.execute_notebook(str(NOTEBOOKS_DIR / "00_numpy.ipynb"), str(target), parameters=parameters,
                                   cwd=str(tmp_path), kernel_name="python3", progress_bar=False)
        runs.append(nbformat.read(target, as_version=4))
    lines = (isolated_outputs / "results" / "numpy.jsonl").read_text().splitlines()
    assert len(lines) == 1, "the second run measured a case the first had finished"
    assert (isolated_outputs / "tables" / "numpy-results.csv").exists()
    assert not (tmp_path / "outputs").exists() and not (tmp_path.parent / "outputs").exists()
    assert "resuming: 1 case(s) already done; they are not measured again" in outputs_text(runs[1])
    import pandas as pd

    shown = pd.read_csv(isolated_outputs / "tables" / "numpy-results.csv")  # written again by the second run
    assert shown[["backend", "batch_size", "status"]].values.tolist() == [["numpy", 1, "ok"]]


def test_committed_notebooks_have_no_outputs() -> None:
    assert NOTEBOOK_FILES
    for path in NOTEBOOK_FILES:
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{path.name} carries outputs"


def test_the_package_finds_the_checkouts_notebooks_and_outputs_from_any_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # both count folders up from their own module: a module moved to another depth must count again
    from benchlib.system.paths import OUTPUTS_ENV, outputs_dir

    monkeypatch.delenv(OUTPUTS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert NOTEBOOKS_DIR == ROOT / "notebooks" and (NOTEBOOKS_DIR / "00_numpy.ipynb").exists()
    assert outputs_dir() == ROOT / "outputs"


def test_each_notebook_has_one_parameters_cell_with_commented_literals() -> None:
    import papermill

    shared = {"results_dir", "figures_dir", "tables_dir"}
    for path in NOTEBOOK_FILES:
        notebook = nbformat.read(path, as_version=4)
        tagged = [c for c in notebook.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, path.name
        inferred = papermill.inspect_notebook(str(path))
        assert shared <= set(inferred), f"{path.name} lacks the shared output parameters"
        lines = [line for line in tagged[0].source.splitlines() if line.strip()]
        assert len(inferred) == len(lines), f"{path.name}: a parameter line papermill cannot parse"
        for name, info in inferred.items():
            assert info["help"], f"{path.name}: parameter {name} has no comment"
            assert info["inferred_type_name"] != "None", f"{path.name}: parameter {name} has no type"


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"batch_sizes": [0]}, "batch_sizes=0 is invalid; allowed: an integer from 1"),
        ({"min_time_s": -1.0}, "min_time_s=-1.0 is invalid"),
        ({"threads": -2}, "threads=-2 is invalid"),
        ({"backend": "caffe"}, "backend='caffe' is unknown; allowed: numpy, pytorch"),
    ],
)
def test_bad_parameters_fail_in_the_first_code_cell(tmp_path: Path, parameters: dict, message: str) -> None:
    assert message in str(first_code_cell_failure("00_numpy", parameters, tmp_path).evalue)


def test_missing_framework_notebook_says_so_and_finishes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCHLIB_BLOCK_IMPORTS", "openvino")
    out = execute_notebook(NOTEBOOKS_DIR / "05_openvino.ipynb", tmp_path / "out.ipynb",
                           {"batch_sizes": [1], "min_time_s": 0.05, "results_dir": str(tmp_path / "results"),
                            "figures_dir": str(tmp_path / "figures"), "tables_dir": str(tmp_path / "tables")})
    executed = nbformat.read(out, as_version=4)
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs]
    assert "openvino is NOT available: install it with `pip install openvino onnx`" in outputs[0]["text"]
    records = [json.loads(line) for line in (tmp_path / "results" / "openvino.jsonl").read_text().splitlines()]
    assert records and {r["status"] for r in records} == {"skipped"}
    assert all("openvino" in r["error"] for r in records)
