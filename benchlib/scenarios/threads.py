"""NumPy, PyTorch and TensorFlow serve concurrent queries from a pool of Python threads.

Their inference calls release the GIL while the kernels run, so ``streams`` threads calling one
shared model overlap. What differs is how each framework's own thread pool is sized to match:

* NumPy: the BLAS library's threads are limited (threadpoolctl) to ``threads / streams`` per call.
* PyTorch: ``torch.set_num_threads(threads / streams)``; every calling thread gets an OpenMP team of
  that size (read back inside each worker thread, where it applies).
* TensorFlow: its intra-op pool is one per process and shared by concurrent calls, so it is sized
  to the whole budget (``threads``), and the inter-op pool to ``streams`` so that the calls' graphs
  run side by side. Both only take effect before TensorFlow's first operation (set between import
  and build).
"""

from __future__ import annotations

from collections.abc import Callable
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


class ThreadPoolStrategy(Strategy):
    """Threads calling one shared model; ``size`` sets the framework's pools before the build."""

    name = "thread pool"

    def __init__(self, backend: str, per_stream_threads: bool,
                 before_build: Callable[[Any, int | None, int], dict[str, Any]] | None = None,
                 probe: Callable[[Any], Callable[[], dict[str, Any]]] | None = None) -> None:
        self.backend = backend
        self.per_stream_threads = per_stream_threads  # the backend gets threads/streams, not threads
        self.before_build = before_build
        self.probe = probe

    def configurations(self, cores: int) -> list[Configuration]:
        # all threads on one stream (lowest latency per call) against one single-threaded stream per
        # core (most calls at once); on one core the second still overlaps two calls.
        return [Configuration(streams=1, threads=cores), Configuration(streams=max(2, cores), threads=cores)]

    def build(self, case: Any, spec: Any, streams: int | None, max_batch: int, create: BackendFactory) -> Built:
        streams = streams or 1
        share = threads_per_stream(case.threads, streams)
        backend_threads = share if self.per_stream_threads else None
        sized: dict[str, Any] = {}

        def before(backend: Any) -> None:
            if self.before_build is not None:
                sized.update(self.before_build(backend, case.threads, streams))

        backend, facts = build_backend(create, backend_threads, case.variant, before)
        predict = sample_predictor(backend)
        details = {"threads_total": case.threads, "threads_per_stream": share, **sized,
                   "backend_thread_settings": backend.thread_settings()}
        probe = self.probe(backend) if self.probe is not None else None
        return Built(ThreadPool([predict], streams, max_batch, probe=probe, details=details), facts, backend)


def _numpy_probe(backend: Any) -> Callable[[], dict[str, Any]]:
    def probe() -> dict[str, Any]:
        from threadpoolctl import threadpool_info

        return {"blas_threads": [info.get("num_threads") for info in threadpool_info()
                                 if info.get("user_api") == "blas"]}

    return probe


def _torch_probe(backend: Any) -> Callable[[], dict[str, Any]]:
    def probe() -> dict[str, Any]:
        import torch

        # PyTorch sizes a calling thread's OpenMP team when that thread first runs parallel work;
        # one tiny op makes it happen here, so the value read is the one the queries will use.
        torch.ones(64).sum()
        return {"intra_op": torch.get_num_threads(), "inter_op": torch.get_num_interop_threads()}

    return probe


def _tensorflow_pools(backend: Any, threads: int | None, streams: int) -> dict[str, Any]:
    import tensorflow as tf

    if threads is None:
        return {"intra_op_set": None, "inter_op_set": None}
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(streams)
    except RuntimeError as exc:  # TensorFlow already ran in this process: its pools keep their size
        return {"pools_error": str(exc)}
    return {"intra_op_set": threads, "inter_op_set": streams}


def _tensorflow_probe(backend: Any) -> Callable[[], dict[str, Any]]:
    def probe() -> dict[str, Any]:
        import tensorflow as tf

        return {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                "inter_op": tf.config.threading.get_inter_op_parallelism_threads()}

    return probe


NUMPY = ThreadPoolStrategy("numpy", per_stream_threads=True, probe=_numpy_probe)
PYTORCH = ThreadPoolStrategy("pytorch", per_stream_threads=True, probe=_torch_probe)
TENSORFLOW = ThreadPoolStrategy("tensorflow", per_stream_threads=False, before_build=_tensorflow_pools,
                                probe=_tensorflow_probe)
