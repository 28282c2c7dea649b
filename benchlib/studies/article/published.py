"""The article's published figures, kept as data in ``benchlib/data/article_published.csv``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from benchlib.studies.article.settings import DISPLAY_NAMES

if TYPE_CHECKING:  # pandas only when the figures are loaded: the protocol's processes never need it
    import pandas as pd


def published_csv_path() -> Path:
    """Path of the CSV holding the article's published figures."""
    return Path(str(resources.files("benchlib.data").joinpath("article_published.csv")))


def load_published() -> pd.DataFrame:
    """The article's published figures: framework, latency_ms, cpu_percent, memory_mb.

    ``framework`` holds the article's names (PyTorch, TensorFlow, JAX, ONNX, OpenVINO); a
    ``backend`` column maps them to benchlib backend names.
    """
    import pandas as pd

    frame = pd.read_csv(published_csv_path(), comment="#")
    reverse = {v: k for k, v in DISPLAY_NAMES.items()}
    frame.insert(1, "backend", frame["framework"].map(reverse))
    return frame
