"""JAX backend: a pure function of (params, x), jitted, with the spec's arrays passed as arguments.

The layer functions, one per layer kind, are in :mod:`benchlib.backends.jax_layers`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from benchlib.backends.base import Backend, Predictor
from benchlib.precision.jax_tf import JAX_METHODS, JAX_SKIPS, jax_bf16

#: XLA:CPU has no flag for "N threads"; these two make it run single-threaded.
SINGLE_THREAD_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


class JaxBackend(Backend):
    name = "jax"
    module = "jax"
    requirement = "jax jaxlib"
    #: jit: the whole forward pass compiled by XLA; eager: op-by-op dispatch (no jit)
    variants = ("jit", "eager")
    #: precision → how (benchlib.precision.jax_tf)
    precisions = JAX_METHODS
    precision_skips = JAX_SKIPS

    def _import(self) -> Any:
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        if self.threads == 1:
            # XLA reads its flags once, when the backend initialises: must precede import.
            flags = os.environ.get("XLA_FLAGS", "")
            if "xla_cpu_multi_thread_eigen" not in flags:
                os.environ["XLA_FLAGS"] = f"{flags} {SINGLE_THREAD_FLAGS}".strip()
        import jax

        return jax

    def _build(self) -> None:
        jax = self._framework
        from benchlib.backends.jax_layers import chain

        spec = self.spec
        params, forward = chain(spec.layers, spec.params, spec.shapes()[:-1])
        if self.precision == "bf16":
            params, forward = jax_bf16(jax, params, forward)
        self._params = jax.device_put(params)
        self._forward = jax.jit(forward) if self.variant == "jit" else forward

    def _make_predictor(self) -> Predictor:
        forward, params = self._forward, self._params

        def predict(inputs: np.ndarray) -> np.ndarray:
            # block_until_ready: JAX dispatches asynchronously; np.asarray materialises on host
            return np.asarray(forward(params, inputs).block_until_ready())

        return predict

    def dispatcher(self) -> Callable[[np.ndarray], Any]:
        """``inputs -> jax.Array`` without waiting for the value (JAX's asynchronous dispatch), after :meth:`build`.

        For callers that overlap several computations (the LoadGen scenarios); the value is ready
        once the caller blocks on it (``block_until_ready``) or converts it to NumPy.
        """
        if not self._built:
            raise RuntimeError("backend 'jax' is not built yet; call build() before dispatcher()")
        forward, params = self._forward, self._params
        return lambda inputs: forward(params, inputs)

    def version(self) -> str:
        self.import_framework()
        return self._framework.__version__

    def thread_settings(self) -> dict[str, Any]:
        return {
            "requested": self.threads,
            "xla_flags": os.environ.get("XLA_FLAGS", ""),
            "honoured": self.threads in (None, 1),
        }
