"""The article's benchmark protocol, re-implemented on purpose with its flaws.

The reference article ("Deep Learning GPU Benchmarks", Analytics Vidhya, January 2025) imported
five frameworks into one Python process, built one small feed-forward network in each (without
sharing weights), and timed ``num_runs`` calls per framework with ``time.time()`` around a loop
that also queried psutil after every call. ONNX Runtime and OpenVINO were fed the 1000-row batch
one row at a time; OpenVINO created a new infer request per row; the JAX "model" multiplied by
all-ones matrices created on every call and was never jitted.

Every one of those choices is a field of :class:`ArticleProtocol`, whose defaults reproduce the
article. The ablation flips one field at a time with :func:`dataclasses.replace` and calls
:func:`run_article_protocol` again; the functions of this package therefore take the protocol as
their only source of settings.

Modules:

* :mod:`.settings` — :class:`ArticleProtocol` and the article's constants;
* :mod:`.models` — the article's input, its import block, its five models and its ONNX export;
* :mod:`.loop` — its predict functions and its timed loop (``benchmark_model``);
* :mod:`.runner` — :func:`run_article_protocol`: import, build, time, one framework after another;
* :mod:`.isolation` — the same protocol with one fresh process per framework;
* :mod:`.records` — :class:`FrameworkResult`, :class:`ArticleRun` and their results-store records;
* :mod:`.published` — the article's published figures;
* :mod:`.pipeline` — ``benchlib article``'s measurements: both protocols and their records (the
  tables, figures and document are :mod:`benchlib.report.article_report`'s).

No framework is imported at import time, nor pandas: the protocol's own processes stay lean.
"""

from benchlib.studies.article.loop import LoopResult, benchmark_model, first_output, make_predict
from benchlib.studies.article.models import (
    ArticleModels,
    article_onnx_path,
    build_jax_model,
    build_keras_model,
    build_model,
    build_torch_model,
    export_onnx,
    import_framework,
    make_input,
    shared_weights,
)
from benchlib.studies.article.pipeline import CORRECTED_BATCH_SIZE, PER_ROW_BACKENDS, corrected_cases, measure_article
from benchlib.studies.article.published import load_published, published_csv_path
from benchlib.studies.article.records import ArticleRun, FrameworkResult
from benchlib.studies.article.runner import run_article_protocol
from benchlib.studies.article.settings import (
    ARTICLE_MODEL,
    ARTICLE_ORDER,
    DISPLAY_NAMES,
    TIMERS,
    WIDTHS,
    ArticleProtocol,
)

__all__ = [
    "ARTICLE_MODEL",
    "ARTICLE_ORDER",
    "DISPLAY_NAMES",
    "PER_ROW_BACKENDS",
    "TIMERS",
    "WIDTHS",
    "CORRECTED_BATCH_SIZE",
    "ArticleModels",
    "ArticleProtocol",
    "ArticleRun",
    "FrameworkResult",
    "LoopResult",
    "article_onnx_path",
    "benchmark_model",
    "build_jax_model",
    "build_keras_model",
    "build_model",
    "build_torch_model",
    "corrected_cases",
    "export_onnx",
    "first_output",
    "import_framework",
    "load_published",
    "make_input",
    "make_predict",
    "measure_article",
    "published_csv_path",
    "run_article_protocol",
    "shared_weights",
]
