"""OpenVINO serves concurrent queries with ``AsyncInferQueue`` on the performance hint's streams and requests.

The backend compiles the model with ``PERFORMANCE_HINT=THROUGHPUT`` (several CPU streams, several
infer requests) or ``LATENCY`` (one stream using every thread); the compiled model says how many
streams and requests it chose (read back, never assumed). The backend compiles one static-shape
model per batch size (``static_shape``), so this executor keeps one ``AsyncInferQueue`` per power-of-
two batch up to the largest call, pads a batch to the next of those sizes, and caps the requests in
flight over all of them at the compiled model's optimal number. A feeder thread starts the requests
(``start_async`` waits for an idle one); OpenVINO's callback reports each finished batch.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
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

#: Hints a scenario can use (the backend's ``async`` variant splits each call itself, which the
#: executor already does across requests).
HINT_VARIANTS = ("throughput", "latency")
#: Why a user's model (named inputs, every output) has no OpenVINO scenario yet.
NAMED_INPUTS_REASON = ("OpenVINO's scenario executor feeds AsyncInferQueue requests one input array and reads one "
                       "output, on static batch shapes compiled from a zoo model's input; a user's model has named "
                       "inputs and returns every output; allowed for a user's model: onnxruntime (and pytorch for a "
                       "torch: factory)")
#: Properties read back from the compiled model for the record.
PROPERTIES = ("PERFORMANCE_HINT", "NUM_STREAMS", "OPTIMAL_NUMBER_OF_INFER_REQUESTS", "INFERENCE_NUM_THREADS")


def batch_sizes(max_batch: int) -> list[int]:
    """The static batch sizes compiled: powers of two below ``max_batch``, and ``max_batch``."""
    sizes, size = [], 1
    while size < max_batch:
        sizes.append(size)
        size *= 2
    return [*sizes, max_batch]


def read_properties(compiled: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key in PROPERTIES:
        try:
            value = compiled.get_property(key)
            found[key.lower()] = value if isinstance(value, int) else str(value)
        except Exception:  # noqa: BLE001 - a property this plugin does not report
            found[key.lower()] = None
    return found


class AsyncQueue(Executor):
    """A feeder thread starting requests on per-batch-size ``AsyncInferQueue`` s; callbacks complete."""

    strategy = "AsyncInferQueue"

    def __init__(self, backend: Any, requests: int | None, max_batch: int, details: dict[str, Any]) -> None:
        from benchlib.backends.openvino import import_openvino

        ov = import_openvino()  # already imported by the backend: the same module
        self.sizes = batch_sizes(max_batch)
        compiled = {size: backend.static_shape(size).compiled for size in self.sizes}
        self.properties = read_properties(compiled[max_batch])
        optimal = self.properties.get("optimal_number_of_infer_requests")
        in_flight = requests or (optimal if isinstance(optimal, int) and optimal > 0 else 1)
        super().__init__(in_flight, max_batch)
        self.details = details
        self.queues = {size: ov.AsyncInferQueue(model, in_flight) for size, model in compiled.items()}
        for size, infer_queue in self.queues.items():
            # every request of every queue runs once before the callback is set: first-inference
            # costs (memory, primitive creation) stay out of the measured run
            zeros = np.zeros((size, *backend.spec.input_shape), dtype=backend.spec.random_input(1, 0).dtype)
            for _ in range(len(infer_queue)):
                infer_queue.start_async({0: zeros})
            infer_queue.wait_all()
            infer_queue.set_callback(self._finished)
        self._blocking = backend.raw_predictor()
        self._work = WorkQueue()
        self._slots = threading.Semaphore(in_flight)
        self._feeder: threading.Thread | None = None

    def start(self, done: Done) -> None:
        self._done = done
        self._feeder = threading.Thread(target=self._feed, name="sut-feeder", daemon=True)
        self._feeder.start()

    def _size_for(self, count: int) -> int:
        return next(size for size in self.sizes if size >= count)

    def _feed(self) -> None:
        while True:
            item = self._work.take(self.max_batch, self.coalesce)
            if item is None:
                return
            ids, rows = item
            if self.error is not None:
                self._done(ids, rows, None)  # type: ignore[misc]
                continue
            size = self._size_for(len(rows))
            padded = rows if len(rows) == size else np.concatenate(
                [rows, np.zeros((size - len(rows), *rows.shape[1:]), rows.dtype)])
            self._slots.acquire()
            try:
                # userdata keeps the input alive until the request has finished with it
                self.queues[size].start_async({0: padded}, (ids, rows, padded), share_inputs=True)
            except Exception as exc:  # noqa: BLE001 - the record must say why; LoadGen must not hang
                self._slots.release()
                self.fail(exc)
                self._done(ids, rows, None)  # type: ignore[misc]

    def _finished(self, request: Any, userdata: Any) -> None:
        ids, rows, _ = userdata
        outputs = None
        try:
            outputs = np.array(request.get_output_tensor(0).data[: len(rows)])
        except Exception as exc:  # noqa: BLE001
            self.fail(exc)
        finally:
            self._slots.release()
        self._done(ids, rows, outputs)  # type: ignore[misc]

    def submit(self, ids: Sequence[int], rows: np.ndarray | Rows) -> None:
        self._work.put(ids, rows)

    def call(self, rows: np.ndarray) -> np.ndarray:
        return self._blocking(rows)

    def stop(self) -> None:
        self._work.close()
        if self._feeder is not None:
            self._feeder.join(timeout=30)
        for infer_queue in self.queues.values():
            infer_queue.wait_all()

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "requests_in_flight": self.streams, "static_batches": self.sizes,
                **self.properties, **self.details}


class AsyncQueueStrategy(Strategy):
    name = "AsyncInferQueue"

    def configurations(self, cores: int) -> list[Configuration]:
        # the hint picks streams and requests; the record says what it picked
        return [Configuration(streams=None, threads=cores, variant="latency"),
                Configuration(streams=None, threads=cores, variant="throughput")]

    def unsupported(self, case: Any) -> str | None:
        if case.variant is not None and case.variant not in HINT_VARIANTS:
            return (f"variant {case.variant!r} splits each call across requests itself; scenarios run "
                    f"AsyncInferQueue on the {' or '.join(HINT_VARIANTS)} hint")
        return None

    def build(self, case: Any, spec: Any, streams: int | None, max_batch: int, create: BackendFactory) -> Built:
        if is_named(spec):
            raise ScenarioUnsupportedError(NAMED_INPUTS_REASON)
        backend, facts = build_backend(create, case.threads, case.variant or "throughput")
        details = {"threads_total": case.threads, "backend_thread_settings": backend.thread_settings()}
        return Built(AsyncQueue(backend, streams, max_batch, details), facts, backend)


STRATEGY = AsyncQueueStrategy()
