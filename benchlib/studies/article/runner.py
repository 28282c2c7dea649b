"""Running the article's protocol: import every framework, build every model, time each in turn.

With ``protocol.one_process`` (the article) all of it happens in this process; otherwise each
framework runs the same protocol in a fresh process of its own (:mod:`.isolation`).
"""

from __future__ import annotations

import contextlib
import io
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from benchlib.backends.registry import missing_requirement
from benchlib.studies.article.loop import LoopResult, benchmark_model, first_output, make_predict
from benchlib.studies.article.models import ArticleModels, build_model, import_framework, make_input
from benchlib.studies.article.records import ArticleRun, FrameworkResult
from benchlib.studies.article.settings import DISPLAY_NAMES, MB, ArticleProtocol


def _rss_mb() -> float:
    return psutil.Process(os.getpid()).memory_info().rss / MB


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()


def _progress_bar(display: str, total: int, enabled: bool):  # -> tqdm | None
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"article: {display:<10}", unit="run", leave=True, dynamic_ncols=True)


def _fill(result: FrameworkResult, loop: LoopResult) -> None:
    readings = loop.cpu_readings
    result.latency_ms = loop.latency_ms
    result.wall_s = loop.total_s
    result.cpu_percent = float(np.mean(readings))
    result.memory_mb = float(np.mean(loop.rss_bytes)) / MB
    result.cpu_readings = len(readings)
    result.cpu_zero_fraction = float(np.mean([r == 0.0 for r in readings]))
    result.cpu_max_percent = float(np.max(readings))
    result.cpu_first_reading = float(readings[0])
    result.rss_min_mb = float(np.min(loop.rss_bytes)) / MB
    result.rss_max_mb = float(np.max(loop.rss_bytes)) / MB
    result.output_sample = first_output(loop.last_output)


def run_article_protocol(
    protocol: ArticleProtocol | None = None,
    *,
    progress: bool = True,
    onnx_dir: Path | None = None,
    on_result: Callable[[FrameworkResult], Any] | None = None,
    log: Callable[[str], Any] | None = None,
) -> ArticleRun:
    """Run the article's protocol and return per-framework results.

    With ``protocol.one_process`` (the article) every framework is imported first, then every
    model is built, then each framework is timed in turn, all in this process. A framework that
    is not installed is recorded as ``skipped`` with the requirement to install; one that fails
    is recorded as ``failed`` with its error, and the others go on. ``on_result`` is called with
    each result as soon as it is known.

    Without ``one_process`` each framework runs this same protocol alone in a fresh child process
    (:func:`benchlib.studies.article.isolation.run_isolated`); a child that crashes or times out
    is one failed framework. Children show no progress bar (their stderr is kept for the failure
    record); ``log`` names each framework as its process starts.
    """
    protocol = protocol or ArticleProtocol()
    if not protocol.one_process:
        from benchlib.studies.article.isolation import run_isolated

        return run_isolated(protocol, onnx_dir=onnx_dir, on_result=on_result, log=log)
    say = log or (lambda _msg: None)
    run_start = time.perf_counter()
    run = ArticleRun(protocol=protocol, results=[], pid=os.getpid(), rss_baseline_mb=_rss_mb())
    results = {f: FrameworkResult(framework=f, display=DISPLAY_NAMES[f], pid=os.getpid(),
                                  num_runs=protocol.num_runs, batch_size=protocol.batch_size,
                                  calls_per_run=protocol.calls_per_run(f))
               for f in protocol.frameworks}
    models = ArticleModels()

    # 1. the article's import block: every framework, before anything is measured
    for framework in protocol.frameworks:
        requirement = missing_requirement(framework)
        if requirement is not None:
            results[framework].status = "skipped"
            results[framework].error = f"not installed; needs: pip install {requirement}"
            continue
        try:
            import_framework(framework, models)
        except Exception as exc:  # noqa: BLE001 - one framework's failure must not stop the rest
            results[framework].status = "failed"
            results[framework].error = f"import failed: {_error_text(exc)}"
    run.rss_after_imports_mb = _rss_mb()
    # ONNX and OpenVINO load a file exported from the PyTorch module: torch must be imported
    if any(f in protocol.frameworks for f in ("onnxruntime", "openvino")) and models.torch is None \
            and missing_requirement("pytorch") is None and "pytorch" not in protocol.frameworks:
        import_framework("pytorch", models)

    # 2. the article's model definitions
    needs_torch_model = any(results[f].status == "ok" for f in ("onnxruntime", "openvino") if f in results)
    build_order = list(protocol.frameworks)
    if needs_torch_model and "pytorch" not in build_order and models.torch is not None:
        build_order.insert(0, "pytorch")  # only to export the ONNX file
    for framework in build_order:
        result = results.get(framework)
        if result is not None and result.status != "ok":
            continue
        try:
            build_model(framework, models, protocol, onnx_dir)
        except Exception as exc:  # noqa: BLE001
            if result is not None:
                result.status = "failed"
                result.error = f"model build failed: {_error_text(exc)}"
                result.notes.append(traceback.format_exc(limit=3))
    run.rss_after_models_mb = _rss_mb()
    run.onnx_path = str(models.onnx_path) if models.onnx_path else None
    for framework, result in results.items():
        result.version = models.versions.get(framework)
        result.setup_s = models.import_s.get(framework, 0.0) + models.build_s.get(framework, 0.0)

    # 3. the article's benchmark, one framework after another
    input_data = make_input(protocol)
    for framework in protocol.frameworks:
        result = results[framework]
        if result.status == "ok":
            say(f"article protocol: {result.display} ({protocol.num_runs} runs × "
                f"{result.calls_per_run} call{'s' if result.calls_per_run > 1 else ''})")
            bar = _progress_bar(result.display, protocol.num_runs, progress)
            try:
                predict = make_predict(framework, models, protocol)
                data: Any = input_data
                if not protocol.convert_in_call and framework == "pytorch":
                    data = models.torch.tensor(input_data)
                elif not protocol.convert_in_call and framework == "jax":
                    data = models.jnp.array(input_data)
                for _ in range(protocol.warmup_runs):
                    predict(data)
                result.rss_before_mb = _rss_mb()
                # stdout of frameworks (e.g. Keras progress) must not interleave with the bar
                with contextlib.redirect_stdout(io.StringIO()):
                    loop = benchmark_model(predict, data, protocol.num_runs, timer=protocol.timer,
                                           psutil_in_loop=protocol.psutil_in_loop,
                                           on_step=bar.update if bar is not None else None)
                _fill(result, loop)
            except Exception as exc:  # noqa: BLE001
                result.status = "failed"
                result.error = f"benchmark failed: {_error_text(exc)}"
            finally:
                if bar is not None:
                    bar.close()
        run.results.append(result)
        if on_result is not None:
            on_result(result)
    run.wall_s = time.perf_counter() - run_start
    return run


def run_in_this_process(payload: dict[str, Any]) -> dict[str, Any]:
    """Child side of :mod:`.isolation`: run the protocol of ``payload`` here, in one process; return the run as JSON.

    ``payload``: ``{"protocol": ArticleProtocol.to_dict(), "onnx_dir": str | None}``.
    """
    protocol = replace(ArticleProtocol.from_dict(payload["protocol"]), one_process=True)
    onnx_dir = payload.get("onnx_dir")
    run = run_article_protocol(protocol, progress=False, onnx_dir=Path(onnx_dir) if onnx_dir else None)
    return run.to_dict()
