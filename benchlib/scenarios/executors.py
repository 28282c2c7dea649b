"""How a system under test runs batches of samples concurrently: the executor interface and a thread pool.

The LoadGen harness (:mod:`benchlib.scenarios.loadgen_harness`) hands each executor batches of
samples (``submit``) and learns of each finished batch through the ``done`` callback it gave to
``start``; SingleStream runs one synchronous ``call`` at a time in LoadGen's own thread, since one
query at a time cannot use concurrency and a hand-off would only add latency.

:class:`ThreadPool` is the strategy of the frameworks whose calls release the GIL (NumPy's BLAS,
PyTorch, TensorFlow, ONNX Runtime): N Python threads, each calling its own predictor (or one shared
predictor), fed from one queue. JAX (asynchronous dispatch) and OpenVINO (``AsyncInferQueue``)
have executors of their own in their strategy modules.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

#: ``done(ids, inputs, outputs)``: a batch finished; ``outputs`` is None when it failed.
Done = Callable[[Sequence[int], np.ndarray, "np.ndarray | None"], None]
Predictor = Callable[[np.ndarray], np.ndarray]


class Executor(ABC):
    """Runs batches of samples, each framework its own way, and reports every batch as done."""

    #: how the executor runs things, for the record ("thread pool", "AsyncInferQueue", ...)
    strategy: str = "executor"

    def __init__(self, streams: int, max_batch: int) -> None:
        self.streams = streams  # batches it runs at once: queries are cut into at least this many
        self.max_batch = max_batch  # most samples per inference call
        self.coalesce = False  # Server: take queued samples together, up to max_batch
        self.error: BaseException | None = None  # the first failure; later batches complete unrun
        self._done: Done | None = None

    def fail(self, exc: BaseException) -> None:
        """Remember the first failure (the run becomes a failed record)."""
        if self.error is None:
            self.error = exc

    @abstractmethod
    def start(self, done: Done) -> None:
        """Start the workers; ``done`` is called (from any thread) for each finished batch."""

    @abstractmethod
    def submit(self, ids: Sequence[int], rows: np.ndarray | Rows) -> None:
        """Queue one batch (returns at once); :class:`Rows` are gathered when the batch is taken."""

    @abstractmethod
    def call(self, rows: np.ndarray) -> np.ndarray:
        """One synchronous inference (SingleStream, warm-up)."""

    @abstractmethod
    def stop(self) -> None:
        """Stop the workers (queued batches are dropped)."""

    def settings(self) -> dict[str, Any]:
        """The configuration, as read back from the framework where it allows."""
        return {"strategy": self.strategy, "streams": self.streams, "max_batch": self.max_batch}


class Rows:
    """Samples of the query sample library by index, gathered only when a stream takes them.

    An Offline query holds every sample of the run (hundreds of thousands for a small model); its
    batches are queued at once, so gathering their inputs up front would hold a copy of all of them.
    """

    __slots__ = ("data", "indices")

    def __init__(self, data: np.ndarray, indices: np.ndarray) -> None:
        self.data, self.indices = data, indices

    def __len__(self) -> int:
        return len(self.indices)

    def gather(self) -> np.ndarray:
        return self.data[self.indices]


def gathered(rows: np.ndarray | Rows) -> np.ndarray:
    """The input array of a queued batch."""
    return rows.gather() if isinstance(rows, Rows) else rows


class WorkQueue:
    """A FIFO of ``(ids, rows)`` batches that hands a taker several queued batches at once when asked.

    ``rows`` is an array or :class:`Rows`; :meth:`take` always returns an array.
    """

    def __init__(self) -> None:
        self._items: deque[tuple[Sequence[int], np.ndarray | Rows]] = deque()
        self._ready = threading.Condition()
        self._closed = False

    def put(self, ids: Sequence[int], rows: np.ndarray | Rows) -> None:
        with self._ready:
            self._items.append((ids, rows))
            self._ready.notify()

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._items.clear()
            self._ready.notify_all()

    def take(self, max_rows: int, coalesce: bool) -> tuple[list[int], np.ndarray] | None:
        """The next batch (with ``coalesce``, joined with the batches queued behind it up to
        ``max_rows`` samples); ``None`` once closed."""
        with self._ready:
            while not self._items and not self._closed:
                self._ready.wait()
            if self._closed:
                return None
            ids, rows = self._items.popleft()
            all_ids, parts, count = list(ids), [rows], len(rows)
            while coalesce and self._items and count + len(self._items[0][1]) <= max_rows:
                more_ids, more_rows = self._items.popleft()
                all_ids.extend(more_ids)
                parts.append(more_rows)
                count += len(more_rows)
        # gathered outside the lock: the other streams keep taking work meanwhile
        arrays = [gathered(part) for part in parts]
        return all_ids, np.concatenate(arrays) if len(arrays) > 1 else arrays[0]


class ThreadPool(Executor):
    """``streams`` Python threads fed from one queue; thread ``i`` calls ``predictors[i % len]``.

    ``probe`` (optional) runs once in each worker thread and its result is kept in the settings:
    thread-pool sizes are per calling thread in some frameworks (PyTorch's OpenMP teams), so they
    are read back where the calls happen.
    """

    strategy = "thread pool"

    def __init__(self, predictors: Sequence[Predictor], streams: int, max_batch: int,
                 probe: Callable[[], dict[str, Any]] | None = None, details: dict[str, Any] | None = None) -> None:
        super().__init__(streams, max_batch)
        if not predictors:
            raise ValueError("predictors=[] is invalid; allowed: at least one predictor")
        self.predictors = list(predictors)
        self.probe = probe
        self.details = dict(details or {})
        self.read_back: list[dict[str, Any]] = []
        self._queue = WorkQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self, done: Done) -> None:
        self._done = done
        started = threading.Barrier(self.streams + 1)
        for index in range(self.streams):
            thread = threading.Thread(target=self._work, args=(index, started), name=f"sut-stream-{index}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)
        started.wait()  # every probe has run: the settings are complete before the first query

    def _work(self, index: int, started: threading.Barrier) -> None:
        predict = self.predictors[index % len(self.predictors)]
        if self.probe is not None:
            try:
                seen = self.probe()
            except Exception as exc:  # noqa: BLE001 - a read-back that fails is recorded, not fatal
                seen = {"error": str(exc)}
            with self._lock:
                self.read_back.append({"stream": index, **seen})
        started.wait()
        while True:
            item = self._queue.take(self.max_batch, self.coalesce)
            if item is None:
                return
            ids, rows = item
            outputs = None
            if self.error is None:
                try:
                    outputs = predict(rows)
                except Exception as exc:  # noqa: BLE001 - the record must say why; LoadGen must not hang
                    self.fail(exc)
            self._done(ids, rows, outputs)  # type: ignore[misc]

    def submit(self, ids: Sequence[int], rows: np.ndarray | Rows) -> None:
        self._queue.put(ids, rows)

    def call(self, rows: np.ndarray) -> np.ndarray:
        return self.predictors[0](rows)

    def stop(self) -> None:
        self._queue.close()
        for thread in self._threads:
            thread.join(timeout=30)
        self._threads.clear()

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "predictors": len(self.predictors), **self.details,
                "per_stream": sorted(self.read_back, key=lambda item: item["stream"])}


def split_rows(count: int, max_batch: int, streams: int) -> list[slice]:
    """Cut ``count`` samples into calls of at most ``max_batch``, and into at least ``streams`` calls
    (when there are that many samples) so that every stream has work: nearly equal slices, in order."""
    parts = max(-(-count // max_batch), min(streams, count), 1)
    size, extra = divmod(count, parts)
    slices, start = [], 0
    for index in range(parts):
        stop = start + size + (1 if index < extra else 0)
        slices.append(slice(start, stop))
        start = stop
    return slices
