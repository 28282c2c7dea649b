"""JAX on a user's ONNX file (or a factory's export), converted by jaxonnxruntime and jitted whole.

jaxonnxruntime turns an ONNX graph into a JAX function of (initializers, named inputs), one JAX
implementation per ONNX op. Converting traces the graph once with sample inputs, which fixes what
its ops need to know statically (shapes, axes, a ``Reshape``'s target), so the graph is converted
once per batch size: a measuring process converts its batch size in :meth:`build`, and a new batch
size converts on its first call. ``jit`` compiles the function whole with XLA (on the first call of
each batch size, as the zoo's JAX backend does); ``eager`` calls jaxonnxruntime's per-op jitted
functions one after another, as its own runner does. The initializers are arguments of the jitted
function, not constants folded into it, as the zoo's JAX backend passes its parameters.

A graph with an op jaxonnxruntime lacks (at the graph's opset) is ``skipped``, naming the ops. JAX
runs with 64-bit types off (its default, as for the zoo's token ids): int64 inputs and
constants are int32 inside the function. A factory runs as its ONNX export too: torchax, which
would run the module itself, does not import with the pinned torch (:data:`TORCHAX_REASON`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchlib.backends.jax import JaxBackend
from benchlib.backends.static_shapes import MAX_STATIC_SHAPES, StaticShapes
from benchlib.backends.user_onnx import _FixedBatch
from benchlib.errors import UnsupportedVariantError
from benchlib.precision.jax_tf import JAX_SKIPS

#: Why a ``torch:`` factory's JAX run is its ONNX export, not the module through torchax (measured:
#: ``pip install torchax==0.0.13``, the latest release, installs; ``import torchax`` then fails).
TORCHAX_REASON = ("torchax 0.0.13 (the latest release) installs beside the pinned torch 2.13.0 but does not import: "
                  "AttributeError: The underlying op of 'aten.prod' has no overload name 'dim_Dimname' "
                  "(torchax/amp.py)")
#: What the int64 truncation warns while a graph is traced (once per batch size; the conversion is intended).
INT64_WARNING = "Explicitly requested dtype int64"


@contextmanager
def _int64_quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=INT64_WARNING, category=UserWarning)
        yield


def unsupported_ops(proto: Any) -> list[str]:
    """Op types of ``proto`` (and its subgraphs) jaxonnxruntime has no implementation of at the graph's opset."""
    from jaxonnxruntime import call_onnx

    # the handler table jaxonnxruntime builds for a conversion (by domain, for the model's opsets)
    handlers = call_onnx._get_all_handlers(proto.opset_import)
    missing: dict[str, None] = {}

    def visit(graph: Any) -> None:
        for node in graph.node:
            domain = "" if node.domain == "ai.onnx" else node.domain
            if node.op_type not in handlers.get(domain, {}):
                missing[f"{domain}:{node.op_type}" if domain else node.op_type] = None
            for attribute in node.attribute:  # If, Loop, Scan: their bodies' ops are converted too
                if attribute.HasField("g"):
                    visit(attribute.g)
                for sub in attribute.graphs:
                    visit(sub)

    visit(proto.graph)
    return list(missing)


@dataclass
class _Converted:
    """The graph converted at one batch size: its function and the initializers on the device."""

    forward: Callable[..., Any]
    params: Any

    def call(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        outputs = self.forward(self.params, feeds)
        return [np.asarray(o.block_until_ready()) for o in outputs]


class UserJaxBackend(_FixedBatch, JaxBackend):
    """JAX on the user's file through jaxonnxruntime: every input fed by name, every output returned (a list)."""

    requirement = "jax jaxlib jaxonnxruntime onnx"
    precisions = {"fp32": "the graph's own dtypes, each ONNX op run by jaxonnxruntime's JAX implementation (int64 "
                          "as int32: JAX's 64-bit types are off)"}
    precision_skips = {"bf16": "a user's graph runs in its own dtypes: no bfloat16 conversion of an ONNX graph is "
                               "implemented for JAX", **JAX_SKIPS}

    def _import(self) -> Any:
        jax = super()._import()
        import jaxonnxruntime  # noqa: F401 - missing: skipped as not installed, with the requirement

        return jax

    def _build(self) -> None:
        import onnx

        self.model_path = self.spec.onnx_file  # the record's model_file: the file JAX read
        self._proto = onnx.load(str(self.model_path))  # external data from beside the file
        missing = unsupported_ops(self._proto)
        if missing:
            opset = next((o.version for o in self._proto.opset_import if o.domain in ("", "ai.onnx")), None)
            raise UnsupportedVariantError(f"jaxonnxruntime {self._converter_version()} has no implementation of op(s) "
                                          f"{', '.join(missing)} (opset {opset}) used by {self.spec.name}; allowed: "
                                          "graphs of the ops jaxonnxruntime implements")
        self._static = StaticShapes(self._convert)
        for batch in self.measured_batch_sizes:  # a measuring process: converted now, compiled on the first call
            self._static.get(batch)

    def _convert(self, batch: int) -> _Converted:
        jax = self._framework
        from jaxonnxruntime import call_onnx

        with _int64_quiet():
            forward, params = call_onnx.call_onnx_model(self._proto, self.spec.random_input(batch, seed=0))
        return _Converted(jax.jit(forward) if self.variant == "jit" else forward, jax.device_put(params))

    def _make_predictor(self):  # -> Callable[[dict], list[np.ndarray]]
        calls: dict[int, Callable[[dict[str, np.ndarray]], list[np.ndarray]]] = {}

        def predict(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
            batch = next(iter(feeds.values())).shape[0]
            call = calls.get(batch)
            if call is None:  # a new batch size: converted (unless built ahead) and traced by this call
                if len(calls) >= MAX_STATIC_SHAPES:
                    calls.clear()
                call = calls[batch] = self._static.get(batch).call
                with _int64_quiet():
                    return call(feeds)
            return call(feeds)

        return predict

    def dispatcher(self) -> Callable[[np.ndarray], Any]:
        raise UnsupportedVariantError("a user's model takes named inputs and returns every output; JAX's "
                                      "asynchronous dispatch serves one input array")

    def _converter_version(self) -> str:
        from importlib.metadata import version

        return version("jaxonnxruntime")

    def thread_settings(self) -> dict[str, Any]:
        path = "the ONNX file, converted by jaxonnxruntime"
        if self.spec.factory:
            path = f"the factory's ONNX export, converted by jaxonnxruntime; not the module through torchax: " \
                   f"{TORCHAX_REASON}"
        return {**super().thread_settings(), "converter": f"jaxonnxruntime {self._converter_version()}", "path": path}
