"""Plain NumPy float32 baseline: one BLAS matmul per layer."""

from __future__ import annotations

from typing import Any

import numpy as np

from benchlib.backends.base import Backend, Predictor
from benchlib.models.spec import Dense, UnsupportedLayerError


class NumpyBackend(Backend):
    name = "numpy"
    module = "numpy"
    requirement = "numpy"
    variants = ("default",)

    def _import(self) -> Any:
        import numpy

        if self.threads is not None:
            # NumPy's BLAS reads no setting of its own at run time; threadpoolctl limits it
            # for the life of this backend (the limiter is kept on the instance).
            from threadpoolctl import threadpool_limits

            self._limiter = threadpool_limits(limits=self.threads, user_api="blas")
        return numpy

    def _build(self) -> None:
        layers = []
        for layer, arrays in zip(self.spec.layers, self.spec.params, strict=True):
            if not isinstance(layer, Dense):
                raise UnsupportedLayerError(f"numpy backend cannot build layer kind {layer.kind!r}")
            layers.append((np.ascontiguousarray(arrays["weight"]), arrays["bias"], layer.activation))
        self._layers = layers

    def _make_predictor(self) -> Predictor:
        layers = self._layers

        def predict(inputs: np.ndarray) -> np.ndarray:
            values = inputs
            for weight, bias, activation in layers:
                values = values @ weight
                values += bias
                if activation == "relu":
                    np.maximum(values, 0.0, out=values)
                elif activation == "sigmoid":
                    # 1 / (1 + exp(-x)) in place, without float32 overflow warnings
                    np.negative(values, out=values)
                    np.exp(values, out=values)
                    values += 1.0
                    np.reciprocal(values, out=values)
            return values

        return predict

    def thread_settings(self) -> dict[str, Any]:
        from threadpoolctl import threadpool_info

        blas = [
            {"library": info.get("internal_api"), "num_threads": info.get("num_threads")}
            for info in threadpool_info()
            if info.get("user_api") == "blas"
        ]
        return {"requested": self.threads, "blas": blas}
