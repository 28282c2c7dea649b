"""Each framework's way of serving concurrent queries: the table, and what every strategy provides.

A strategy builds the backend through its public interface (``import_framework``, ``build``,
``raw_predictor``) from the worker's backend factory (:data:`BackendFactory`: the case's model at its
precision, however the model was given) and wraps it in an :class:`~benchlib.scenarios.executors.Executor`
that runs batches concurrently the way that framework is meant to (docs/scenarios.md):

============  =============================================================================
numpy         thread pool; BLAS threads per call = threads / streams (threadpoolctl)
pytorch       thread pool; intra-op threads per calling thread = threads / streams
tensorflow    thread pool; one intra-op pool per process sized to all threads, inter-op = streams
litert        none yet: every scenario is skipped with the reason (:data:`LITERT_REASON`)
onnxruntime   one InferenceSession per stream, each with threads / streams intra-op threads
jax           asynchronous dispatch: up to ``streams`` computations in flight, one completer
openvino      AsyncInferQueue on the throughput (or latency) hint's streams and requests
============  =============================================================================

Every strategy offers at least two :class:`Configuration` s, so that the sweep shows which wins; a
quick sweep runs each scenario with the one meant for it (:func:`configurations_for`).
"""

from __future__ import annotations

import importlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchlib.scenarios.executors import Executor

#: backend -> "module:attribute" of its strategy (imported only when used).
STRATEGIES: dict[str, str] = {
    "numpy": "benchlib.scenarios.threads:NUMPY",
    "pytorch": "benchlib.scenarios.threads:PYTORCH",
    "tensorflow": "benchlib.scenarios.threads:TENSORFLOW",
    "litert": "benchlib.scenarios.strategies:LITERT",
    "onnxruntime": "benchlib.scenarios.onnxruntime_sessions:STRATEGY",
    "jax": "benchlib.scenarios.jax_dispatch:STRATEGY",
    "openvino": "benchlib.scenarios.openvino_async:STRATEGY",
}


#: ``create(threads, variant) -> Backend``: a new, unbuilt backend of the case's model at the case's precision,
#: already told that it is measured (the worker's; see benchlib.engine.build.new_backend).
BackendFactory = Callable[[int | None, str | None], Any]


class ScenarioUnsupportedError(RuntimeError):
    """This backend (or configuration) cannot run the scenario: the record is ``skipped`` with the reason."""


@dataclass(frozen=True)
class Configuration:
    """One way of running a framework concurrently: a column of its records."""

    streams: int | None  # batches in flight at once; None: the framework's own choice (OpenVINO's hint)
    threads: int | None  # threads of all streams together; None: the framework's default
    variant: str | None = None  # None: the backend's default variant

    def label(self) -> str:
        streams = "auto" if self.streams is None else str(self.streams)
        threads = "default" if self.threads is None else str(self.threads)
        variant = f"{self.variant} " if self.variant else ""
        return f"{variant}{streams} stream(s), {threads} thread(s)"


def threads_per_stream(threads: int | None, streams: int) -> int | None:
    """Each stream's share of the thread budget (at least one); ``None`` keeps the framework's default."""
    return None if threads is None else max(1, threads // streams)


@dataclass
class Built:
    """A ready executor, the facts of building it (record fields) and the (first) backend built."""

    executor: Executor
    facts: dict[str, Any]
    backend: Any  # the record's precision and model file are read from it


def build_backend(create: BackendFactory, threads: int | None, variant: str | None,
                  before_build: Any = None) -> tuple[Any, dict[str, Any]]:
    """Create (through ``create``), import and build one backend through its public interface; the phases are timed.

    ``before_build(backend)`` runs between import and build (thread settings that a framework only
    accepts before its first operation).
    """
    backend = create(threads, variant)
    tick = time.perf_counter()
    backend.import_framework()
    facts: dict[str, Any] = {"import_s": time.perf_counter() - tick}
    if before_build is not None:
        before_build(backend)
    tick = time.perf_counter()
    backend.build()
    facts["load_s"] = time.perf_counter() - tick
    facts["variant"] = backend.variant
    facts["framework_version"] = backend.version()
    return backend, facts


class Strategy(ABC):
    """How one framework serves concurrent queries."""

    #: what the records and docs call it
    name: str = "strategy"

    @abstractmethod
    def configurations(self, cores: int) -> list[Configuration]:
        """The configurations a sweep compares on a machine with ``cores`` usable cores (at least two):
        the one meant for latency (one call at a time as fast as possible) first, the one meant for
        throughput (the most calls at once) last."""

    def unsupported(self, case: Any) -> str | None:
        """Why ``case`` cannot run with this strategy, or ``None``."""
        return None

    @abstractmethod
    def build(self, case: Any, spec: Any, streams: int | None, max_batch: int, create: BackendFactory) -> Built:
        """Import and build the framework for ``case`` (each backend made by ``create``) and return the
        executor (not started)."""


#: Scenarios judged by latency (a quick sweep runs them with the latency configuration only).
LATENCY_SCENARIOS = ("SingleStream", "MultiStream")


def configurations_for(strategy: Strategy, cores: int, scenario: str, quick: bool) -> list[Configuration]:
    """Every configuration of ``strategy``; quick: the latency one for SingleStream and MultiStream,
    the throughput one for Offline and Server (what a deployment of that kind would choose)."""
    every = strategy.configurations(cores)
    if not quick:
        return every
    return [every[0] if scenario in LATENCY_SCENARIOS else every[-1]]


def strategy_for(backend: str) -> Strategy:
    """The strategy of ``backend`` (imports the strategy module, not the framework)."""
    try:
        target = STRATEGIES[backend]
    except KeyError:
        raise ValueError(f"backend={backend!r} has no scenario strategy; allowed: {', '.join(STRATEGIES)}") from None
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


#: Why LiteRT has no scenario strategy yet.
LITERT_REASON = ("LiteRT has no concurrent-serving strategy in benchlib yet: an interpreter is not thread-safe (one "
                 "per stream would be needed), and the litert backend converts one model per batch size (Keras's "
                 "LSTM converts to builtins only with a fixed batch), while LoadGen's Server scenario calls every "
                 "size up to the batch")


class NotImplementedStrategy(Strategy):
    """A backend without a scenario strategy: its cases are planned, then skipped with ``reason``."""

    name = "none"

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def configurations(self, cores: int) -> list[Configuration]:
        return [Configuration(streams=1, threads=cores), Configuration(streams=max(2, cores), threads=cores)]

    def unsupported(self, case: Any) -> str | None:
        return self.reason

    def build(self, case: Any, spec: Any, streams: int | None, max_batch: int, create: BackendFactory) -> Built:
        raise ScenarioUnsupportedError(self.reason)


LITERT = NotImplementedStrategy(LITERT_REASON)
