"""Where benchlib writes what it generates."""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable that moves every generated file (results, models, figures) elsewhere.
OUTPUTS_ENV = "BENCHLIB_OUTPUTS"


def _default_outputs() -> Path:
    # In a source checkout (the usual case: `pip install -e .`), everything generated goes to the
    # checkout's outputs/ folder, whatever the working directory (notebooks run from notebooks/).
    checkout = Path(__file__).resolve().parents[1]
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
