"""Every file the analysis notebooks write is planned in their first cell: a user's file under any of
those names is refused before anything runs, naming the parameter and the file; benchlib's own earlier
files (written by the real writers) are planned again, so a notebook re-runs over its own outputs.

The planners are called exactly as each notebook's first cell calls them, with the notebook's
parameters (benchlib.notebook.suite.TINY); no notebook is executed here.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from benchlib import notebook as nb
from benchlib.notebook.suite import NOTEBOOKS_DIR
from benchlib.report.outputs import OutputRefused
from benchlib.results.schema import make_record
from benchlib.results.store import append_record
from tests.conftest import RECORD_ENV

NOW = "ablation-20260101-120000.jsonl"  # the method ablation's results file, its clock held still


@pytest.fixture(autouse=True)
def _still_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The method ablation names its results file by the time: held still, so a test can put a file there."""
    monkeypatch.setattr("benchlib.notebook.plans.time.strftime", lambda pattern: NOW)


def _record(batch_size: int = 1, threads: int | None = None, **case: object) -> dict:
    identity = {"backend": "numpy", "model": "fnn", "batch_size": batch_size, "threads": threads,
                "variant": "default", "protocol": "engine", "case_key": f"numpy-{batch_size}-{threads}", **case}
    samples = np.random.default_rng(0).lognormal(0.0, 0.1, 50).tolist()
    return make_record(identity, samples_ms=samples, latency_ms={"p50": float(np.median(samples)), "p99": 1.5},
                       env=RECORD_ENV)


# -- each notebook's first cell, with its parameters ------------------------------------------------

def _article(r: Path, f: Path, t: Path) -> object:
    return nb.plan_article_outputs(r, f, t)


def _ablation(r: Path, f: Path, t: Path) -> object:
    return nb.plan_method_ablation_outputs(2, r, f, t)


def _sweeps(r: Path, f: Path, t: Path) -> object:
    from benchlib.studies.sweep import sweep_config

    config = sweep_config(backends=["numpy"], batch_sizes=[1], threads=None, min_time_s=0.05, quick=True,
                          models=["fnn"], target_ci=0.0)
    return nb.plan_sweeps_outputs(config, r, f, t)


def _scenarios(r: Path, f: Path, t: Path) -> object:
    from benchlib.studies.scenarios import scenario_config

    config = scenario_config(backends=["numpy"], models=["fnn"], scenarios=["SingleStream", "MultiStream",
                             "Offline", "Server"], latency_bound_ms=None, min_duration_s=0.05, quick=True)
    return nb.plan_scenarios_outputs(config, r, f, t)


def _models(r: Path, f: Path, t: Path) -> object:
    from benchlib.report import models_matrix as matrix

    cases = matrix.ranking_cases(["fnn"], ["numpy"], threads=None, quick=True, min_time_s=0.05, target_ci=0.0)
    return nb.plan_models_outputs(cases, True, r, f, t)


def _precision(r: Path, f: Path, t: Path) -> object:
    from benchlib.engine.grid import case_grid

    cases = case_grid(["numpy"], [1, 64], models=["fnn"], threads=[1], variants=None,
                      precisions=["fp32", "bf16", "int8-dynamic", "int8-static"], min_time_s=0.05, target_ci=0.0,
                      extra=(("calibration_size", 64), ("evaluation_size", 1000)))
    return nb.plan_precision_outputs(cases, r, f, t)


def _comparison(r: Path, f: Path, t: Path) -> object:
    # the notebook's first cell: the records of results_dir, loaded, then its outputs planned
    frame, records, _ = nb.load_results(r)
    frame, records = nb.engine_results(frame, records)
    return nb.plan_comparison_outputs(frame, nb.configuration(1, "default"), f, t)


def _comparison_records(results: Path) -> None:
    """What the comparison reads: one record in its configuration and one at 2 threads (another one)."""
    append_record(results / "numpy.jsonl", _record())
    append_record(results / "numpy.jsonl", _record(threads=2))


PLANNERS: dict[str, Callable[[Path, Path, Path], object]] = {
    "article": _article, "method_ablation": _ablation, "sweeps": _sweeps, "scenarios": _scenarios,
    "models": _models, "precision": _precision, "comparison": _comparison,
}

