"""Hostile inputs at the edges: notebook outputs and parameters, a scheduler that never answers, round
data in results files that `compare` must not trust."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from benchlib import notebook as nb
from benchlib.cli import main
from benchlib.notebook.suite import NOTEBOOKS_DIR, execute_notebook
from benchlib.results.schema import make_record
from benchlib.results.store import append_record
from tests.conftest import RECORD_ENV, first_code_cell_failure

CASE = {"backend": "numpy", "model": "fnn", "batch_size": 1, "threads": None, "variant": "default",
        "protocol": "engine", "case_key": "numpy-1"}


# -- 1. a notebook never changes a file benchlib did not write -----------------------------------------

def _user_files(folder: Path) -> dict[Path, bytes]:
    """The user's own files under the names the numpy notebook writes: a foreign JSON line, a CSV, a
    Markdown note and a PNG drawn by another program."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "numpy.jsonl").write_text('{"my": "own data"}\n')
    (folder / "numpy-results.csv").write_text("name,score\nalice,3\n")
    (folder / "numpy-results.md").write_text("# My results\n\nkeep me\n")
    Image.new("RGB", (8, 8), "red").save(folder / "numpy-latency.png")
    return {path: path.read_bytes() for path in folder.iterdir()}


def test_framework_notebook_refuses_outputs_it_did_not_write(tmp_path: Path) -> None:
    from papermill.exceptions import PapermillExecutionError

    mine = tmp_path / "mine"
    before = _user_files(mine)
    parameters = {"batch_sizes": [1], "min_time_s": 0.05, "target_ci": 0.0, "variants": [],
                  "results_dir": str(mine), "figures_dir": str(mine), "tables_dir": str(mine)}
    with pytest.raises(PapermillExecutionError) as failure:
        execute_notebook(NOTEBOOKS_DIR / "00_numpy.ipynb", tmp_path / "out.ipynb", parameters)
    assert failure.value.ename == "OutputRefused"
    assert f"results_dir='{mine / 'numpy.jsonl'}' is an existing file that benchlib did not write" \
        in failure.value.evalue
    after = {path: path.read_bytes() for path in mine.iterdir() if not path.name.startswith(".")}
    assert after == before  # nothing replaced, nothing appended, nothing added (no SVG beside the PNG)


@pytest.mark.parametrize(("name", "kind"), [("numpy.jsonl", "results file"), ("numpy-results.csv", "table CSV"),
                                            ("numpy-results.md", "table Markdown"),
                                            ("numpy-latency.png", "PNG chart"), ("numpy-latency.svg", "SVG chart")])
def test_each_foreign_output_is_refused_before_anything_runs(tmp_path: Path, name: str, kind: str) -> None:
    from benchlib.report.outputs import OutputRefused

    results, figures, tables = tmp_path / "results", tmp_path / "figures", tmp_path / "tables"
    folder = {"numpy.jsonl": results, "numpy-results.csv": tables, "numpy-results.md": tables}.get(name, figures)
    folder.mkdir()
    foreign = folder / name
    foreign.write_bytes(b"<svg>drawn by hand</svg>\n" if name.endswith(".svg") else b"user data, not benchlib's\n")
    cases = nb.framework_cases("numpy", [], [1], None, 0.05, 0.0)
    with pytest.raises(OutputRefused, match=f"the {kind} in .*{name}.* benchlib did not write"):
        nb.plan_framework_outputs("numpy", cases, results, figures, tables)
    assert foreign.read_bytes().startswith((b"user data", b"<svg>"))


def test_benchlib_own_earlier_outputs_are_planned_again(tmp_path: Path) -> None:
    from benchlib.report.figures import latency_distribution, save_figure

    results, figures, tables = tmp_path / "results", tmp_path / "figures", tmp_path / "tables"
    samples = (np.random.default_rng(0).lognormal(0.0, 0.1, 200)).tolist()
    record = make_record(CASE, samples_ms=samples, latency_ms={"p50": float(np.median(samples))}, env=RECORD_ENV)
    append_record(nb.results_path(results, "numpy"), record)  # what an earlier run of the notebook wrote
    nb.save_table(nb.results_table([record]), tables, "numpy-results")
    save_figure(latency_distribution([record]), figures, "numpy-latency")
    cases = nb.framework_cases("numpy", [], [1], None, 0.05, 0.0)
    nb.plan_framework_outputs("numpy", cases, results, figures, tables)  # resumed and replaced, not refused


