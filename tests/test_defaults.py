"""One set of defaults: the notebooks' parameters cells, ``make reproduce`` (the suite's full run), the command line
and the engine all measure with :mod:`benchlib.defaults`.

A notebook's parameters cell must stay literals (papermill replaces it), so it states the values; here each cell
is parsed with :mod:`ast` and held to the defaults module, and the suite's full run may pass a notebook nothing
but its output folders and values equal to the notebook's own.
"""

from __future__ import annotations

import ast
import json

import pytest

from benchlib import defaults
from benchlib.cli import build_parser
from benchlib.notebook.suite import ANALYSIS_NOTEBOOKS, FRAMEWORK_NOTEBOOKS, FULL, notebook_parameters
from tests.conftest import NOTEBOOKS_DIR

#: What each notebook's parameters cell states, by the default it must equal.
LOOP = {"min_time_s": defaults.MIN_TIME_S, "target_ci": defaults.TARGET_CI}
STATED = {
    **{name: LOOP for name in FRAMEWORK_NOTEBOOKS},
    "sweeps": LOOP, "models": LOOP, "precision": LOOP, "your_model": LOOP,
    "article": {"min_time_s": defaults.FIXED_MIN_TIME_S, "num_runs": defaults.ARTICLE_NUM_RUNS},
    "method_ablation": {"min_time_s": defaults.FIXED_MIN_TIME_S, "num_runs": defaults.ABLATION_NUM_RUNS},
    "scenarios": {"min_duration_s": defaults.MIN_DURATION_S},
    "comparison": {},
}
#: Parameters that are measuring defaults wherever a notebook has them: each must be in STATED.
MEASURING = {"min_time_s", "target_ci", "num_runs", "min_duration_s", "max_time_s", "min_calls"}
#: What the suite passes besides values: where each notebook writes.
OUTPUT_FOLDERS = {"results_dir", "figures_dir", "tables_dir"}


def parameters_cell(name: str) -> dict[str, object]:
    """The notebook's parameters cell, as the values it assigns (each one a literal)."""
    notebook = json.loads((NOTEBOOKS_DIR / f"{name}.ipynb").read_text(encoding="utf-8"))
    cells = [c for c in notebook["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"{name}: {len(cells)} cells tagged 'parameters'"
    values = {}
    for node in ast.parse("".join(cells[0]["source"])).body:
        assert isinstance(node, ast.AnnAssign | ast.Assign), f"{name}: a parameters cell only assigns"
        target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
        values[target.id] = ast.literal_eval(node.value)  # papermill needs literals
    return values


def test_every_notebook_is_held_to_the_defaults() -> None:
    assert set(STATED) == set(FRAMEWORK_NOTEBOOKS + ANALYSIS_NOTEBOOKS)


@pytest.mark.parametrize("name", FRAMEWORK_NOTEBOOKS + ANALYSIS_NOTEBOOKS)
def test_a_notebooks_parameters_cell_states_the_defaults(name: str) -> None:
    cell = parameters_cell(name)
    assert {key: cell.get(key) for key in STATED[name]} == STATED[name]
    unchecked = (MEASURING & set(cell)) - set(STATED[name])
    assert not unchecked, f"{name} states {sorted(unchecked)}, which no default holds"


@pytest.mark.parametrize("name", FRAMEWORK_NOTEBOOKS + ANALYSIS_NOTEBOOKS)
def test_make_reproduce_passes_a_notebook_its_own_defaults(name: str) -> None:
    cell = parameters_cell(name)
    passed = {key: value for key, value in notebook_parameters(name, FULL).items() if key not in OUTPUT_FOLDERS}
    assert set(passed) <= set(cell), f"{name}: the suite passes {sorted(set(passed) - set(cell))}, not parameters"
    assert passed == {key: cell[key] for key in passed}, f"{name}: the full run differs from JupyterLab's"


def _defaults_of(command: str, *argv: str) -> dict[str, object]:
    return vars(build_parser().parse_args([command, *argv]))


def test_the_command_line_defaults_are_the_defaults_module() -> None:
    run = _defaults_of("run")
    assert (run["min_time_s"], run["min_calls"], run["target_ci"], run["warmup_time_s"], run["warmup_calls"],
            run["warmup_max_s"], run["timeout_s"]) == (defaults.MIN_TIME_S, defaults.MIN_CALLS, defaults.TARGET_CI,
                                                       defaults.WARMUP_TIME_S, defaults.WARMUP_CALLS,
                                                       defaults.WARMUP_MAX_S, defaults.TIMEOUT_S)
    assert _defaults_of("sweep")["target_ci"] == defaults.TARGET_CI
    article = _defaults_of("article")
    assert (article["min_time_s"], article["num_runs"]) == (defaults.FIXED_MIN_TIME_S, defaults.ARTICLE_NUM_RUNS)
    ablation = _defaults_of("ablation")
    assert (ablation["min_time_s"], ablation["num_runs"]) == (defaults.FIXED_MIN_TIME_S, defaults.ABLATION_NUM_RUNS)


def test_the_studies_and_the_engine_read_the_defaults_module() -> None:
    from benchlib.engine.case import RunCase
    from benchlib.engine.rounds import RoundSettings
    from benchlib.studies.scenarios import scenario_config
    from benchlib.studies.sweep import sweep_config

    sweep = sweep_config(backends=["numpy"], threads=[1])
    assert (sweep.min_time_s, sweep.min_calls, sweep.target_ci, sweep.max_time_s, sweep.warmup_time_s,
            sweep.warmup_calls, sweep.warmup_max_s) == (defaults.MIN_TIME_S, defaults.MIN_CALLS, defaults.TARGET_CI,
                                                        defaults.MAX_TIME_S, defaults.WARMUP_TIME_S,
                                                        defaults.WARMUP_CALLS, defaults.WARMUP_MAX_S)
    assert scenario_config(backends=["numpy"]).min_duration_s == defaults.MIN_DURATION_S
    case = RunCase("numpy")
    assert (case.min_time_s, case.min_calls, case.warmup_time_s, case.warmup_calls, case.timeout_s) == (
        defaults.MIN_TIME_S, defaults.MIN_CALLS, defaults.WARMUP_TIME_S, defaults.WARMUP_CALLS, defaults.TIMEOUT_S)
    rounds = RoundSettings()
    assert (rounds.block_s, rounds.min_rounds, rounds.max_rounds, rounds.max_time_s, rounds.processes,
            rounds.target_ci) == (defaults.ROUND_BLOCK_S, defaults.MIN_ROUNDS, defaults.MAX_ROUNDS,
                                  defaults.ROUND_MAX_TIME_S, defaults.ROUND_PROCESSES, defaults.ROUND_TARGET_CI)