ARTICLE_TABLES = ("latency", "latency-vs-published", "cpu", "cpu-vs-published", "memory", "memory-vs-published",
                  "wall-time", "corrected-latency", "latency-article-vs-corrected", "corrected-cpu",
                  "cpu-article-vs-corrected", "corrected-memory", "memory-article-vs-corrected", "corrected-status",
                  "status")
MATRICES = ("p50_batch1_ms", "p50_batch1_halfwidth", "p50_batch1_vs_fastest", "throughput_largest_sps",
            "throughput_largest_vs_fastest", "framework_mb_largest", "gflops_largest")


def _pair(parameter: str, stems: tuple[str, ...] | list[str], suffixes: tuple[str, str]) -> list[tuple[str, str]]:
    return [(parameter, stem + suffix) for stem in stems for suffix in suffixes]


def _tables(*stems: str) -> list[tuple[str, str]]:
    return _pair("tables_dir", stems, (".md", ".csv"))


def _charts(*stems: str) -> list[tuple[str, str]]:
    return _pair("figures_dir", stems, (".png", ".svg"))


#: Every file each notebook writes, by the parameter of its folder (paths relative to that folder).
OUTPUTS: dict[str, list[tuple[str, str]]] = {
    "article": [("results_dir", "article-protocol.jsonl"), ("results_dir", "article-corrected.jsonl"),
                *_tables(*(f"article-{name}" for name in ARTICLE_TABLES)), ("tables_dir", "article.md"),
                *_charts("article-chart", "article-vs-corrected")],
    "method_ablation": [("results_dir", NOW), *_tables("ablation_latency", "ablation_ranking", "ablation_cpu_memory"),
                        *_charts("ablation_latency", "ablation_cpu_memory")],
    "sweeps": [("results_dir", "sweep-quick.jsonl"), ("results_dir", "roofline-sweep-quick.json"),
               *_tables("sweep_throughput", "sweep_percent_of_peak", "sweep_best_variant", "sweep_threads_scaling",
                        "sweep_cold_start", "sweep_dispatch_cost", "sweep_targets", "sweep_not_measured"),
               *_charts("sweep_throughput", "sweep_roofline", "sweep_cold_start")],
    "scenarios": [("results_dir", "scenarios-quick.jsonl"),
                  *_tables("scenarios_summary", "scenarios_max_rate", "scenarios_tradeoff", "scenarios_load_curve",
                           "scenarios_validity", "scenarios_not_measured"),
                  *_charts("scenarios_load_curve_fnn")],
    "models": [("results_dir", "models/models.jsonl"), ("results_dir", "models/roofline-models.json"),
               *_tables(*(f"models-{name}" for name in MATRICES), "models-percent-of-peak"),
               *_charts("models-p50-batch1", "models-throughput-largest")],
    "precision": [("results_dir", "precision/precision.jsonl"), *_tables("precision"),
                  *_charts("precision-speedup-agreement")],
    "comparison": [*_tables("comparison-availability", "comparison-fair-latency_ms", "comparison-fair-cpu_percent",
                            "comparison-fair-memory_mb", "comparison-other-threads-2", "comparison-all"),
                   *_charts("comparison-p50-p99", "comparison-latency-ecdf", "comparison-throughput",
                            "comparison-cpu-memory")],
}

CASES = [(notebook, parameter, name) for notebook, outputs in OUTPUTS.items() for parameter, name in outputs]


def _folders(tmp_path: Path) -> dict[str, Path]:
    return {"results_dir": tmp_path / "results", "figures_dir": tmp_path / "figures", "tables_dir": tmp_path / "tables"}


def _plan(notebook: str, folders: dict[str, Path]) -> object:
    return PLANNERS[notebook](folders["results_dir"], folders["figures_dir"], folders["tables_dir"])


def _foreign(path: Path) -> bytes:
    """A file of the user's under ``path``, in the format its name promises (so only its origin differs)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".png":  # drawn by another program
        Image.new("RGB", (8, 8), "red").save(path)
    else:
        path.write_text({".jsonl": '{"my": "own data"}\n', ".json": '{"my": "settings"}\n',
                         ".csv": "name,score\nalice,3\n", ".md": "# My notes\n\nkeep me\n",
                         ".svg": '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>\n'}[path.suffix])
    return path.read_bytes()


def _tree(root: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and folder (``None``) under ``root``."""
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None for p in sorted(root.rglob("*"))}


