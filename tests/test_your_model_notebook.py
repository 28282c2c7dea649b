"""The your_model notebook runs under papermill in the suite, on a model this test builds."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import papermill
import pytest

from benchlib.notebook.suite import ANALYSIS_NOTEBOOKS, NOTEBOOKS_DIR, TINY, run_suite
from tests.user_onnx_models import save, two_input_model


def test_parameters_are_typed_and_parsable() -> None:
    parameters = papermill.inspect_notebook(str(NOTEBOOKS_DIR / "your_model.ipynb"))
    assert parameters["model"]["inferred_type_name"] == "str"
    assert parameters["batch_sizes"]["inferred_type_name"] == "list[int]"
    assert {"input_shape", "backends", "threads", "min_time_s", "target_ci"} <= set(parameters)
    assert "your_model" in ANALYSIS_NOTEBOOKS
    cells = json.loads((NOTEBOOKS_DIR / "your_model.ipynb").read_text())["cells"]
    assert all(not cell.get("outputs") for cell in cells)  # committed without outputs


def test_notebook_runs_in_the_suite_on_a_model_built_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCHLIB_OUTPUTS", str(tmp_path / "outputs"))
    model = save(two_input_model(), tmp_path / "two.onnx")
    settings = dataclasses.replace(TINY, user_model=str(model), models_backends=("onnxruntime", "numpy"))
    result = run_suite(settings, notebooks=("your_model",), console=None)
    assert not result.failed, result.failed
    lines = (tmp_path / "outputs" / "results" / "your_model" / "your_model.jsonl").read_text().splitlines()
    records = {r["backend"]: r for r in map(json.loads, lines)}
    assert records["onnxruntime"]["status"] == "ok" and records["onnxruntime"]["outputs_valid"] is True
    assert records["onnxruntime"]["model_info"]["sha256"] and records["numpy"]["status"] == "skipped"
    assert os.path.exists(tmp_path / "outputs" / "notebooks" / "your_model.ipynb")
