"""JAX serves concurrent queries through its asynchronous dispatch.

Calling a jitted function returns at once with an array whose value is still being computed; XLA
runs the computation on its own threads. So one dispatcher thread launches up to ``streams``
computations, and one completer thread waits for each in order (``np.asarray`` blocks until the
value is ready) and reports it: no Python thread per stream, the overlap is XLA's.

The backend's predictor blocks (it is the timed call of the single-stream engine), so the
non-blocking call is taken from the jitted function and parameters the backend built
(:func:`dispatch_function`); a backend without them is ``skipped`` with that reason.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from benchlib.scenarios.executors import Done, Executor, Rows, WorkQueue
from benchlib.scenarios.samples import is_named
from benchlib.scenarios.strategies import (
    BackendFactory,
    Built,
    Configuration,
    ScenarioUnsupportedError,
    Strategy,
    build_backend,
)

#: Why a user's model (named inputs, every output) has no JAX scenario yet.
NAMED_INPUTS_REASON = ("JAX's scenario executor dispatches one input array and reads one output; a user's model has "
                       "named inputs and returns every output; allowed for a user's model: onnxruntime (and pytorch "
                       "for a torch: factory)")
#: Computations in flight in the second configuration: enough to keep XLA's CPU threads busy while
#: Python prepares the next call, few enough that queued work does not inflate latency.
DEPTH = 4


def dispatch_function(backend: Any) -> Callable[[np.ndarray], Any]:
    """``rows -> jax.Array`` without waiting for the value (the backend's :meth:`dispatcher`)."""
    if not callable(getattr(backend, "dispatcher", None)):
        raise ScenarioUnsupportedError(f"backend {getattr(backend, 'name', backend)!r} has no non-blocking "
                                       "dispatcher() to overlap computations")
    return backend.dispatcher()


class AsyncDispatch(Executor):
    """A dispatcher thread with up to ``streams`` computations in flight, and a completer thread."""

    strategy = "asynchronous dispatch"

    def __init__(self, dispatch: Callable[[np.ndarray], Any], blocking: Callable[[np.ndarray], np.ndarray],
                 streams: int, max_batch: int, details: dict[str, Any]) -> None:
        super().__init__(streams, max_batch)
        self.dispatch, self.blocking, self.details = dispatch, blocking, details
        self._queue = WorkQueue()
        self._in_flight: queue.Queue = queue.Queue()
        self._slots = threading.Semaphore(streams)
        self._threads: list[threading.Thread] = []

    def start(self, done: Done) -> None:
        self._done = done
        for target in (self._dispatch_loop, self._complete_loop):
            thread = threading.Thread(target=target, name=f"sut-{target.__name__}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _dispatch_loop(self) -> None:
        while True:
            item = self._queue.take(self.max_batch, self.coalesce)
            if item is None:
                self._in_flight.put(None)
                return
            ids, rows = item
            self._slots.acquire()
            handle = None
            if self.error is None:
                try:
                    handle = self.dispatch(rows)
                except Exception as exc:  # noqa: BLE001 - the record must say why; LoadGen must not hang
                    self.fail(exc)
            self._in_flight.put((ids, rows, handle))

    def _complete_loop(self) -> None:
        while True:
            item = self._in_flight.get()
            if item is None:
                return
            ids, rows, handle = item
            outputs = None
            if handle is not None:
                try:
                    outputs = np.asarray(handle)  # waits for this computation only
                except Exception as exc:  # noqa: BLE001
                    self.fail(exc)
            self._slots.release()
            self._done(ids, rows, outputs)  # type: ignore[misc]

    def submit(self, ids: Sequence[int], rows: np.ndarray | Rows) -> None:
        self._queue.put(ids, rows)

    def call(self, rows: np.ndarray) -> np.ndarray:
        return self.blocking(rows)

    def stop(self) -> None:
        self._queue.close()
        for thread in self._threads:
            thread.join(timeout=30)
        self._threads.clear()

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "in_flight": self.streams, **self.details}


class DispatchStrategy(Strategy):
    name = "asynchronous dispatch"

    def configurations(self, cores: int) -> list[Configuration]:
        # XLA:CPU takes no thread count (only "one"); what varies is how many computations overlap
        return [Configuration(streams=1, threads=None), Configuration(streams=DEPTH, threads=None)]

    def build(self, case: Any, spec: Any, streams: int | None, max_batch: int, create: BackendFactory) -> Built:
        if is_named(spec):
            raise ScenarioUnsupportedError(NAMED_INPUTS_REASON)
        backend, facts = build_backend(create, case.threads, case.variant)
        blocking = backend.raw_predictor()
        dispatch = dispatch_function(backend)
        details = {"threads_total": case.threads, "backend_thread_settings": backend.thread_settings()}
        return Built(AsyncDispatch(dispatch, blocking, streams or 1, max_batch, details), facts, backend)


STRATEGY = DispatchStrategy()
