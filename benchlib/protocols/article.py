"""The article's benchmark protocol, re-implemented on purpose with its flaws.

The reference article ("Deep Learning GPU Benchmarks", Analytics Vidhya, January 2025) imported
five frameworks into one Python process, built one small feed-forward network in each (without
sharing weights), and timed ``num_runs`` calls per framework with ``time.time()`` around a loop
that also queried psutil after every call. ONNX Runtime and OpenVINO were fed the 1000-row batch
one row at a time; OpenVINO created a new infer request per row; the JAX "model" multiplied by
all-ones matrices created on every call and was never jitted.

Every one of those choices is a field of :class:`ArticleProtocol`, whose defaults reproduce the
article. The ablation (issue 6) flips one field at a time with :func:`dataclasses.replace` and
calls :func:`run_article_protocol` again; the functions below therefore take the protocol as
their only source of settings.

No framework is imported at module import time.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from benchlib.backends.registry import missing_requirement
from benchlib.paths import models_dir

#: The article's frameworks, in the order it measured them (benchlib backend names).
ARTICLE_ORDER: tuple[str, ...] = ("pytorch", "tensorflow", "jax", "onnxruntime", "openvino")
#: The names the article printed in its tables.
DISPLAY_NAMES: dict[str, str] = {
    "pytorch": "PyTorch",
    "tensorflow": "TensorFlow",
    "jax": "JAX",
    "onnxruntime": "ONNX",
    "openvino": "OpenVINO",
}
#: The article's network: 200 → 128 → 64 → 32 → 16 → 8 → 1, ReLU between, sigmoid at the end.
WIDTHS: tuple[int, ...] = (200, 128, 64, 32, 16, 8, 1)
#: Upper bound for ``num_runs``; beyond it a typo (10**9) would run for days.
MAX_NUM_RUNS = 10**6
TIMERS: dict[str, Callable[[], float]] = {"time.time": time.time, "perf_counter": time.perf_counter}
MB = 1024 * 1024


@dataclass(frozen=True)
class ArticleProtocol:
    """Every setting of the article's protocol; the defaults are what the article did.

    Each boolean or choice below is one flaw (or one harmless detail) of the article's method, so
    that an ablation can flip exactly one and measure its effect.
    """

    #: calls of each framework's predict function inside the timed loop
    num_runs: int = 1000
    #: rows of the single random input (the article: 1000 × 200, uniform in [0, 1))
    batch_size: int = 1000
    #: seed of the input and of the frameworks' default weight initialisation; ``None`` leaves
    #: the global random state alone, like the article
    seed: int | None = 0
    #: frameworks to measure, in measuring order
    frameworks: tuple[str, ...] = ARTICLE_ORDER
    #: all frameworks imported and measured in one Python process (False: one fresh process each)
    one_process: bool = True
    #: frameworks whose predict function loops over the batch one row at a time
    per_sample: tuple[str, ...] = ("onnxruntime", "openvino")
    #: OpenVINO: ``compiled_model.infer_new_request`` per call (False: one reused infer request)
    openvino_new_request: bool = True
    #: JAX: ``jax.jit`` the model function (the article did not)
    jit: bool = False
    #: JAX: the article's model multiplies by ``jnp.ones`` matrices built inside every call
    jax_ones_weights: bool = True
    #: JAX: wait for the asynchronous result (the article did not, so work may still be queued)
    block_until_ready: bool = False
    #: every framework gets the same weights (the article's models each had their own)
    shared_weights: bool = False
    #: ``psutil.Process().cpu_percent()`` and ``memory_info().rss`` after each call, inside the timer
    psutil_in_loop: bool = True
    #: clock around the loop: ``"time.time"`` (the article) or ``"perf_counter"``
    timer: str = "time.time"
    #: untimed calls before the loop (the article made none)
    warmup_runs: int = 0
    #: PyTorch and JAX convert the NumPy input (``torch.tensor`` / ``jnp.array``) inside each call
    convert_in_call: bool = True
    #: TensorFlow: call the Keras model through ``tf.function`` (graph mode); the article called it eagerly
    tf_function: bool = False
    #: opset of the ONNX file exported from the PyTorch module
    onnx_opset: int = 11

    def __post_init__(self) -> None:
        for name, maximum in (("num_runs", MAX_NUM_RUNS), ("batch_size", 1_000_000)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
                raise ValueError(f"{name}={value!r} is invalid; allowed: an integer from 1 to {maximum}")
        warmup = self.warmup_runs
        if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
            raise ValueError(f"warmup_runs={self.warmup_runs!r} is invalid; allowed: an integer >= 0")
        unknown = [f for f in (*self.frameworks, *self.per_sample) if f not in ARTICLE_ORDER]
        if unknown:
            raise ValueError(f"frameworks {unknown} are unknown; allowed: {', '.join(ARTICLE_ORDER)}")
        if self.timer not in TIMERS:
            raise ValueError(f"timer={self.timer!r} is unknown; allowed: {', '.join(TIMERS)}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly settings."""
        data = asdict(self)
        data["frameworks"] = list(self.frameworks)
        data["per_sample"] = list(self.per_sample)
        return data

    def calls_per_run(self, framework: str) -> int:
        """Framework calls made by one predict call (the batch's rows when looping per sample)."""
        return self.batch_size if framework in self.per_sample else 1


