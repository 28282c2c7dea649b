"""The article's predict functions and its timed loop (``benchmark_model``), each choice a setting."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import psutil

from benchlib.studies.article.models import ArticleModels
from benchlib.studies.article.settings import TIMERS, ArticleProtocol


def make_predict(
    framework: str, models: ArticleModels, protocol: ArticleProtocol
) -> Callable[[np.ndarray], Any]:
    """The article's ``<framework>_predict(input_data)``, with each of its choices a setting.

    Returns the framework's output (the article discarded it; returning it costs nothing and
    lets tests and the shared-weights ablation compare outputs).
    """
    per_sample = framework in protocol.per_sample
    if framework == "pytorch":
        torch, model = models.torch, models.torch_model

        def call(x: np.ndarray) -> Any:
            # the article neither used no_grad nor reused the tensor: torch.tensor copies x;
            # without convert_in_call the runner passes a tensor converted once, up front
            return model(torch.tensor(x) if protocol.convert_in_call else x)
    elif framework == "tensorflow":
        model = models.keras_model
        if protocol.tf_function:  # graph mode: traced once (on the first call), then run as one graph
            model = models.tf.function(model)

        def call(x: np.ndarray) -> Any:
            return model(x)  # eager Keras call, as in the article (unless tf_function)
    elif framework == "jax":
        jnp, fn = models.jnp, models.jax_model
        block = protocol.block_until_ready

        def call(x: np.ndarray) -> Any:
            out = fn(jnp.array(x) if protocol.convert_in_call else x)
            return out.block_until_ready() if block else out
    elif framework == "onnxruntime":
        session = models.onnx_session

        def call(x: np.ndarray) -> Any:
            # the article looked the input name up on every call
            return session.run(None, {session.get_inputs()[0].name: x})
    elif framework == "openvino":
        compiled, request = models.ov_compiled, models.ov_request
        if protocol.openvino_new_request:
            def call(x: np.ndarray) -> Any:
                return compiled.infer_new_request({0: x})
        else:
            def call(x: np.ndarray) -> Any:
                return request.infer({0: x})
    else:  # pragma: no cover
        raise ValueError(framework)

    if not per_sample:
        return call

    def predict_rows(x: np.ndarray) -> Any:
        out = None
        for i in range(x.shape[0]):
            out = call(x[i:i + 1])  # the article's "single_input = input_data[i:i+1]"
        return out

    return predict_rows


def first_output(value: Any, rows: int = 3) -> list[float] | None:
    """A few output values as floats, whatever container the framework returned."""
    try:
        if isinstance(value, list | tuple):
            value = value[0]
        if hasattr(value, "to_tuple"):  # OpenVINO OVDict
            value = value.to_tuple()[0]
        if hasattr(value, "detach"):
            value = value.detach().numpy()
        array = np.asarray(value, dtype=np.float64).reshape(-1)
        return [float(v) for v in array[:rows]]
    except Exception:  # noqa: BLE001 - a sample is a nicety, never a failure
        return None


# -- the article's loop ---------------------------------------------------------------------------

@dataclass
class LoopResult:
    """Raw outcome of :func:`benchmark_model`."""

    total_s: float
    num_runs: int
    cpu_readings: list[float]
    rss_bytes: list[int]
    last_output: Any = None

    @property
    def latency_ms(self) -> float:
        return self.total_s / self.num_runs * 1000.0


def benchmark_model(
    predict: Callable[[np.ndarray], Any],
    input_data: np.ndarray,
    num_runs: int = 1000,
    *,
    timer: str = "time.time",
    psutil_in_loop: bool = True,
    on_step: Callable[[], Any] | None = None,
) -> LoopResult:
    """The article's ``benchmark_model``: one clock around ``num_runs`` calls.

    With ``psutil_in_loop`` (the article), after each call it reads ``cpu_percent()`` (CPU time
    since the previous reading over the wall time since then, percent of one core; the first
    reading on a new ``Process`` is 0.0) and ``memory_info().rss``, inside the timed region.
    Without it, one CPU figure over the whole loop and the RSS at its end are read outside it.
    ``on_step`` (progress display) is called inside the loop; it costs well under a microsecond,
    against tens of microseconds for the two psutil calls.
    """
    clock = TIMERS[timer]
    cpu_usage: list[float] = []
    memory_usage: list[int] = []
    out = None
    if psutil_in_loop:
        start_time = clock()
        process = psutil.Process(os.getpid())  # created inside the timer, as in the article
        for _ in range(num_runs):
            out = predict(input_data)
            cpu_usage.append(process.cpu_percent())
            memory_usage.append(process.memory_info().rss)
            if on_step is not None:
                on_step()
        end_time = clock()
    else:
        process = psutil.Process(os.getpid())
        before = process.cpu_times()
        start_time = clock()
        for _ in range(num_runs):
            out = predict(input_data)
            if on_step is not None:
                on_step()
        end_time = clock()
        after = process.cpu_times()
        busy = (after.user - before.user) + (after.system - before.system)
        cpu_usage.append(100.0 * busy / max(end_time - start_time, 1e-9))
        memory_usage.append(process.memory_info().rss)
    return LoopResult(end_time - start_time, num_runs, cpu_usage, memory_usage, out)

