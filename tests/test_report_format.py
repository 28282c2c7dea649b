"""What a reader sees, on records with known numbers: formatting, one record per case, honest insights,
the comparison's one configuration, chart rules, paths independent of the working directory, the console."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from benchlib.report import figures, sweep_figures
from benchlib.report.chart_style import MAX_COLUMNS, legibility_problems
from benchlib.report.comparison import Configuration, article_display, other_configuration_tables
from benchlib.report.display import format_value, people_frame, people_table, significant
from benchlib.report.insights import insights, insights_html, noisy_runs_table
from benchlib.report.tables import comparison_table, one_per_case, to_markdown
from benchlib.results.store import flatten
from tests.conftest import DEFAULT_VARIANTS, known_record


def frame_of(records: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([flatten(r) for r in records])


# -- formatting -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "text"), [(0.0123456, "0.0123"), (1.23456, "1.23"), (12.3456, "12.3"),
                                             (123.456, "123"), (176087.3, "176,000"), (0.0, "0")])
def test_three_significant_figures(value: float, text: str) -> None:
    assert significant(value) == text


def test_people_formatting_units_and_no_truncation() -> None:
    warning = "busy machine: other processes used 1.4 of 2 usable cores before the batch began " * 2
    table = pd.DataFrame({"p50_ms": [0.0597225], "throughput_sps": [176087.3], "cpu_percent": [99.36604],
                          "framework_mb": [70.7421875], "vs_fastest": [1.0], "note": [warning]})
    frame = people_frame(table)
    assert list(frame.columns) == ["p50 (ms)", "throughput (samples/s)", "CPU (% of one core)",
                                   "framework memory (MB)", "p50 vs fastest", "note"]
    assert frame.iloc[0].tolist() == ["0.0597", "176,087", "99.4", "70.7", "1.00×", warning]
    html = people_table(table).to_html()
    assert warning in html and "<th class=\"blank" not in html and "row_heading" not in html


def test_markdown_exports_keep_full_precision() -> None:
    table = pd.DataFrame({"backend": ["numpy"], "p50_ms": [0.0597225], "throughput_sps": [176087.3125]})
    assert "0.0597225" in to_markdown(table, precision="full") and "176087.3125" in to_markdown(table, precision="full")
    assert "0.0597" in to_markdown(table) and "176,087" in to_markdown(table)
    assert format_value(float("nan"), "time") == "–"


# -- one record per case -------------------------------------------------------------------------

def test_a_rerun_with_other_loop_settings_replaces_the_configuration_everywhere() -> None:
    old = known_record("numpy", 2.0, case_key="k-old", created="2026-01-01T00:00:00Z")
    new = known_record("numpy", 1.0, case_key="k-new", created="2026-01-02T00:00:00Z")
    other = known_record("onnxruntime", 0.5)
    frame = frame_of([old, new, other])
    assert len(one_per_case(frame)) == 2
    table = comparison_table(frame)
    assert table.loc[table["backend"] == "numpy", "p50_ms"].tolist() == [1.0]
    sentence = insights(frame)[0]
    assert "2.00× ahead of numpy (default) (1.00 ms)" in sentence and "slowest" not in sentence
    from benchlib.notebook import availability_table

    counts = availability_table(frame).set_index("backend")
    assert counts.loc["numpy", "ok"] == 1 and counts.loc["onnxruntime", "ok"] == 1


# -- insights ------------------------------------------------------------------------------------

def test_no_winner_inside_the_noise() -> None:
    tied = frame_of([known_record("openvino", 0.62, ci=0.05), known_record("onnxruntime", 0.63, ci=0.05)])
    sentence = insights(tied)[0]
    assert "indistinguishable at this precision" in sentence and "fastest is" not in sentence
    apart = frame_of([known_record("openvino", 0.40, ci=0.01), known_record("onnxruntime", 0.63, ci=0.01)])
    sentence = insights(apart)[0]
    assert sentence.startswith("At batch size 1000, the fastest is openvino (latency)") and "1.57× ahead" in sentence


def test_noisy_runs_are_counted_and_listed_in_a_collapsible_table() -> None:
    frame = frame_of([known_record(b, 0.1 * (i + 1), noisy=i % 2 == 0) for i, b in enumerate(DEFAULT_VARIANTS)])
    sentence = next(s for s in insights(frame) if "noisy" in s)
    assert sentence.startswith("3 of 6 runs were noisy") and "numpy" not in sentence
    table = noisy_runs_table(frame)
    assert sorted(table["backend"]) == ["numpy", "onnxruntime", "tensorflow"]
    assert table["noisy_criteria"].str.startswith("spread").all()
    html = insights_html(frame)
    assert "<details><summary>Noisy runs (3)" in html and html.index("<details>") > html.index("</ul>")


def test_memory_has_one_definition_in_insights() -> None:
    frame = frame_of([known_record("onnxruntime", 0.6, framework_mb=36.0), known_record("onnxruntime", 0.02, batch=1,
                                                                            framework_mb=66.0)])
    memory = next(s for s in insights(frame) if s.startswith("Framework memory"))
    assert "batch size 1000" in memory and "36.0 MB" in memory and "66" not in memory
    assert figures.MEMORY_DEFINITION in memory


# -- the comparison's configuration -------------------------------------------------------------

def _mixed_sources() -> pd.DataFrame:
    # framework notebooks, default threads
    rows = [known_record(b, 0.5 + i / 10) for i, b in enumerate(DEFAULT_VARIANTS)]
    rows += [known_record(b, 0.7 + i / 10, threads=t) for i, b in enumerate(DEFAULT_VARIANTS) for t in (1, 2)]  # sweeps
    rows += [known_record("pytorch", 0.9, variant="torchscript", threads=2)]
    return frame_of(rows)


def test_article_shaped_tables_have_one_row_per_framework() -> None:
    from benchlib.notebook import fair_article_tables

    frame = _mixed_sources()
    config = Configuration.of(1000, "default")
    assert len(config.rows(frame)) == len(DEFAULT_VARIANTS) and config.missing_sentence(frame) is None
    for table in fair_article_tables(frame, 1000, "default").values():
        assert table["Framework"].is_unique and len(table) == 5
    assert config.describe() == "batch size 1000, each framework's default variant, the framework's default threads"
    others = other_configuration_tables(frame, config)
    assert list(others) == ["threads 1", "threads 2"]
    assert "torchscript" in set(others["threads 2"]["variant"]) and {"variant", "threads"} <= set(others["threads 1"])
    missing = Configuration.of(1000, 4).missing_sentence(frame)
    assert "records exist for threads 1, 2, default" in missing


def test_relative_columns_say_why_they_are_empty() -> None:
    from benchlib.notebook import fair_article_tables

    frame = frame_of([known_record(b, 0.5) for b in DEFAULT_VARIANTS if b != "pytorch"])
    html = article_display(fair_article_tables(frame)["latency_ms"]).to_html()
    assert "baseline PyTorch not measured" in html
    with_base = article_display(fair_article_tables(_mixed_sources())["latency_ms"]).to_html()
    assert "1.00× (baseline)" in with_base


# -- charts --------------------------------------------------------------------------------------

def _many_batches() -> tuple[pd.DataFrame, list[dict]]:
    records = [known_record(b, 0.05 * batch ** 0.5 * (i + 1), batch=batch) for i, b in enumerate(DEFAULT_VARIANTS)
               for batch in (1, 8, 64, 256, 1000, 4096)]
    return frame_of(records), records


def test_every_chart_follows_the_rules() -> None:
    frame, records = _many_batches()
    built = {
        "ecdf": figures.latency_distribution(records), "p50": figures.p50_with_p99(frame),
        "throughput": figures.throughput_vs_batch(frame), "cpu": figures.cpu_and_memory(frame, 1000),
    }
    sweep = frame.rename(columns={"latency_ms.p50": "p50_ms"}).assign(
        gflops=1.0, pct_of_peak=10.0, import_s=0.1, load_s=0.2, first_call_ms=3.0, threads=2, status="ok")
    built |= {"sweep_throughput": sweep_figures.throughput_figure(sweep),
              "roofline": sweep_figures.roofline_figure(sweep, {2: 400.0}),
              "cold": sweep_figures.cold_start_figure(sweep)}
    for name, fig in built.items():
        assert legibility_problems(fig) == [], name
        for ax in fig.axes:
            assert ax.get_subplotspec().get_gridspec().ncols <= MAX_COLUMNS, name
    grid = built["ecdf"].axes[0].get_subplotspec().get_gridspec()
    assert (grid.nrows, grid.ncols) == (2, 3)


def test_latency_on_a_log_axis_is_drawn_as_points_not_bars() -> None:
    from matplotlib.patches import Rectangle

    fig = figures.p50_with_p99(_many_batches()[0])
    for ax in fig.axes:
        assert ax.get_xscale() == "log"
        bars = [p for p in ax.patches if isinstance(p, Rectangle)]
        assert bars == [] and ax.collections, "p50 must be points, not bars, on a log axis"


def test_a_chart_that_breaks_the_rules_is_caught() -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(24, 3), dpi=100)
    axes = fig.subplots(1, 6)
    axes[0].plot([1, 10], [1, 2], label="a")
    axes[0].set_xscale("log")
    axes[0].legend(loc="center")
    problems = " | ".join(legibility_problems(fig))
    assert "at display size" in problems and "grid of 6 columns" in problems
    assert "covers a panel's data area" in problems and "log x axis" in problems


# -- paths and console ---------------------------------------------------------------------------

def test_default_output_folders_do_not_depend_on_the_working_directory(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from benchlib.system.paths import output_folder, results_dir

    monkeypatch.chdir(tmp_path)
    assert output_folder("", "results") == results_dir() and output_folder("", "tables").name == "tables"
    assert output_folder("elsewhere", "results") == tmp_path / "elsewhere"


def test_console_keeps_child_chatter_in_the_log(tmp_path: Path) -> None:
    import io

    from benchlib.notebook.console import Console, ResultsWatcher

    shown = io.StringIO()
    console = Console(shown)
    log = tmp_path / "nb.log"
    results = tmp_path / "results"
    results.mkdir()
    with console.logging_to(log), ResultsWatcher(results, console.line, interval_s=0.05):
        subprocess.run([sys.executable, "-c", "import os; os.write(2, b'oneDNN custom operations are on\\n')"],
                       check=True)
        with (results / "x.jsonl").open("a") as handle:
            handle.write(json.dumps(known_record("numpy", 0.06, batch=1, rounds=0)) + "\n")
        console.line("suite line")
    assert "oneDNN" in log.read_text() and "oneDNN" not in shown.getvalue()
    assert sorted(shown.getvalue().splitlines()) == ["numpy/default b=1 t=default: ok, 0.06 ms per call",
                                                     "suite line"]


def test_an_interrupted_cell_says_one_sentence() -> None:
    from benchlib.notebook import INTERRUPTED, Interrupted

    error = Interrupted(INTERRUPTED)
    assert isinstance(error, KeyboardInterrupt)
    assert error._render_traceback_() == ["interrupted; finished cases are kept; run the cell again to resume"]