@dataclass
class FrameworkResult:
    """What the article's loop measured for one framework, plus facts to explain it."""

    framework: str  # benchlib backend name
    display: str  # the article's name for it
    status: str = "ok"  # "ok" | "failed" | "skipped"
    error: str | None = None
    pid: int | None = None
    num_runs: int = 0
    batch_size: int = 0
    calls_per_run: int = 1
    latency_ms: float | None = None  # the article's figure: loop time / num_runs
    cpu_percent: float | None = None  # mean of psutil readings (percent of one core)
    memory_mb: float | None = None  # mean RSS of the whole process, MB
    wall_s: float | None = None  # the whole timed loop
    setup_s: float | None = None  # import + model build of this framework
    cpu_readings: int = 0
    cpu_zero_fraction: float | None = None  # readings that were exactly 0.0
    cpu_max_percent: float | None = None
    cpu_first_reading: float | None = None  # psutil's first reading on a new Process is 0.0
    rss_min_mb: float | None = None
    rss_max_mb: float | None = None
    rss_before_mb: float | None = None  # process RSS just before this framework's loop
    version: str | None = None
    output_sample: list[float] | None = None  # first rows of the output, for cross-checks
    notes: list[str] = field(default_factory=list)

    @property
    def per_call_us(self) -> float | None:
        """Latency of one framework call: per-run latency divided by calls per run, in µs."""
        if self.latency_ms is None:
            return None
        return self.latency_ms * 1000.0 / self.calls_per_run

    def to_record(self, run: ArticleRun | None = None) -> dict[str, Any]:
        """A results-store line, with keys named like the engine's where they mean the same."""
        from benchlib.results.schema import SCHEMA_VERSION

        data = {"schema_version": SCHEMA_VERSION, **asdict(self)}
        data["backend"] = data.pop("framework")
        data["protocol"] = "article"
        data["variant"] = "article"
        data["threads"] = None
        data["latency_ms"] = {"mean": self.latency_ms}
        data["per_call_us"] = self.per_call_us
        if run is not None:
            data["article_run"] = {k: v for k, v in run.to_dict().items() if k != "results"}
        return data


def _clock_ticks() -> int:
    """Kernel clock ticks per second: the resolution of a process's CPU time on Linux."""
    try:
        return int(os.sysconf("SC_CLK_TCK"))
    except (AttributeError, ValueError, OSError):
        return 100


@dataclass
class ArticleRun:
    """The outcome of one run of the protocol: per-framework results and process-wide facts."""

    protocol: ArticleProtocol
    results: list[FrameworkResult]
    pid: int
    rss_baseline_mb: float  # before any framework import
    rss_after_imports_mb: float | None = None
    rss_after_models_mb: float | None = None
    wall_s: float = 0.0
    onnx_path: str | None = None
    clock_ticks_per_s: int = field(default_factory=lambda: _clock_ticks())
    logical_cpus: int = field(default_factory=lambda: psutil.cpu_count() or 1)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["protocol"] = self.protocol.to_dict()
        return data

    def records(self) -> list[dict[str, Any]]:
        """One results-store record per framework."""
        return [r.to_record(self) for r in self.results]

    def by_framework(self) -> dict[str, FrameworkResult]:
        return {r.framework: r for r in self.results}


# -- published figures -----------------------------------------------------------------------------

def published_csv_path() -> Path:
    """Path of the CSV holding the article's published figures."""
    return Path(str(resources.files("benchlib.data").joinpath("article_published.csv")))