# -- 11. notebook parameters of the wrong type name the parameter -------------------------------------

@pytest.mark.parametrize(("folders", "message"), [
    ((["a", "b"], "", ""), "results_dir=['a', 'b'] is invalid (list); allowed: a folder path as text"),
    ((5, "", ""), "results_dir=5 is invalid (int); allowed: a folder path as text"),
    (("", {"x": 1}, ""), "figures_dir={'x': 1} is invalid (dict)"),
    (("", "", 2.5), "tables_dir=2.5 is invalid (float)"),
])
def test_output_folder_parameters_of_the_wrong_type_are_named(folders: tuple, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        nb.output_folders(*folders)
    assert message in str(refused.value)


@pytest.mark.parametrize(("parameters", "message"), [
    ({"model": ["fnn"]}, "model=['fnn'] is invalid (list); allowed: text: a path to an .onnx file"),
    ({"model": 3}, "model=3 is invalid (int)"),
    ({"model": "caffe-net"}, "model='caffe-net' is unknown; allowed: fnn"),
    ({"input_range": {"x": [0, 1]}}, "input_range={'x': [0, 1]} is invalid (dict); allowed: text NAME=LOW:HIGH"),
    ({"input_range": "x=5:1"}, "input_range='x=5:1': --input-range=x=5:1 is invalid"),
    ({"input_shape": 128}, "input_shape=128 is invalid (int); allowed: text NAME=d1,d2"),
    ({"batch_sizes": "many"}, "batch_sizes='many' is invalid"),
])
def test_notebook_parameters_are_checked_naming_each(parameters: dict, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        nb.check_parameters(**parameters)
    assert message in str(refused.value)


def test_your_model_notebook_refuses_a_model_list_in_its_first_cell(tmp_path: Path) -> None:
    failure = first_code_cell_failure("your_model", {"model": ["fnn"]}, tmp_path)  # before anything runs
    assert failure.ename == "ValueError"
    assert "model=['fnn'] is invalid (list); allowed: text" in failure.evalue


# -- 8. a scheduler that accepts and never answers -----------------------------------------------------

@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server on 127.0.0.1 that accepts every connection and never sends a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        server.close()


def test_fleet_connect_timeout_holds_against_a_server_that_never_answers(silent_server: str, tmp_path: Path) -> None:
    out = tmp_path / "results" / "fleet.jsonl"
    done = subprocess.run([sys.executable, "-m", "benchlib", "fleet", "--scheduler", silent_server,
                           "--connect-timeout-s", "3", "--backends", "numpy", "--batch-sizes", "1", "--threads", "1",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert f"scheduler '{silent_server}' does not answer within 3 s (--connect-timeout-s)" in done.stderr
    assert "Traceback" not in done.stderr and not out.exists()


# -- 15. compare checks the round data it reads -------------------------------------------------------

def _blocks(n: int = 11, median: float = 1.0, seed: int = 0) -> list[float]:
    return (median * np.random.default_rng(seed).lognormal(0.0, 0.02, n)).tolist()


def _results(path: Path, blocks: object, p50: float | None, rounds: object = None, group: str = "run") -> Path:
    """A record of one run measured in rounds: ``blocks`` as its block medians (None: without rounds)."""
    measured = {} if blocks is None else {"rounds": {
        "group": group, "block_ms": blocks,
        "round": rounds if rounds is not None else list(range(len(blocks) if isinstance(blocks, list) else 1))}}
    append_record(path, make_record(CASE, latency_ms={"p50": p50}, env=RECORD_ENV, env_key="k", **measured))
    return path


GOOD = _blocks()
GOOD_P50 = float(np.median(GOOD))
BAD_ROUNDS = {
    "zeros and negatives": ([0.0, -1.0, 0.0, *_blocks(8, seed=1)], None, "rounds.block_ms[0]=0.0 is impossible"),
    "booleans": ([True, False, True, *_blocks(8, seed=1)], None, "rounds.block_ms[0]=True is bool, not a number"),
    "nested lists": ([[1.0, 1.1], [0.9, 1.0], [1.0, 1.2]], None,
                     "rounds.block_ms[0]=[1.0, 1.1] is a list (nested values), not a number"),
    "1e308": ([*_blocks(8, seed=1), 1e308], None, "rounds.block_ms[8]=1e+308 is impossible"),
    "dicts": ([{"ms": 1.0}, {"ms": 1.1}, {"ms": 0.9}], None, "rounds.block_ms[0]={'ms': 1.0} is dict, not a number"),
    "scaled x10, p50 unchanged": ([10 * v for v in GOOD], None, "its block medians disagree with its own p50"),
    "not a list": ("1.0, 1.1", None, "rounds.block_ms='1.0, 1.1' is not a list"),
    "rounds missing": (GOOD, [], "rounds.round=[] does not give one round number per block"),
    "a round twice": (GOOD, [0] * len(GOOD), "rounds.round names a round twice"),
}


@pytest.mark.parametrize("name", list(BAD_ROUNDS))
def test_compare_reports_bad_round_data_as_unusable(name: str, tmp_path: Path, capsys) -> None:
    blocks, rounds, reason = BAD_ROUNDS[name]
    base = _results(tmp_path / "base.jsonl", GOOD, GOOD_P50)  # 11 good rounds
    new = _results(tmp_path / "new.jsonl", blocks, GOOD_P50, rounds=rounds, group="later run")
    code = main(["compare", str(base), str(new), "--fail-on-regression"])
    out = capsys.readouterr().out
    assert f"unusable, not compared: numpy/default fnn b=1 t=default: the NEW record: {reason}" in out
    assert "the BASE record" not in out  # 11 good rounds are never blamed
    assert "REGRESSION" not in out and "1 case(s) unusable, not compared" in out
    assert code == 1  # the gate cannot pass a case it could not check


def test_compare_names_the_side_whose_round_data_is_unusable(tmp_path: Path, capsys) -> None:
    base = _results(tmp_path / "base.jsonl", [1.0, 1.1], 1.05, rounds=[0])
    new = _results(tmp_path / "new.jsonl", GOOD, GOOD_P50, group="later run")
    assert main(["compare", str(base), str(new)]) == 0
    out = capsys.readouterr().out
    assert "the BASE record: rounds.round=[0] does not give one round number per block" in out
    assert "the NEW record" not in out


def test_compare_still_compares_sound_records(tmp_path: Path, capsys) -> None:
    slower = _blocks(median=1.3, seed=2)
    base = _results(tmp_path / "base.jsonl", GOOD, GOOD_P50)
    new = _results(tmp_path / "new.jsonl", slower, float(np.median(slower)), group="later run")
    assert main(["compare", str(base), str(new), "--fail-on-regression"]) == 1
    out = capsys.readouterr().out
    assert "| REGRESSION |" in out and "unusable" not in out


def test_a_record_with_rounds_whose_blocks_agree_with_its_p50_is_sound() -> None:
    from benchlib.studies.compare import rounds_problem

    blocks = [1.0] * 6 + [2.0] * 5  # two machine levels: the median is 1.0, the p50 must be too
    record = {"rounds": {"block_ms": blocks, "round": list(range(11))}, "latency_ms": {"p50": 1.0}}
    assert rounds_problem(record) is None
    assert rounds_problem({**record, "latency_ms": {"p50": 2.0}}) is not None


def test_fleet_tables_leave_out_unusable_round_data(tmp_path: Path) -> None:
    from benchlib.report.fleet import machine_views

    path = _results(tmp_path / "fleet.jsonl", [{"ms": 1.0}, {"ms": 1.1}, {"ms": 0.9}], 1.0)
    assert "numpy" in machine_views(path).markdown()


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_a_chart_the_user_drew_with_matplotlib_is_not_taken_for_benchlibs(tmp_path: Path, suffix: str) -> None:
    """Matplotlib names itself in every chart; only benchlib's own charts name benchlib as their creator."""
    import matplotlib.pyplot as plt

    from benchlib.report.outputs import OutputRefused

    results, figures, tables = tmp_path / "results", tmp_path / "figures", tmp_path / "tables"
    figures.mkdir()
    fig = plt.figure()
    fig.savefig(figures / f"numpy-latency{suffix}")  # the user's own chart, under benchlib's name
    plt.close(fig)
    before = (figures / f"numpy-latency{suffix}").read_bytes()
    cases = nb.framework_cases("numpy", [], [1], None, 0.05, 0.0)
    with pytest.raises(OutputRefused, match="figures_dir"):
        nb.plan_framework_outputs("numpy", cases, results, figures, tables)
    assert (figures / f"numpy-latency{suffix}").read_bytes() == before


def test_records_without_rounds_get_no_verdict_and_do_not_fail_the_gate(tmp_path: Path, capsys) -> None:
    """LoadGen scenario, fixed-time and older records have one round: compared as "cannot tell", never unusable."""
    for name, p50 in (("base", 2.0), ("new", 4.0)):
        append_record(tmp_path / f"{name}.jsonl", make_record({**CASE, "scenario": "Server"}, samples_ms=None,
                                                              latency_ms={"p50": p50}, env=RECORD_ENV, env_key="k"))
    assert main(["compare", str(tmp_path / "base.jsonl"), str(tmp_path / "new.jsonl"), "--fail-on-regression"]) == 0
    out = capsys.readouterr().out
    assert "unusable" not in out and "| cannot tell |" in out and "REGRESSION" not in out
    assert "cannot tell: numpy/default fnn b=1 t=default: both were measured without interleaved rounds" in out


def test_a_record_measured_in_rounds_without_its_blocks_fails_the_gate(tmp_path: Path, capsys) -> None:
    """A record that says it was measured in rounds but lost its blocks cannot be checked, so the gate fails."""
    append_record(tmp_path / "base.jsonl", make_record(CASE, latency_ms={"p50": 2.0}, rounds={"group": "run", "n": 9},
                                                       env=RECORD_ENV, env_key="k"))
    new = _results(tmp_path / "new.jsonl", GOOD, GOOD_P50)
    assert main(["compare", str(tmp_path / "base.jsonl"), str(new), "--fail-on-regression"]) == 1
    out = capsys.readouterr().out
    assert "unusable, not compared" in out and "the BASE record: it was measured in rounds but stores no block" in out


def test_a_new_suite_run_moves_earlier_results_tables_and_figures_aside(isolated_outputs: Path) -> None:
    """Outputs of an earlier benchlib may lack the marks a notebook checks; make reproduce starts from empty folders."""
    from benchlib.notebook.suite import archive_previous_results
    from benchlib.system.paths import figures_dir, results_dir, tables_dir

    for folder, name in ((results_dir(), "numpy.jsonl"), (tables_dir(), "sweep_throughput.csv"),
                         (figures_dir(), "numpy-latency.png")):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("written by an earlier version\n")
    archive = archive_previous_results()
    assert archive is not None and archive.parent == isolated_outputs / "archive"
    assert sorted(p.relative_to(archive).as_posix() for p in archive.rglob("*") if p.is_file()) == [
        "figures/numpy-latency.png", "results/numpy.jsonl", "tables/sweep_throughput.csv"]
    assert not any(folder.exists() and any(folder.iterdir()) for folder in (results_dir(), tables_dir(),
                                                                           figures_dir()))
    assert archive_previous_results() is None  # nothing left to move
    results_dir().mkdir(parents=True)
    (results_dir() / "numpy.jsonl").write_text("a second run\n")
    again = archive_previous_results()  # often within the same second: its own folder, nothing nested
    assert again is not None and again != archive and (again / "results" / "numpy.jsonl").is_file()
    assert not (archive / "results" / "results").exists()


@pytest.mark.parametrize(("folder", "name"), [("tables", "sweep_throughput.csv"), ("tables", "sweep_targets.md"),
                                              ("figures", "sweep_roofline.png")])
def test_sweep_command_refuses_a_users_file_in_its_tables_or_figures_folder(tmp_path: Path, folder: str,
                                                                           name: str, capsys) -> None:
    """``benchlib sweep`` replaces its tables and charts by name: a user's file under such a name is refused."""
    out = tmp_path / "results" / "sweep-quick.jsonl"  # where the sweep's records would go in --out
    (tmp_path / folder).mkdir()
    mine = tmp_path / folder / name
    mine.write_text("the user's own file\n")
    code = main(["sweep", "--backends", "numpy", "--quick", "--no-progress", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "--out" in err and "benchlib did not write" in err and name in err, err
    assert mine.read_text() == "the user's own file\n" and not out.exists()


def test_article_command_refuses_a_users_file_under_its_tables(tmp_path: Path, capsys) -> None:
    (tmp_path / "tables").mkdir()
    mine = tmp_path / "tables" / "article.md"
    mine.write_text("# my notes\n")
    assert main(["article", "--out", str(tmp_path), "--backends", "onnxruntime"]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "article.md" in err and "benchlib did not write" in err, err
    assert mine.read_text() == "# my notes\n" and not (tmp_path / "results" / "article-protocol.jsonl").exists()
