"""Records, file names and parameters are shown as text, never run as markup; odd figures never rank.

Hostile records are built with the project's own record builder (or written as the JSON lines a
user's odd file holds) and go through the real ``report`` command, the real notebooks (papermill)
and the real report builder (:func:`benchlib.report.html.write_report`). The HTML is parsed, and no
element, attribute or script may come from the data.
"""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pandas as pd
import pytest

from benchlib.backends.registry import BACKEND_NAMES
from benchlib.cli import main
from benchlib.notebook.suite import NOTEBOOKS_DIR, execute_notebook
from benchlib.results.schema import failed_record, make_record
from benchlib.results.store import append_record
from tests.conftest import round_data

SCRIPT = '<script>alert("x")</script>'
IMG = "<img src=x onerror=alert(1)>"
HOVER = "<b onmouseover=alert(3)>bf16</b>"
LINK = "[click](javascript:alert(5))"
MODEL_FILE = "<img src=x onerror=alert(7)>.onnx"
ENV = {"cpu_model": f"CPU {SCRIPT}", "usable_cores": 2, "logical_cores": 2, "isa_flags": ["avx2"], "key": "E1"}
LATENCY = {"p50": 1.0, "p99": 2.0, "mean": 1.1, "min": 0.9, "max": 3.0, "p90": 1.5, "p95": 1.8}
SAMPLES = [0.9, 1.0, 1.0, 1.1, 2.0]


def _case(backend: str = "numpy", **fields: Any) -> dict[str, Any]:
    """A case as the record builder takes it; its key names every field, so no two cases collide."""
    case = {"backend": backend, "model": "fnn", "batch_size": 1, "threads": None, "variant": None,
            "protocol": "engine", "scenario": "single", "precision": "fp32", **fields}
    case["case_key"] = "|".join(f"{k}={case[k]}" for k in sorted(case))
    return case


def _ok(case: dict[str, Any], p50: float = 1.0, **fields: Any) -> dict[str, Any]:
    """An ok record measured in the rounds of one run (so the rule can rank it), its interval ±1%."""
    latency = {k: v * p50 for k, v in LATENCY.items()}
    base = {"latency_ms": latency, "latency_ci95_ms": {"p50": [p50 * 0.99, p50 * 1.01]}, "throughput_sps": 1000 / p50,
            "cpu_percent": 99.0, "framework_mb": 12.0, "outputs_valid": True, "max_abs_err": 1e-7, "env": ENV,
            "env_key": "E1", "samples_ms": [s * p50 for s in SAMPLES], "stopping": {"halfwidth": 0.01},
            "rounds": round_data(p50, 0.01, group="E1-run", seed=str(case["case_key"]))}
    return make_record(case, **{**base, **fields})


def _server(bound: float, protocol: str = "loadgen", result: str | None = None, qps: float | None = None,
            **fields: Any) -> dict[str, Any]:
    """A Server record as the scenario worker writes it: its figure is a rate within ``bound`` (or none)."""
    settings = {"latency_bound_ms": bound, "streams": 1, "min_duration_s": 0.5, "min_queries": 1024}
    case = _case(scenario="Server", protocol=protocol, extra=settings)
    return make_record(case, latency_ms={"p50": 9850.0, "p99": 20000.0, "p90": 15000.0}, throughput_sps=0.5,
                       cpu_percent=100.0, env=ENV, env_key="E1", latency_bound_ms=bound, server_max_qps=qps,
                       server_result=result or f"no rate met the bound of {bound:g} ms (lowest rate tried: 5.0 "
                                               f"queries/s)",
                       metric={"name": "highest rate within the bound", "value": qps, "unit": "queries/s"},
                       scenario_settings={"scenario": "Server", **settings}, loadgen={"validity": "INVALID"},
                       **fields)


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    for record in records:
        append_record(path, record)
    return path