def load_published():  # -> pandas.DataFrame
    """The article's published figures: framework, latency_ms, cpu_percent, memory_mb.

    ``framework`` holds the article's names (PyTorch, TensorFlow, JAX, ONNX, OpenVINO); a
    ``backend`` column maps them to benchlib backend names.
    """
    import pandas as pd

    frame = pd.read_csv(published_csv_path(), comment="#")
    reverse = {v: k for k, v in DISPLAY_NAMES.items()}
    frame.insert(1, "backend", frame["framework"].map(reverse))
    return frame


# -- input and models -----------------------------------------------------------------------------

def make_input(protocol: ArticleProtocol) -> np.ndarray:
    """The article's input: ``np.random.rand(batch, 200).astype(np.float32)``.

    With a seed, a private ``RandomState`` draws exactly what ``np.random.seed(seed)`` followed
    by ``np.random.rand`` would, without touching the global state.
    """
    shape = (protocol.batch_size, WIDTHS[0])
    if protocol.seed is None:
        return np.random.rand(*shape).astype(np.float32)
    return np.random.RandomState(protocol.seed).rand(*shape).astype(np.float32)


def shared_weights(seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(weight (in, out), bias) per layer, from benchlib's own ``fnn`` spec (used when shared)."""
    from benchlib.models.zoo import get_model

    return [(p["weight"], p["bias"]) for p in get_model("fnn", seed=seed).params]


@dataclass
class ArticleModels:
    """The models the article builds, one attribute per framework (``None`` until built)."""

    torch: Any = None
    torch_model: Any = None
    tf: Any = None
    keras_model: Any = None
    jax: Any = None
    jnp: Any = None
    jax_model: Callable[[Any], Any] | None = None
    ort: Any = None
    onnx_session: Any = None
    onnx_path: Path | None = None
    ov: Any = None
    ov_compiled: Any = None
    ov_request: Any = None
    import_s: dict[str, float] = field(default_factory=dict)
    build_s: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)


def _quiet_env() -> None:
    # The article set these two; they only silence GPU probing and TensorFlow's C++ logging.
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("JAX_PLATFORMS", "cpu")


def import_framework(framework: str, models: ArticleModels) -> None:
    """Import one framework's modules into ``models`` (the article's import block, split up)."""
    _quiet_env()
    start = time.perf_counter()
    if framework == "pytorch":
        import torch

        models.torch = torch
        models.versions[framework] = torch.__version__
    elif framework == "tensorflow":
        import tensorflow as tf

        models.tf = tf
        models.versions[framework] = tf.__version__
    elif framework == "jax":
        import jax
        import jax.numpy as jnp

        models.jax, models.jnp = jax, jnp
        models.versions[framework] = jax.__version__
    elif framework == "onnxruntime":
        import onnxruntime as ort

        models.ort = ort
        models.versions[framework] = ort.__version__
    elif framework == "openvino":
        # ``openvino.runtime`` (the article's import) no longer exists. The import skips OpenVINO's
        # telemetry, which would fork this process while JAX's and TensorFlow's threads run.
        from benchlib.backends.openvino import import_openvino

        ov = import_openvino()
        models.ov = ov
        models.versions[framework] = ov.get_version()
    else:  # pragma: no cover - ArticleProtocol validates names
        raise ValueError(framework)
    models.import_s[framework] = time.perf_counter() - start


def build_torch_model(models: ArticleModels, protocol: ArticleProtocol) -> Any:
    """The article's ``PyTorchModel``: six Linear layers, ReLU, sigmoid; default initialisation."""
    torch = models.torch

    class PyTorchModel(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = torch.nn.Linear(200, 128)
            self.fc2 = torch.nn.Linear(128, 64)
            self.fc3 = torch.nn.Linear(64, 32)
            self.fc4 = torch.nn.Linear(32, 16)
            self.fc5 = torch.nn.Linear(16, 8)
            self.fc6 = torch.nn.Linear(8, 1)
            self.sigmoid = torch.nn.Sigmoid()

        def forward(self, x):  # noqa: ANN001, ANN202 - torch convention
            x = torch.relu(self.fc1(x))
            x = torch.relu(self.fc2(x))
            x = torch.relu(self.fc3(x))
            x = torch.relu(self.fc4(x))
            x = torch.relu(self.fc5(x))
            return self.sigmoid(self.fc6(x))

    if protocol.seed is not None:
        torch.manual_seed(protocol.seed)
    model = PyTorchModel()
    if protocol.shared_weights:
        layers = [model.fc1, model.fc2, model.fc3, model.fc4, model.fc5, model.fc6]
        with torch.no_grad():
            for layer, (weight, bias) in zip(layers, shared_weights(protocol.seed or 0), strict=True):
                layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight.T)))
                layer.bias.copy_(torch.from_numpy(bias))
    return model


