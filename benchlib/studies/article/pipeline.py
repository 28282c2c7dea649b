"""``benchlib article``'s measurements, callable from the CLI and from notebooks.

1. the article protocol (:func:`~benchlib.studies.article.runner.run_article_protocol`): five
   frameworks in this process;
2. the corrected measurement (:func:`benchlib.engine.run_cases`): each framework in its own
   process, same weights, verified outputs, batch 1000 for all, warm-up, per-call p50; plus
   batch-1 runs of ONNX Runtime and OpenVINO, which the explanations use to price one row.

Both write their records (JSON lines) under ``out``/results; the tables, figures and document are
:mod:`benchlib.report.article_report`'s.
"""

from __future__ import annotations

import datetime as dt
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchlib import defaults
from benchlib.studies.article.records import ArticleRun
from benchlib.studies.article.runner import run_article_protocol
from benchlib.studies.article.settings import ARTICLE_ORDER, ArticleProtocol

if TYPE_CHECKING:
    from benchlib.engine.case import RunCase

#: backends measured again at batch 1 so that the explanations can price one row
PER_ROW_BACKENDS = ("onnxruntime", "openvino")
#: the corrected measurement's batch: the article's 1000 rows, in one call for every framework
CORRECTED_BATCH_SIZE = 1000


def corrected_cases(backends: tuple[str, ...] = ARTICLE_ORDER, min_time_s: float = defaults.FIXED_MIN_TIME_S,
                    per_row: bool = True, seed: int = 0) -> list[RunCase]:
    """Engine cases of the corrected measurement: batch 1000 per framework (+ batch 1 per-row ones)."""
    from benchlib.engine.grid import case_grid

    settings = {"protocol": "corrected", "min_time_s": min_time_s, "seed": seed}
    cases = case_grid(backends, [CORRECTED_BATCH_SIZE], **settings)
    if per_row:  # after every batch-1000 case, so the comparison is measured first
        cases += case_grid([b for b in backends if b in PER_ROW_BACKENDS], [1], **settings)
    return cases


def measure_article(num_runs: int = defaults.ARTICLE_NUM_RUNS, out: Path | None = None,
                    backends: tuple[str, ...] | None = None, corrected: bool = True, seed: int = 0,
                    min_time_s: float = defaults.FIXED_MIN_TIME_S, progress: bool = True,
                    results_dir: Path | None = None) -> tuple[ArticleRun, list[dict[str, Any]], list[Path]]:
    """Run the article protocol, then (``corrected``) the corrected measurement; append their records.

    Returns the protocol's run, the corrected records and the two results files.
    """
    from benchlib.results import append_record
    from benchlib.system.env import collect_env
    from benchlib.system.paths import outputs_dir

    out = Path(out or outputs_dir()).resolve()
    backends = tuple(b for b in ARTICLE_ORDER if b in (backends or ARTICLE_ORDER))
    protocol = ArticleProtocol(num_runs=num_runs, frameworks=backends, seed=seed)
    results_dir = Path(results_dir or out / "results")
    article_path = results_dir / "article-protocol.jsonl"
    corrected_path = results_dir / "article-corrected.jsonl"
    run_id = uuid.uuid4().hex
    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def log(message: str) -> None:
        if progress:
            print(message, file=sys.stderr, flush=True)

    run = run_article_protocol(protocol, progress=progress, onnx_dir=out / "models", log=log)
    for record in run.records(env=collect_env(), run_id=run_id, created=created):
        append_record(article_path, record)
    corrected_records: list[dict[str, Any]] = []
    if corrected:
        from benchlib.engine import run_cases

        log(f"corrected measurement: {len(backends)} frameworks, each in its own process")
        corrected_records = run_cases(corrected_cases(backends, min_time_s=min_time_s, seed=seed),
                                      results_path=corrected_path, progress=progress)
    return run, corrected_records, [article_path, *([corrected_path] if corrected else [])]
