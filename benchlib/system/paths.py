"""Where benchlib writes what it generates."""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable that moves every generated file (results, models, figures) elsewhere.
OUTPUTS_ENV = "BENCHLIB_OUTPUTS"


def _default_outputs() -> Path:
    # In a source checkout (the usual case: `pip install -e .`), everything generated goes to the
    # checkout's outputs/ folder, whatever the working directory (notebooks run from notebooks/).
    checkout = Path(__file__).resolve().parents[2]  # benchlib/system/paths.py -> the checkout
    if (checkout / "pyproject.toml").exists() and (checkout / "benchlib").is_dir():
        return checkout / "outputs"
    return Path("outputs")


def outputs_dir() -> Path:
    """Root of generated files: ``$BENCHLIB_OUTPUTS``, else the checkout's ``outputs/``, else ``./outputs``."""
    override = os.environ.get(OUTPUTS_ENV)
    return Path(override).resolve() if override else _default_outputs().resolve()


def models_dir() -> Path:
    """Folder holding the ONNX files built from specs."""
    return outputs_dir() / "models"


def results_dir() -> Path:
    """Folder holding results as JSON lines."""
    return outputs_dir() / "results"


def figures_dir() -> Path:
    """Folder holding charts (PNG and SVG)."""
    return outputs_dir() / "figures"


def tables_dir() -> Path:
    """Folder holding Markdown and CSV tables."""
    return outputs_dir() / "tables"


def logs_dir() -> Path:
    """Folder holding the suite's log files (one per notebook: framework messages, cell output)."""
    return outputs_dir() / "logs"


#: The kinds of output folder a notebook parameter can name, and where each one is by default.
OUTPUT_KINDS = {"results": results_dir, "figures": figures_dir, "tables": tables_dir, "logs": logs_dir,
                "models": models_dir}


def output_folder(value: str | os.PathLike | None, kind: str) -> Path:
    """The folder a notebook's ``<kind>_dir`` parameter means, independent of the working directory.

    ``""`` (or ``None``) is the repository's ``outputs/<kind>`` (``$BENCHLIB_OUTPUTS/<kind>`` when set),
    wherever papermill or JupyterLab was started; any other value is that path (``~`` expanded; a
    relative path is taken from the working directory, as typed), made absolute.
    """
    if kind not in OUTPUT_KINDS:
        raise ValueError(f"kind={kind!r} is unknown; allowed: {', '.join(OUTPUT_KINDS)}")
    if value is None or not str(value).strip():
        return OUTPUT_KINDS[kind]()
    return Path(value).expanduser().resolve()