def _report(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = main(["report", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _rows(markdown: str, word: str) -> list[list[str]]:
    """The cells of each Markdown table row that holds ``word``."""
    return [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in markdown.splitlines() if line.startswith("|") and word in line]


# -- finding live markup in HTML -------------------------------------------------------------------------

class _Live(HTMLParser):
    """Every element, attribute or script that the test data could have made live, and all text shown."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.live: list[str] = []
        self.text: list[str] = []
        self._script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.live.append(f"<{tag} {name}={value!r}>")
        if tag in ("img", "iframe", "object", "embed") and dict(attrs).get("src") == "x":
            self.live.append(f"<{tag} src=x>")
        self._script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._script = False

    def handle_data(self, data: str) -> None:
        if self._script and "alert(" in data:
            self.live.append(f"<script>{data[:60]}")
        elif not self._script:
            self.text.append(data)


def live_markup(html_text: str) -> tuple[list[str], str]:
    """(live elements made from the data, the text a reader sees) of an HTML document or fragment."""
    parser = _Live()
    parser.feed(html_text)
    parser.close()
    return parser.live, "".join(parser.text)


def _html_outputs(notebook: nbformat.NotebookNode) -> list[str]:
    return [str(output["data"]["text/html"]) for cell in notebook.cells if cell.cell_type == "code"
            for output in cell.get("outputs", []) if "text/html" in output.get("data", {})]


def _errors(notebook: nbformat.NotebookNode) -> list[str]:
    return [f"{o.get('ename')}: {o.get('evalue')}" for cell in notebook.cells if cell.cell_type == "code"
            for o in cell.get("outputs", []) if o.get("output_type") == "error"]


# -- the display path, one call at a time ------------------------------------------------------------------

def test_people_tables_show_markup_in_cells_headers_and_caption_as_text() -> None:
    from benchlib.report.display import people_table

    frame = pd.DataFrame({"backend": [SCRIPT, "numpy"], IMG: [1.0, 2.0], "note": [HOVER, LINK],
                          "model": [IMG, IMG]})  # a constant column goes into the caption
    rendered = people_table(frame, caption=f"Results of {SCRIPT}").to_html()
    live, text = live_markup(rendered)
    assert live == []
    for shown in (SCRIPT, IMG, HOVER):
        assert shown in text  # shown as its characters, not dropped


def test_report_html_keeps_markdown_outputs_of_record_values_inert(tmp_path: Path) -> None:
    """A notebook that shows records as a Markdown table (the scenarios notebook does) cannot put live
    markup into report.html: the report builder renders every Markdown output inert."""
    from benchlib.report.html import write_report
    from benchlib.report.scenarios import insights, summary_table
    from benchlib.report.tables import to_markdown

    records = [_server(10.0, result=f"no rate met {IMG}", model=IMG, variant=SCRIPT, qps=None),
               _server(30.0, qps=300.0, model=IMG)]
    records[0]["backend"] = SCRIPT
    shown = [to_markdown(summary_table(records)), "\n".join(f"- {s}" for s in insights(records)), f"see {LINK}"]
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("display(Markdown(...))")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/markdown": text}) for text in shown]
    notebook.cells.append(cell)
    nbformat.write(notebook, tmp_path / "scenarios.ipynb")
    page = write_report([tmp_path / "scenarios.ipynb"], tmp_path / "report.html").read_text(encoding="utf-8")
    live, text = live_markup(page)
    assert live == []
    assert SCRIPT in text and IMG in text and LINK in text


# -- `report`: unknown backends, scenario records, failed and odd records ----------------------------------

def test_report_refuses_a_record_whose_backend_no_backend_has(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    results = _write(tmp_path / "r.jsonl", [_ok(_case()), _ok(_case(SCRIPT)), _ok(_case("caffe"))])
    markdown = tmp_path / "table.md"
    code, out, err = _report(capsys, str(results), "--markdown", str(markdown))
    assert code == 2
    assert f"{results}:2: backend={SCRIPT!r} is unknown; allowed: {', '.join(BACKEND_NAMES)}" in err
    assert f"{results}:3: backend='caffe' is unknown" in err
    assert "2 record(s) name a backend that does not exist" in err
    assert out == "" and not markdown.exists()  # nothing shown or written from a refused input
    assert "Traceback" not in err


def test_report_lists_scenario_records_in_their_own_table_keyed_by_their_settings(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    results = _write(tmp_path / "r.jsonl", [
        _ok(_case(), p50=0.5), _ok(_case("onnxruntime"), p50=0.25),
        _server(10.0), _server(30.0, qps=300.0, result="met the p99 bound of 30 ms at 300 queries/s"),
        _server(20.0, protocol="engine"),  # an odd file: a Server record that says it is an engine record
    ])
    code, out, err = _report(capsys, str(results))
    assert code == 0, err
    single, _, scenarios = out.partition("LoadGen scenario runs")
    assert scenarios, out
    assert "Server" not in single and "9,850" not in single  # never a row of the ranked table
    header = _rows(single, "p50_ms")[0]
    ranked = [(row[header.index("backend")], row[header.index("rank")]) for row in _rows(single, "| fnn")]
    assert ranked == [("onnxruntime", "1"), ("numpy", "2")]
    rows = _rows(scenarios, "Server")
    assert len(rows) == 3  # different bounds are different cases
    header = _rows(scenarios, "scenario")[0]
    by_settings = {row[header.index("settings")]: row for row in rows}
    assert set(by_settings) == {f"p99 bound {b} ms, 1 stream(s), at least 0.5 s, at least 1024 queries"
                                for b in (10, 20, 30)}
    assert by_settings[next(s for s in by_settings if "bound 10 ms" in s)][header.index("result")].startswith(
        "no rate met the bound of 10 ms")
    assert by_settings[next(s for s in by_settings if "bound 30 ms" in s)][header.index("value")] == "300"
    assert "rank" not in header and "vs_fastest" not in header


def test_report_shows_failed_records_without_figures(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    broken = failed_record(_case("onnxruntime"), "failed", "child process failed: killed",
                           latency_ms={"p50": 0.3, "p99": 0.4}, throughput_sps=3333.0, cpu_percent=55.5,
                           framework_mb=77.7)
    results = _write(tmp_path / "r.jsonl", [_ok(_case()), broken])
    code, out, err = _report(capsys, str(results))
    assert code == 0, err
    (row,) = _rows(out, "| failed")
    assert "child process failed: killed" in row
    for figure in ("0.300", "0.400", "3,333", "55.5", "77.7"):
        assert figure not in row
    header = _rows(out, "p50_ms")[0]
    assert all(row[header.index(c)] == "-" for c in ("p50_ms", "p99_ms", "throughput_sps", "cpu_percent",
                                                       "framework_mb", "vs_fastest"))
    assert row[header.index("rank")] == ""


def test_report_shows_null_nan_and_infinite_figures_as_such_and_never_ranks_them(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Lines of a user's odd file: JSON allows NaN and Infinity where the schema allows any number."""
    records = [_ok(_case()), _ok(_case("onnxruntime"), p50=0.5),
               _ok(_case("openvino"), p50=0.25, outputs_valid=False, max_abs_err=None),  # NaN outputs: null
               _ok(_case("jax"), p50=0.1, framework_mb=float("inf"),
                   latency_ci95_ms={"p50": [float("nan"), float("inf")]}),
               _ok(_case("pytorch"), latency_ms={"p50": None, "p99": None})]
    path = tmp_path / "odd.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))  # json.dumps writes NaN and Infinity
    assert "Infinity" in path.read_text() and "NaN" in path.read_text()
    code, out, err = _report(capsys, str(path))
    assert code == 0, err
    assert "Traceback" not in err
    header = _rows(out, "p50_ms")[0]
    rows = {row[header.index("backend")]: row for row in _rows(out, "| fnn")}
    assert rows["openvino"][header.index("rank")] == "" or rows["openvino"][header.index("rank")] == "-"
    assert "outputs invalid (max abs err unknown: NaN outputs, or none recorded); not ranked" in \
        rows["openvino"][header.index("note")]
    assert rows["pytorch"][header.index("p50_ms")] == "-" and "not ranked" in rows["pytorch"][header.index("note")]
    assert rows["pytorch"][header.index("rank")] in ("", "-")
    assert rows["jax"][header.index("framework_mb")] == "inf" and rows["jax"][header.index("rank")] == "1"
    assert [rows[b][header.index("rank")] for b in ("jax", "onnxruntime", "numpy")] == ["1", "2", "3"]


# -- NaN outputs and NaN initializers: run, report and what your_model shows -------------------------------

def _nan_model(path: Path, kind: str) -> Path:
    """An ONNX model whose outputs are all NaN: NaN weights, or the square root of a negative number."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])
    if kind == "initializers":
        weight = numpy_helper.from_array(np.full((4, 3), np.nan, dtype=np.float32), "weight")
        nodes, initializers = [helper.make_node("MatMul", ["x", "weight"], ["y"])], [weight]
    else:
        weight = numpy_helper.from_array(np.ones((4, 3), dtype=np.float32), "weight")
        one = numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one")
        nodes = [helper.make_node("MatMul", ["x", "weight"], ["m"]), helper.make_node("Abs", ["m"], ["a"]),
                 helper.make_node("Add", ["a", "one"], ["b"]), helper.make_node("Neg", ["b"], ["n"]),
                 helper.make_node("Sqrt", ["n"], ["y"])]
        initializers = [weight, one]
    model = helper.make_model(helper.make_graph(nodes, "nan", [x], [y], initializer=initializers),
                              opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("kind", ["outputs", "initializers"])
def test_nan_models_run_report_and_show_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                          kind: str) -> None:
    from benchlib import notebook as nb
    from benchlib.report.display import people_table
    from benchlib.results.store import read_records

    model = _nan_model(tmp_path / f"nan-{kind}.onnx", kind)
    results = tmp_path / "results" / "run.jsonl"  # what run writes in its --out folder
    code = main(["run", "--model", str(model), "--backends", "onnxruntime", "--batch-sizes", "1", "--min-time-s",
                 "0.02", "--min-calls", "5", "--target-ci", "0", "--out", str(tmp_path), "--no-progress"])
    out = capsys.readouterr()
    assert code == 0, out.err
    (record,) = read_records(results)[0]
    assert record["status"] == "ok" and record["outputs_valid"] is False and record["max_abs_err"] is None
    assert "max abs err unknown: NaN outputs, or none recorded); not ranked" in out.out
    code, shown, err = _report(capsys, str(results))
    assert code == 0 and "not ranked" in shown and "Traceback" not in err
    # what the your_model notebook shows of these records
    table = nb.results_table([record])
    assert table.loc[0, "rank"] == "" and pd.isna(table.loc[0, "vs_fastest"])
    live, text = live_markup(people_table(table).to_html())
    assert live == [] and "not ranked" in text
    sentences = nb.insights_view([record])._repr_html_()
    assert "NaN outputs" in sentences and "left out of the rankings" in sentences


# -- the notebooks and report.html ---------------------------------------------------------------------------

def _hostile_records() -> list[dict[str, Any]]:
    """Markup in every text field a notebook shows, on records of every kind: ok, other configurations,
    an unknown backend, noisy, busy, invalid, failed, skipped, and LoadGen scenario records."""
    return [
        _ok(_case(model=IMG)),  # the compared configuration (default variant and threads)
        _ok(_case(model=IMG, variant=IMG, threads=2), p50=1.2),  # another configuration
        _ok(_case(SCRIPT, model=IMG), p50=0.8),
        _ok(_case("openvino", model=IMG), p50=0.7, noisy=True, noisy_reasons=[SCRIPT],
            warnings=[f"busy machine: {SCRIPT}"], latency_ms={**LATENCY, "iqr": 0.5}),
        _ok(_case("pytorch", model=IMG, precision=HOVER), p50=0.6, outputs_valid=False, max_abs_err=0.5),
        failed_record(_case("onnxruntime", model=IMG), "failed", f"crashed {SCRIPT} {LINK}", env=ENV,
                      latency_ms={"p50": 0.3}, throughput_sps=3333.0, cpu_percent=55.5),
        failed_record(_case("jax", model=IMG), "skipped", f"not installed: {IMG}", env=ENV),
        _server(10.0, result=f"no rate met the bound of 10 ms {IMG}", model=IMG),
        _server(30.0, qps=300.0, result="met the p99 bound of 30 ms", model=IMG),
        _server(20.0, protocol="engine", model=IMG),
    ]


def _nan_records() -> list[dict[str, Any]]:
    """Null, NaN and infinite figures, as a run of a NaN model or a user's odd file leaves them."""
    return [_ok(_case()), _ok(_case("onnxruntime"), p50=0.5),
            _ok(_case("openvino"), p50=0.25, outputs_valid=False, max_abs_err=None),  # NaN outputs are stored so
            _ok(_case("jax"), p50=0.4, framework_mb=float("inf"), latency_ci95_ms={"p50": [float("nan"), None]},
                stopping={"halfwidth": float("nan")}),
            _ok(_case("pytorch"), latency_ms={"p50": None, "p99": None}, throughput_sps=None)]


def _comparison(folder: Path, records: list[dict[str, Any]], raw: bool = False) -> nbformat.NotebookNode:
    """Run the comparison notebook over a results folder holding ``records`` (``raw``: written as JSON lines
    with NaN and Infinity, as a user's file may hold them; else through the results writer)."""
    results = folder / "results"
    results.mkdir(parents=True)
    if raw:
        (results / "odd.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    else:
        _write(results / "hostile.jsonl", records)
    target = folder / "comparison.ipynb"
    execute_notebook(NOTEBOOKS_DIR / "comparison.ipynb", target,
                     {"results_dir": str(results), "figures_dir": str(folder / "figures"),
                      "tables_dir": str(folder / "tables"), "batch_size": 1, "threads": "default"}, timeout_s=600)
    return nbformat.read(target, as_version=4)


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The comparison notebook over hostile records, your_model on a file named with markup, and report.html.

    A failing notebook is kept (papermill saves it with its error) so that each test says what went wrong.
    """
    from papermill.exceptions import PapermillExecutionError

    from benchlib.report.html import write_report
    from tests.user_onnx_models import save, two_input_model

    root = tmp_path_factory.mktemp("hostile")
    previous = os.environ.get("BENCHLIB_OUTPUTS")
    os.environ["BENCHLIB_OUTPUTS"] = str(root / "outputs")
    out: dict[str, Any] = {"root": root}
    try:
        try:
            out["comparison"] = _comparison(root / "comparison", _hostile_records())
        except PapermillExecutionError as exc:
            out["comparison_error"] = str(exc)
        model = save(two_input_model(), root / MODEL_FILE)
        target = root / "your_model.ipynb"
        try:
            execute_notebook(NOTEBOOKS_DIR / "your_model.ipynb", target,
                             {"model": str(model), "backends": ["onnxruntime"], "batch_sizes": [1],
                              "min_time_s": 0.05, "target_ci": 0.0, "results_dir": str(root / "ym" / "results"),
                              "figures_dir": str(root / "ym" / "figures"), "tables_dir": str(root / "ym" / "tables")},
                             timeout_s=600)
        except PapermillExecutionError as exc:
            out["your_model_error"] = str(exc)
        if target.exists():
            out["your_model"] = nbformat.read(target, as_version=4)
        pages = [p for p in (root / "comparison" / "comparison.ipynb", target) if p.exists()]
        out["report"] = write_report(pages, root / "report.html", "hostile").read_text(encoding="utf-8")
    finally:
        if previous is None:
            os.environ.pop("BENCHLIB_OUTPUTS", None)
        else:
            os.environ["BENCHLIB_OUTPUTS"] = previous
    return out


def test_notebooks_and_report_html_show_markup_from_records_and_file_names_as_text(executed: dict) -> None:
    assert "comparison_error" not in executed, executed.get("comparison_error")
    assert "your_model_error" not in executed, executed.get("your_model_error")
    for name in ("comparison", "your_model"):
        notebook = executed[name]
        assert _errors(notebook) == []
        for fragment in _html_outputs(notebook):
            assert live_markup(fragment)[0] == [], name
    live, text = live_markup(executed["report"])
    assert live == []
    for shown in (SCRIPT, IMG, HOVER, MODEL_FILE, f"CPU {SCRIPT}"):
        assert shown in text, shown  # every value is there, as its characters


def test_comparison_notebook_lists_scenario_records_in_their_own_table(executed: dict) -> None:
    assert "comparison_error" not in executed, executed.get("comparison_error")
    tables = executed["root"] / "comparison" / "tables"
    every = pd.read_csv(tables / "comparison-all.csv")
    assert not every["p50_ms"].eq(9850.0).any() and len(every) == 7  # the seven single-call records only
    html_text = "\n".join(_html_outputs(executed["comparison"]))
    _, text = live_markup(html_text)
    assert "LoadGen scenario runs" in text
    for bound in (10, 20, 30):
        assert f"p99 bound {bound} ms" in text
    assert "no rate met the bound of 10 ms" in text


def test_comparison_notebook_shows_no_figures_for_a_failed_record(executed: dict) -> None:
    assert "comparison_error" not in executed, executed.get("comparison_error")
    every = pd.read_csv(executed["root"] / "comparison" / "tables" / "comparison-all.csv")
    failed = every[every["status"].ne("ok")]
    assert len(failed) == 2
    assert failed[["p50_ms", "p99_ms", "throughput_sps", "cpu_percent", "framework_mb"]].isna().all(axis=None)
    text = live_markup("\n".join(_html_outputs(executed["comparison"])))[1]
    assert "3,333" not in text and "55.5" not in text


def test_comparison_notebook_shows_null_nan_and_infinite_figures_and_never_ranks_them(tmp_path: Path) -> None:
    notebook = _comparison(tmp_path, _nan_records(), raw=True)
    assert _errors(notebook) == []
    every = pd.read_csv(tmp_path / "tables" / "comparison-all.csv", keep_default_na=False)
    by = every.set_index("backend")
    assert len(by) == 5  # every record was read and shown
    assert by.loc["openvino", "rank"] == "" and "not ranked" in by.loc["openvino", "note"]
    assert by.loc["pytorch", "rank"] == "" and "not ranked" in by.loc["pytorch", "note"]
    assert [by.loc[b, "rank"] for b in ("jax", "onnxruntime", "numpy")] == ["1", "2", "3"]
    assert float(by.loc["jax", "framework_mb"]) == float("inf")
    text = live_markup("\n".join(_html_outputs(notebook)))[1]
    assert re.search(r"openvino[^.]*differ from the reference \(max abs err unknown", text)
    assert "pytorch at batch size 1 has no finite median latency (p50 missing or NaN)" in text


def test_comparison_table_never_ranks_a_nan_or_infinite_median_of_records_in_memory() -> None:
    """Records a notebook holds in memory (not read back from a file) may carry NaN and infinity as they are."""
    from benchlib import notebook as nb

    records = [_ok(_case()), _ok(_case("onnxruntime"), p50=0.5),
               _ok(_case("jax"), latency_ms={"p50": float("nan"), "p99": float("inf")}),
               _ok(_case("pytorch"), latency_ms={"p50": float("inf"), "p99": float("inf")}, cpu_percent=float("inf"))]
    table = nb.results_table(records).set_index("backend")
    assert [table.loc[b, "rank"] for b in ("onnxruntime", "numpy", "jax", "pytorch")] == ["1", "2", "", ""]
    assert "p50 not a finite number; not ranked" in table.loc["pytorch", "note"]
    live, text = live_markup(nb.show(table.reset_index()).to_html())
    assert live == [] and "inf" in text
    sentences = nb.insights_view(records)._repr_html_()
    assert "fastest is onnxruntime" in sentences and "jax at batch size 1 has no finite median latency" in sentences
