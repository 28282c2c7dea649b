"""Where benchlib writes what it generates."""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable that moves every generated file (results, models, figures) elsewhere.
OUTPUTS_ENV = "BENCHLIB_OUTPUTS"


def outputs_dir() -> Path:
    """Root of generated files: ``$BENCHLIB_OUTPUTS`` or ``./outputs``."""
    return Path(os.environ.get(OUTPUTS_ENV, "outputs")).resolve()


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
