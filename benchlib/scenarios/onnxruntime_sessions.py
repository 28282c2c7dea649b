"""ONNX Runtime serves concurrent queries with one InferenceSession per stream, called from a thread pool.

``InferenceSession.run`` releases the GIL, and each session owns its intra-op thread pool, so
``streams`` sessions with ``threads / streams`` intra-op threads each divide the cores between them
instead of contending for one pool (docs/scenarios.md). Each session's options are read back.
"""

from __future__ import annotations

from typing import Any

from benchlib.scenarios.executors import ThreadPool
from benchlib.scenarios.samples import sample_predictor
from benchlib.scenarios.strategies import (
    BackendFactory,
    Built,
    Configuration,
    Strategy,
    build_backend,
    threads_per_stream,
)


class SessionsStrategy(Strategy):
    name = "session per stream"

    def configurations(self, cores: int) -> list[Configuration]:
        return [Configuration(streams=1, threads=cores), Configuration(streams=max(2, cores), threads=cores)]

    def build(self, case: Any, spec: Any, streams: int | None, max_batch: int, create: BackendFactory) -> Built:
        streams = streams or 1
        share = threads_per_stream(case.threads, streams)
        predictors, sessions, backends, facts = [], [], [], {}
        for index in range(streams):
            backend, built = build_backend(create, share, case.variant)
            if index == 0:
                facts = built
            else:  # the later sessions' load time counts too: all of them serve
                facts["load_s"] += built["load_s"]
            backends.append(backend)
            predictors.append(sample_predictor(backend))
            sessions.append(backend.thread_settings())
        details = {"threads_total": case.threads, "threads_per_stream": share, "sessions": sessions}
        return Built(ThreadPool(predictors, streams, max_batch, details=details), facts, backends[0])


STRATEGY = SessionsStrategy()
