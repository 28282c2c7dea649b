"""Every notebook runs under papermill with tiny parameters; what each produced is checked."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import nbformat
import pytest

from benchlib.backends import BACKEND_NAMES, available_backends
from benchlib.protocols.article.settings import ARTICLE_ORDER
from benchlib.suite import FRAMEWORK_NOTEBOOKS, NOTEBOOKS_DIR, execute_notebook

NOTEBOOK_FILES = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))


def _backend_parameter(name: str) -> str:
    """The ``backend`` literal in a framework notebook's parameters cell."""
    notebook = nbformat.read(NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4)
    cell = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    return re.search(r'^backend: str = "(\w+)"', cell.source, re.MULTILINE).group(1)


def test_every_backend_has_one_framework_notebook() -> None:
    backends = [_backend_parameter(name) for name in FRAMEWORK_NOTEBOOKS]
    assert sorted(backends) == sorted(BACKEND_NAMES)


def test_every_notebook_in_the_folder_is_executed(suite) -> None:
    outputs, result = suite
    assert result.failed == {}
    executed = {path.stem for path in result.executed}
    assert {path.stem for path in NOTEBOOK_FILES} <= executed, "a notebook exists that the suite does not run"
    for name in executed:
        notebook = nbformat.read(outputs / "notebooks" / f"{name}.ipynb", as_version=4)
        errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        assert errors == [], f"{name} has an error output"


def test_framework_notebooks_append_results(suite) -> None:
    outputs, _ = suite
    installed = set(available_backends())
    for backend in BACKEND_NAMES:
        lines = (outputs / "results" / f"{backend}.jsonl").read_text().splitlines()
        records = [json.loads(line) for line in lines]
        assert records and all(r["backend"] == backend for r in records)
        expected = "ok" if backend in installed else "skipped"
        assert {r["status"] for r in records} == {expected}


def test_figures_are_valid_non_empty_images(suite) -> None:
    from PIL import Image

    outputs, _ = suite
    pngs = sorted((outputs / "figures").glob("*.png"))
    names = {path.stem for path in pngs}
    assert {f"{b}-latency" for b in BACKEND_NAMES} <= names
    assert {"comparison-p50-p99", "comparison-latency-ecdf", "comparison-throughput", "comparison-cpu-memory"} <= names
    for png in pngs:
        with Image.open(png) as image:
            image.verify()
        with Image.open(png) as image:
            assert image.width > 100 and image.height > 100
            # a blank canvas has one colour; a chart has axes, text and data
            assert len(image.convert("RGB").getcolors(maxcolors=1_000_000) or []) > 10, png.name
        svg = png.with_suffix(".svg")
        assert svg.stat().st_size > 1000 and ElementTree.parse(svg).getroot().tag.endswith("svg")


def test_comparison_tables_list_every_framework(suite) -> None:
    import pandas as pd

    outputs, _ = suite
    availability = pd.read_csv(outputs / "tables" / "comparison-availability.csv")
    assert list(availability["backend"]) == list(BACKEND_NAMES)
    installed = set(available_backends())
    for _, row in availability.iterrows():
        assert row["state"] == ("measured" if row["backend"] in installed else "not available")
    latency = (outputs / "tables" / "comparison-fair-latency_ms.md").read_text()
    for name in ("PyTorch", "TensorFlow", "JAX", "ONNX", "OpenVINO"):
        assert re.search(rf"\| {name} +\|", latency), name
    for metric in ("latency_ms", "cpu_percent", "memory_mb"):  # one row per framework, one configuration
        fair = pd.read_csv(outputs / "tables" / f"comparison-fair-{metric}.csv")
        # the article's tables: its five frameworks (LiteRT and the NumPy baseline are not among them)
        assert fair["Framework"].is_unique and len(fair) == len(installed & set(ARTICLE_ORDER)), metric
    comparison = nbformat.read(outputs / "notebooks" / "comparison.ipynb", as_version=4)
    said = "".join(o.get("data", {}).get("text/markdown", "") for c in comparison.cells for o in c.get("outputs", []))
    assert "**Configuration:** batch size 1, each framework's default variant, the framework's default threads" in said


def _outputs_text(notebook: nbformat.NotebookNode) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", "") if output.get("output_type") == "stream" else "")
            parts += [str(v) for k, v in output.get("data", {}).items() if k.startswith("text/")]
    return "\n".join(parts)


def test_notebooks_show_people_tables_without_framework_spam(suite) -> None:
    outputs, result = suite
    for path in result.executed:
        text = _outputs_text(nbformat.read(path, as_version=4))
        for chatter in ("oneDNN custom operations", "without encryption", "absl::", "run/s]", "it/s]"):
            assert chatter not in text, f"{path.name} shows {chatter!r}"
        assert "row_heading" not in text, f"{path.name} shows a pandas index"
        assert not re.search(r"<td[^>]*>[^<]*\.\.\.</td>", text), f"{path.name} truncates a table cell"
    knobs = _outputs_text(nbformat.read(outputs / "notebooks" / "04_onnxruntime.ipynb", as_version=4))
    if "onnxruntime" in set(available_backends()):
        assert "parallel" in knobs  # the variant the text above the table describes


def test_each_notebook_has_a_log_with_its_chatter(suite) -> None:
    outputs, result = suite
    assert set(result.logs) == {path.stem for path in NOTEBOOK_FILES}
    for name, log in result.logs.items():
        assert log == outputs / "logs" / f"{name}.log" and log.read_text().startswith(f"# {name}:")


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
    assert "resuming: 1 case(s) already done; they are not measured again" in _outputs_text(runs[1])
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
    from papermill.exceptions import PapermillExecutionError

    with pytest.raises(PapermillExecutionError) as failure:
        execute_notebook(NOTEBOOKS_DIR / "00_numpy.ipynb", tmp_path / "out.ipynb",
                         {**parameters, "results_dir": str(tmp_path / "results")})
    assert message in str(failure.value.evalue)
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    code = [c for c in executed.cells if c.cell_type == "code"]
    tags = [c.metadata.get("tags", []) for c in code]
    first_own = next(i for i, t in enumerate(tags) if "parameters" not in t and "injected-parameters" not in t)
    failing = next(i for i, c in enumerate(code) if any(o.get("output_type") == "error" for o in c.outputs))
    assert failing == first_own
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())


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