# -- 1. a user's file under any output name is refused, naming the parameter and the file ------------

@pytest.mark.parametrize(("notebook", "parameter", "name"), CASES, ids=[f"{n}:{f}" for n, _, f in CASES])
def test_a_users_file_under_an_output_name_is_refused(tmp_path: Path, notebook: str, parameter: str,
                                                      name: str) -> None:
    folders = _folders(tmp_path)
    if notebook == "comparison":
        _comparison_records(folders["results_dir"])  # its other-configuration table exists only then
    path = folders[parameter] / name
    before = _foreign(path)
    tree = _tree(tmp_path)
    with pytest.raises(OutputRefused) as refused:
        _plan(notebook, folders)
    message = str(refused.value)
    assert f"{parameter}={str(path)!r} is an existing file that benchlib did not write" in message
    assert path.read_bytes() == before and _tree(tmp_path) == tree  # nothing replaced, nothing added


# -- 2. benchlib's own earlier outputs, written by the real writers, are planned again ---------------

def _write_own(notebook: str, folders: dict[str, Path]) -> None:
    """Every output of ``notebook`` as an earlier run wrote it, through the writers the notebook calls."""
    from benchlib.report import sweep_tables
    from benchlib.report.ablation_tables import ablation_frame, all_tables
    from benchlib.report.article_tables import write_markdown, write_tables
    from benchlib.report.figures import save_figure
    from benchlib.studies.sweep import measure_roofline

    table = pd.DataFrame({"step": [0, 1], "p50 (ms)": [1.25, 0.5]})  # no model/backend/variant columns
    for parameter, name in OUTPUTS[notebook]:
        path = folders[parameter] / name
        if path.exists():
            continue
        if path.suffix == ".jsonl":
            append_record(path, _record())
        elif path.suffix == ".json":
            measure_roofline([1], path, measure=_peak)
        elif path.suffix == ".png":
            figure = Figure(figsize=(2, 1))
            figure.subplots().plot([1, 2], [2, 1])
            save_figure(figure, path.parent, path.stem)
        elif path.name == "article.md":
            write_markdown([("Run", "two frameworks")], path, "The article's benchmark, reproduced and corrected")
        elif path.suffix == ".md" and notebook == "article":
            write_tables({path.stem.removeprefix("article-"): table}, path.parent)
        elif path.suffix == ".md" and notebook in ("sweeps", "method_ablation", "scenarios"):
            # these notebooks save their tables with sweep_tables.write_tables; an empty table too
            own = {"sweeps": lambda: sweep_tables.all_tables(sweep_tables.sweep_frame(pd.DataFrame(), {})),
                   "method_ablation": lambda: all_tables(ablation_frame([]))}.get(notebook, dict)()
            sweep_tables.write_tables({path.stem: own.get(path.stem, table)}, path.parent)
        elif path.suffix == ".md":
            nb.save_table(table, path.parent, path.stem)


def _peak(threads: int) -> object:
    from benchlib.roofline.peaks import PeakMeasurement

    return PeakMeasurement(threads, 64, 1, {"numpy": 5.0}, {})


@pytest.mark.parametrize("notebook", list(PLANNERS))
def test_benchlib_own_earlier_outputs_are_planned_again(tmp_path: Path, notebook: str) -> None:
    folders = _folders(tmp_path)
    if notebook == "comparison":
        _comparison_records(folders["results_dir"])
    _write_own(notebook, folders)
    for parameter, name in OUTPUTS[notebook]:
        assert (folders[parameter] / name).is_file(), name  # every output is there, as a re-run finds it
    tree = _tree(tmp_path)
    _plan(notebook, folders)  # resumed and replaced, not refused
    _plan(notebook, folders)
    assert _tree(tmp_path) == tree  # planning changes nothing


# -- 3. what each notebook writes is what its first cell planned --------------------------------------