def build_keras_model(models: ArticleModels, protocol: ArticleProtocol) -> Any:
    """The article's Keras ``Sequential`` of the same Dense layers, ``compile()``d."""
    tf = models.tf
    if protocol.seed is not None:
        tf.keras.utils.set_random_seed(protocol.seed)
    model = tf.keras.Sequential([
        tf.keras.Input(shape=(200,)),
        tf.keras.layers.Dense(128, activation="relu"),
        tf.keras.layers.Dense(64, activation="relu"),
        tf.keras.layers.Dense(32, activation="relu"),
        tf.keras.layers.Dense(16, activation="relu"),
        tf.keras.layers.Dense(8, activation="relu"),
        tf.keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile()
    if protocol.shared_weights:
        dense = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Dense)]
        for layer, (weight, bias) in zip(dense, shared_weights(protocol.seed or 0), strict=True):
            layer.set_weights([weight, bias])  # Keras kernels are (in, out) like the spec
    return model


def build_jax_model(models: ArticleModels, protocol: ArticleProtocol) -> Callable[[Any], Any]:
    """The article's ``jax_model``: products with ``jnp.ones`` matrices made inside each call.

    The all-ones weights make every output 1.0 (sigmoid of a large positive number), so this
    model computes nothing comparable with the others; kept because the article measured it.
    """
    jax, jnp = models.jax, models.jnp
    if protocol.jax_ones_weights and not protocol.shared_weights:
        def jax_model(x):  # noqa: ANN001, ANN202
            x = jax.nn.relu(jnp.dot(x, jnp.ones((200, 128))))
            x = jax.nn.relu(jnp.dot(x, jnp.ones((128, 64))))
            x = jax.nn.relu(jnp.dot(x, jnp.ones((64, 32))))
            x = jax.nn.relu(jnp.dot(x, jnp.ones((32, 16))))
            x = jax.nn.relu(jnp.dot(x, jnp.ones((16, 8))))
            return jax.nn.sigmoid(jnp.dot(x, jnp.ones((8, 1))))
    else:
        if protocol.shared_weights:
            arrays = shared_weights(protocol.seed or 0)
        else:  # fixed random weights (no biases, like the article's function)
            rng = np.random.default_rng(protocol.seed)
            arrays = [(rng.standard_normal((WIDTHS[i], WIDTHS[i + 1])).astype(np.float32) * 0.1,
                       np.zeros(WIDTHS[i + 1], np.float32)) for i in range(len(WIDTHS) - 1)]
        params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in arrays]

        def jax_model(x):  # noqa: ANN001, ANN202
            for index, (weight, bias) in enumerate(params):
                x = jnp.dot(x, weight) + bias
                x = jax.nn.sigmoid(x) if index == len(params) - 1 else jax.nn.relu(x)
            return x

    return jax.jit(jax_model) if protocol.jit else jax_model


def article_onnx_path(protocol: ArticleProtocol, directory: Path | None = None) -> Path:
    """Where the ONNX file exported from the article's PyTorch module goes."""
    shared = "-shared" if protocol.shared_weights else ""
    seed = "unseeded" if protocol.seed is None else f"seed{protocol.seed}"
    return (directory or models_dir()) / f"article-fnn-opset{protocol.onnx_opset}-{seed}{shared}.onnx"


def export_onnx(models: ArticleModels, protocol: ArticleProtocol, directory: Path | None = None) -> Path:
    """Export the PyTorch module as the article did: opset 11, dynamic batch axis.

    torch 2.9+ defaults to the dynamo exporter (which needs ``onnxscript``); ``dynamo=False``
    selects the TorchScript exporter the article used. Its deprecation warning is silenced here.
    """
    torch = models.torch
    path = article_onnx_path(protocol, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            models.torch_model,
            (torch.randn(1, 200),),
            str(tmp),
            export_params=True,
            opset_version=protocol.onnx_opset,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "batch_size"}, "output": {0: "batch_size"}},
            dynamo=False,
        )
    os.replace(tmp, path)  # atomic: a concurrent reader never sees half a file
    return path


