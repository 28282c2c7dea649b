"""A notebook's first cell: its parameters checked and every file it will write planned, before anything runs.

Re-exported by :mod:`benchlib.notebook` (``nb.output_folders``, ``nb.check_parameters``,
``nb.plan_outputs``, ``nb.plan_framework_outputs``). Each refusal is a ``ValueError`` naming the
parameter, the value and what is allowed; the parameters shared by every notebook are checked by
:data:`benchlib.engine.params.CHECKS`, the few only one notebook has by :data:`NOTEBOOK_CHECKS`. Outputs are
planned by :func:`benchlib.report.outputs.plan_notebook`, the check ``run --out`` makes: a file benchlib
did not write is never replaced or appended to.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

#: The output-folder parameters of every notebook and the ``outputs/`` folder ``""`` stands for.
FOLDER_PARAMETERS = {"results_dir": "results", "figures_dir": "figures", "tables_dir": "tables"}


def output_folders(results_dir: object, figures_dir: object, tables_dir: object) -> tuple[Path, Path, Path]:
    """The notebook's output folders as absolute paths, each checked once
    (:func:`benchlib.engine.params.check_writable_dir`: made if needed and proven writable); ``""`` is the
    repository's ``outputs/<kind>``, wherever papermill or JupyterLab was started.

    Each value must be a path as text (papermill passes ``-p results_dir 5`` as the number 5, and a
    YAML list as a list): anything else is refused naming the parameter.
    """
    from benchlib.engine.params import check_writable_dir

    folders = [check_writable_dir(value, name, kind)
               for (name, kind), value in zip(FOLDER_PARAMETERS.items(), (results_dir, figures_dir, tables_dir),
                                              strict=True)]
    return folders[0], folders[1], folders[2]


def _text(name: str, value: object, allowed: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name}={value!r} is invalid ({type(value).__name__}); allowed: {allowed}")
    return value


def check_model(value: object, name: str = "model") -> str:
    """The your_model notebook's ``model``: text naming a model (its form only; the file is read later), or
    ``""`` for the zoo's fnn as ONNX; the name itself by :func:`benchlib.engine.params.check_model`."""
    from benchlib.engine.params import check_model as check_name
    from benchlib.models.zoo import MODELS

    allowed = (f'text: a path to an .onnx file, torch:package.module:function or a zoo name ({", ".join(MODELS)}); '
               '"" for the zoo\'s fnn as ONNX')
    text = _text(name, value, allowed)
    return check_name(text, name) if text else text


def check_input_shape(value: object, name: str = "input_shape") -> str:
    """``input_shape``: text as for ``--input-shape`` (``NAME=d1,d2;...``), ``""`` for none."""
    from benchlib.errors import OnnxModelError
    from benchlib.models.onnx_model import parse_input_shapes

    text = _text(name, value, "text NAME=d1,d2;NAME2=d1 as for --input-shape, e.g. 'ids=128'; \"\" for none")
    try:
        parse_input_shapes(text)
    except OnnxModelError as exc:
        raise ValueError(f"{name}={text!r}: {exc}") from None
    return text


def check_input_range(value: object, name: str = "input_range") -> str:
    """``input_range``: text as for ``--input-range`` (``NAME=LOW:HIGH;...``), ``""`` for the defaults."""
    from benchlib.errors import OnnxModelError
    from benchlib.models.onnx_model import parse_input_ranges

    text = _text(name, value, "text NAME=LOW:HIGH;NAME2=LOW:HIGH as for --input-range, e.g. 'x=-1:1'; "
                              "\"\" for the defaults")
    try:
        parse_input_ranges(text)
    except OnnxModelError as exc:
        raise ValueError(f"{name}={text!r}: {exc}") from None
    return text


#: Checks of the parameters only some notebooks have (the shared ones: :data:`benchlib.engine.params.CHECKS`).
NOTEBOOK_CHECKS: dict[str, Callable[[str, object], object]] = {
    "model": check_model,
    "input_shape": check_input_shape,
    "input_range": check_input_range,
}


def check_parameters(**parameters: object) -> dict[str, object]:
    """Every parameter given, checked once by name before anything runs; unknown names pass unchanged.

    Returns the checked values; raises ``ValueError`` naming the first bad parameter, its value and
    what is allowed.
    """
    from benchlib.engine.params import check_parameters as check_shared  # the shared ones and BENCHLIB_* variables

    shared = check_shared(**{name: value for name, value in parameters.items() if name not in NOTEBOOK_CHECKS})
    return {name: NOTEBOOK_CHECKS[name](value, name) if name in NOTEBOOK_CHECKS else shared[name]
            for name, value in parameters.items()}


def results_path(results_dir: str | Path, backend: str) -> Path:
    """The file a framework notebook appends its records to: ``<results_dir>/<backend>.jsonl``."""
    return Path(results_dir) / f"{backend}.jsonl"


def plan_outputs(results: str | Path | Sequence[str | Path] | None, tables_dir: str | Path, tables: Sequence[str],
                 figures_dir: str | Path, figures: Sequence[str], runs: int,
                 files: Sequence[tuple[str, str | Path, str]] = ()) -> None:
    """Check every file the notebook will write, before anything runs (what ``run --out`` checks).

    ``results`` is the results file (a list: several; ``None``: the notebook writes none); each name in
    ``tables`` becomes ``<name>.md`` and ``<name>.csv`` in ``tables_dir``, each in ``figures``
    ``<name>.png`` and ``<name>.svg`` in ``figures_dir``; ``files`` are its other outputs as
    ``(parameter, path, kind)`` (``"roofline JSON"``, ``"Markdown document"``). An existing file
    benchlib did not write is refused with :class:`~benchlib.report.outputs.OutputRefused` (a
    ``ValueError``) naming the parameter and the file; benchlib's own earlier outputs are resumed
    (records) or replaced (tables, charts, the rest) as before.
    """
    from benchlib.report.outputs import plan_notebook

    sources = [results] if isinstance(results, str | os.PathLike) else list(results or ())
    plan_notebook([Path(path) for path in sources], [Path(tables_dir) / name for name in tables],
                  [Path(figures_dir) / name for name in figures], runs,
                  [(parameter, Path(path), kind) for parameter, path, kind in files])


def plan_framework_outputs(backend: str, cases: Sequence[Any], results_dir: str | Path, figures_dir: str | Path,
                           tables_dir: str | Path) -> None:
    """A framework notebook's outputs: ``<backend>.jsonl``, ``<backend>-results`` (.md, .csv) and
    ``<backend>-latency`` (.png, .svg), checked for ``cases`` before any of them runs."""
    plan_outputs(results_path(results_dir, backend), tables_dir, [f"{backend}-results"], figures_dir,
                 [f"{backend}-latency"], runs=len(cases))
