"""One process per framework (the ablation's fix for the flaw "one process"), otherwise the same protocol.

Each framework runs :func:`~benchlib.studies.article.runner.run_article_protocol` alone, in a
fresh child process started by :func:`benchlib.system.child.run_in_child`: its own session, the
settings in and the run out as JSON, a timeout, and the whole process tree killed on a timeout or
Ctrl-C. ONNX Runtime's and OpenVINO's processes still import torch to export the ONNX file, as the
article's pipeline needs; the file is exported before their loops, so it is in their RSS.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil

from benchlib.studies.article.records import ArticleRun, FrameworkResult
from benchlib.studies.article.settings import DISPLAY_NAMES, MB, ArticleProtocol

#: Seconds one framework's process may take (import, build, loop) before it is killed and
#: recorded as failed. The article's default settings take a few minutes for OpenVINO, the slowest.
CHILD_TIMEOUT_S = 3600.0
#: The child-side entry point (``module:function``) given to :func:`run_in_child`.
CHILD_TARGET = "benchlib.studies.article.runner:run_in_this_process"


def run_isolated(protocol: ArticleProtocol, *, onnx_dir: Path | None = None,
                 on_result: Callable[[FrameworkResult], Any] | None = None,
                 log: Callable[[str], Any] | None = None,
                 timeout_s: float = CHILD_TIMEOUT_S) -> ArticleRun:
    """Each framework of ``protocol`` in its own fresh process; a crashed or timed-out child is one failed framework."""
    from benchlib.system.child import run_in_child

    say = log or (lambda _msg: None)
    start = time.perf_counter()
    run = ArticleRun(protocol=protocol, results=[], pid=os.getpid(),
                     rss_baseline_mb=psutil.Process(os.getpid()).memory_info().rss / MB)
    for framework in protocol.frameworks:
        display = DISPLAY_NAMES[framework]
        say(f"article protocol: {display} in its own process ({protocol.num_runs} runs)")
        child = replace(protocol, frameworks=(framework,), one_process=True)
        payload = {"protocol": child.to_dict(), "onnx_dir": str(onnx_dir) if onnx_dir else None}
        outcome = run_in_child(CHILD_TARGET, payload, timeout_s=timeout_s, what="article run")
        reason = outcome.error
        if outcome.ok:
            try:
                result = ArticleRun.from_dict(outcome.value).results[0]
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                reason = f"unreadable article run ({type(exc).__name__}: {exc})"
        if reason is not None:  # a crashed or timed-out child is one failed framework
            result = FrameworkResult(framework=framework, display=display, status="failed", pid=outcome.pid,
                                     error=f"child process failed: {reason}", num_runs=protocol.num_runs,
                                     batch_size=protocol.batch_size, calls_per_run=protocol.calls_per_run(framework))
            if outcome.stderr_tail:
                result.notes.append(outcome.stderr_tail)
        run.results.append(result)
        if on_result is not None:
            on_result(result)
    run.wall_s = time.perf_counter() - start
    return run
