"""The article protocol's settings: :class:`ArticleProtocol`, whose defaults are what the article did.

Every boolean or choice of :class:`ArticleProtocol` is one flaw (or one harmless detail) of the
article's method, so that the ablation can flip exactly one with :func:`dataclasses.replace`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from benchlib.engine.params import MAX_NUM_RUNS, check_batch_size, check_positive_int

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
#: The ``model`` of every article (and ablation) record: the article's own network, not the zoo's ``fnn``.
ARTICLE_MODEL = "article-fnn"
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
        check_positive_int("num_runs", self.num_runs, MAX_NUM_RUNS)
        check_batch_size(self.batch_size)
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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ArticleProtocol:
        """The protocol :meth:`to_dict` described (JSON lists become the tuples again)."""
        settings = dict(data)
        for name in ("frameworks", "per_sample"):
            if name in settings:
                settings[name] = tuple(settings[name])
        return cls(**settings)

    def calls_per_run(self, framework: str) -> int:
        """Framework calls made by one predict call (the batch's rows when looping per sample)."""
        return self.batch_size if framework in self.per_sample else 1