def build_model(framework: str, models: ArticleModels, protocol: ArticleProtocol,
                onnx_dir: Path | None = None) -> None:
    """Build one framework's model into ``models`` (ONNX and OpenVINO need the exported file)."""
    start = time.perf_counter()
    if framework == "pytorch":
        models.torch_model = build_torch_model(models, protocol)
    elif framework == "tensorflow":
        models.keras_model = build_keras_model(models, protocol)
    elif framework == "jax":
        models.jax_model = build_jax_model(models, protocol)
    elif framework in ("onnxruntime", "openvino"):
        if models.onnx_path is None or not models.onnx_path.exists():
            if models.torch_model is None:
                raise RuntimeError("the article exports its ONNX file from the PyTorch model, "
                                   "which could not be built (is torch installed?)")
            models.onnx_path = export_onnx(models, protocol, onnx_dir)
        if framework == "onnxruntime":
            models.onnx_session = models.ort.InferenceSession(str(models.onnx_path))
        else:
            core = models.ov.Core()
            ov_model = core.read_model(model=str(models.onnx_path))
            models.ov_compiled = core.compile_model(ov_model, device_name="CPU")
            models.ov_request = models.ov_compiled.create_infer_request()
    models.build_s[framework] = time.perf_counter() - start


# -- the predict functions ------------------------------------------------------------------------

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


# -- running the protocol -------------------------------------------------------------------------

def _rss_mb() -> float:
    return psutil.Process(os.getpid()).memory_info().rss / MB


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()


def _progress_bar(display: str, total: int, enabled: bool, position: int = 0):  # -> tqdm | None
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"article: {display:<10}", unit="run", leave=True, dynamic_ncols=True)


def _fill(result: FrameworkResult, loop: LoopResult, protocol: ArticleProtocol) -> None:
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
    """
    protocol = protocol or ArticleProtocol()
    if not protocol.one_process:
        return _run_isolated(protocol, progress=progress, onnx_dir=onnx_dir, on_result=on_result, log=log)
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
                _fill(result, loop, protocol)
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


# -- one process per framework (the ablation's fix for flaw "one process") ---------------------------

def _child_run(protocol: ArticleProtocol, onnx_dir: str | None, progress: bool) -> dict[str, Any]:
    run = run_article_protocol(protocol, progress=progress, onnx_dir=Path(onnx_dir) if onnx_dir else None)
    return run.to_dict()


def _run_from_dict(data: dict[str, Any]) -> ArticleRun:
    protocol_data = dict(data["protocol"])
    protocol_data["frameworks"] = tuple(protocol_data["frameworks"])
    protocol_data["per_sample"] = tuple(protocol_data["per_sample"])
    results = [FrameworkResult(**r) for r in data["results"]]
    fields = {k: v for k, v in data.items() if k not in ("protocol", "results")}
    return ArticleRun(protocol=ArticleProtocol(**protocol_data), results=results, **fields)


def _run_isolated(protocol: ArticleProtocol, *, progress: bool, onnx_dir: Path | None,
                  on_result: Callable[[FrameworkResult], Any] | None,
                  log: Callable[[str], Any] | None) -> ArticleRun:
    """Each framework in its own fresh (spawned) process, otherwise the same protocol.

    ONNX Runtime's and OpenVINO's processes still import torch to export the ONNX file, as the
    article's pipeline needs; the file is exported before their loops, so it is in their RSS.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    start = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    run = ArticleRun(protocol=protocol, results=[], pid=os.getpid(), rss_baseline_mb=_rss_mb())
    for framework in protocol.frameworks:
        child = replace(protocol, frameworks=(framework,), one_process=True)
        try:
            with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
                data = pool.submit(_child_run, child, str(onnx_dir) if onnx_dir else None, progress).result()
            result = _run_from_dict(data).results[0]
        except Exception as exc:  # noqa: BLE001 - a crashed child is one failed framework
            result = FrameworkResult(framework=framework, display=DISPLAY_NAMES[framework], status="failed",
                                     error=f"child process failed: {_error_text(exc)}")
        run.results.append(result)
        if on_result is not None:
            on_result(result)
    run.wall_s = time.perf_counter() - start
    return run


def estimate_seconds(run: ArticleRun, num_runs: int) -> float:
    """Wall time the loops of ``run`` would take at ``num_runs`` (setup excluded)."""
    total = 0.0
    for result in run.results:
        if result.wall_s and result.num_runs:
            total += result.wall_s / result.num_runs * num_runs
    return total


def is_finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
