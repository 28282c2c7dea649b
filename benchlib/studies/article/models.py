"""The article's models: its import block, its five model definitions and its ONNX export.

This is a second backends layer on purpose: the article's models are not benchlib's (no shared
weights, JAX's all-ones matrices, ONNX and OpenVINO loading a file exported from the PyTorch
module), so they cannot be built by :mod:`benchlib.backends`. No framework is imported at module
import time.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchlib.studies.article.settings import WIDTHS, ArticleProtocol
from benchlib.system.files import atomic_path
from benchlib.system.paths import models_dir


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
    # written whole under a temporary name and renamed: a concurrent reader never sees half a file
    with atomic_path(path, suffix=".onnx") as tmp, warnings.catch_warnings():
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