def _planned(notebook: str, folders: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> set[Path]:
    """Every path the notebook's planner hands to the one check, recorded on the way."""
    import benchlib.report.outputs as outputs

    seen: list[Path] = []
    check = outputs.plan_notebook

    def record(results, tables, figures, runs, files=()):  # noqa: ANN001, ANN202
        seen.extend(results)
        seen.extend(t.with_name(t.name + s) for t in tables for s in (".md", ".csv"))
        seen.extend(f.with_name(f.name + s) for f in figures for s in (".png", ".svg"))
        seen.extend(path for _, path, _ in files)
        return check(results, tables, figures, runs, files)

    monkeypatch.setattr(outputs, "plan_notebook", record)
    _plan(notebook, folders)
    return set(seen)


@pytest.mark.parametrize("notebook", list(PLANNERS))
def test_every_output_of_a_notebook_is_planned_under_its_parameter(tmp_path: Path, notebook: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    folders = _folders(tmp_path)
    if notebook == "comparison":
        _comparison_records(folders["results_dir"])
    assert _planned(notebook, folders, monkeypatch) == {folders[p] / name for p, name in OUTPUTS[notebook]}


def test_what_the_library_writes_for_the_article_and_the_sweeps_is_planned(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import benchlib.studies.article as ap
    from benchlib.report import sweep_figures, sweep_tables
    from benchlib.report.article_report import build_report, write_report

    folders = _folders(tmp_path)
    ok = ap.FrameworkResult(framework="pytorch", display="PyTorch", pid=os.getpid(), num_runs=2, batch_size=1000,
                            latency_ms=2.5, cpu_percent=50.0, memory_mb=900.0, version="2.0")
    skipped = ap.FrameworkResult(framework="tensorflow", display="TensorFlow", status="skipped", error="absent")
    run = ap.ArticleRun(protocol=ap.ArticleProtocol(num_runs=2, frameworks=("pytorch", "tensorflow")),
                        results=[ok, skipped], pid=os.getpid(), rss_baseline_mb=70.0)
    written = write_report(build_report(run), tmp_path / "out", folders["tables_dir"], folders["figures_dir"])
    assert set(written) <= _planned("article", folders, monkeypatch)

    frame = sweep_tables.sweep_frame(pd.DataFrame(), {})
    written = sweep_tables.write_tables(sweep_tables.all_tables(frame), folders["tables_dir"])
    written += [p for paths in sweep_figures.all_figures(frame, {}, folders["figures_dir"]).values() for p in paths]
    assert set(written) <= _planned("sweeps", folders, monkeypatch)


def _first_cell(notebook: str) -> str:
    cells = [c for c in nbformat.read(NOTEBOOKS_DIR / f"{notebook}.ipynb", as_version=4).cells
             if c.cell_type == "code"]
    assert "parameters" in cells[0].metadata.get("tags", [])
    return cells[1].source


@pytest.mark.parametrize("notebook", list(PLANNERS))
def test_each_notebook_plans_in_its_first_cell_and_saves_only_planned_names(notebook: str) -> None:
    source = _first_cell(notebook)
    assert f"nb.plan_{notebook}_outputs(" in source
    cells = nbformat.read(NOTEBOOKS_DIR / f"{notebook}.ipynb", as_version=4).cells
    assert all(c.get("outputs", []) == [] and c.get("execution_count") is None for c in cells if c.cell_type == "code")
    code = "\n".join(c.source for c in cells if c.cell_type == "code")
    # every name a cell saves a table or chart under: one of the planned names (an f-string: its start)
    saved = re.findall(r"save_(?:table|figure)\(.*?,\s*\"([^\"{}]+)\"\)", code)
    for block in re.findall(r"tables = \{(.*?)\}\n", code, re.DOTALL):  # a dict of tables written at once
        saved += re.findall(r"\"([\w-]+)\":", block)
    stems = {Path(name).with_suffix("").name for _, name in OUTPUTS[notebook]}
    assert set(saved) <= stems, set(saved) - stems
    for start in re.findall(r"save_(?:table|figure)\(.*?,\s*f\"([^\"{}]*)\{", code):
        assert any(stem.startswith(start) for stem in stems), start


# -- 4. a table's CSV is benchlib's only while its Markdown twin vouches for it ----------------------

def test_a_benchlib_csv_the_user_edited_or_whose_twin_is_gone_is_refused(tmp_path: Path) -> None:
    folders = _folders(tmp_path)
    _write_own("precision", folders)
    csv, md = folders["tables_dir"] / "precision.csv", folders["tables_dir"] / "precision.md"
    assert md.read_text().startswith("<!-- benchlib table csv-sha256=")
    assert pd.read_csv(csv).columns.tolist() == ["step", "p50 (ms)"]  # the CSV itself carries no marker
    csv.write_text(csv.read_text() + "2,0.25\n")  # the user's own row
    with pytest.raises(OutputRefused, match=rf"tables_dir={re.escape(repr(str(csv)))} is an existing file that "
                                            r"benchlib did not write \(neither .* nor does a benchlib table "
                                            r"Markdown beside it \(precision.md\) vouch for it"):
        _precision(folders["results_dir"], folders["figures_dir"], folders["tables_dir"])
    nb.save_table(pd.DataFrame({"step": [0]}), folders["tables_dir"], "precision")
    md.unlink()
    with pytest.raises(OutputRefused, match="precision.csv"):
        _precision(folders["results_dir"], folders["figures_dir"], folders["tables_dir"])


def test_a_fifo_beside_a_csv_is_not_read_and_the_csv_is_refused(tmp_path: Path) -> None:
    from benchlib.report.outputs import export_file

    csv = tmp_path / "t.csv"
    csv.write_text("name,score\n")
    os.mkfifo(tmp_path / "t.md")  # reading it would block for ever
    with pytest.raises(OutputRefused, match="benchlib did not write"):
        export_file("the table CSV in tables_dir", csv, "table CSV")


# -- 5. the roofline and the article's document carry benchlib's marker ------------------------------

def test_the_roofline_names_benchlib_first_and_a_users_json_there_is_refused(tmp_path: Path) -> None:
    from benchlib.report.outputs import plan_sweep
    from benchlib.studies.sweep import measure_roofline, read_roofline

    out = tmp_path / "results" / "s.jsonl"
    roofline = tmp_path / "results" / "roofline-s.json"
    measure_roofline([1], roofline, measure=_peak)
    assert roofline.read_text().startswith('{\n  "creator": "benchlib"')
    assert read_roofline(roofline)["peaks"]["1"]["peak_gflops"] == 5.0
    plan_sweep(tmp_path, out, runs=1)  # its own: replaced
    roofline.write_text(json.dumps({"env_key": "abc", "yardstick": "old", "peaks": {}}))
    plan_sweep(tmp_path, out, runs=1)  # written before the marker existed
    roofline.write_text('{"theme": "dark"}\n')  # a JSON file of the user's
    with pytest.raises(OutputRefused, match="roofline file in --out=.* benchlib did not write"):
        plan_sweep(tmp_path, out, runs=1)
    assert roofline.read_text() == '{"theme": "dark"}\n'


def test_the_article_document_begins_with_benchlibs_marker(tmp_path: Path) -> None:
    from benchlib.report.article_tables import write_markdown
    from benchlib.report.outputs import MARKDOWN_MARKER

    path = write_markdown([("Run", "text")], tmp_path / "article.md", "Title")
    assert path.read_text().splitlines()[:2] == [MARKDOWN_MARKER, "# Title"]


def test_the_ablation_results_file_is_named_once_and_planned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    names = iter(["ablation-20260101-120000.jsonl", "ablation-20260101-120001.jsonl"])
    monkeypatch.setattr("benchlib.notebook.plans.time.strftime", lambda pattern: next(names))
    folders = _folders(tmp_path)
    path = _ablation(folders["results_dir"], folders["figures_dir"], folders["tables_dir"])
    assert path == folders["results_dir"] / "ablation-20260101-120000.jsonl"
    assert "path = nb.plan_method_ablation_outputs(" in _first_cell("method_ablation")
    cells = [c.source for c in nbformat.read(NOTEBOOKS_DIR / "method_ablation.ipynb", as_version=4).cells
             if c.cell_type == "code"]
    assert not any("strftime" in source for source in cells)  # the notebook writes the planned file, not another
