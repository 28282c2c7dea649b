"""Plain NumPy float32 baseline: BLAS matmuls (im2col for convolutions), one function per layer kind."""

from __future__ import annotations

from typing import Any

from benchlib.backends.base import Backend, Predictor


class NumpyBackend(Backend):
    name = "numpy"
    module = "numpy"
    requirement = "numpy"
    variants = ("default",)
    precision_skips = dict.fromkeys(("bf16", "int8-dynamic", "int8-static"),
                                    "the NumPy backend is the float32 baseline every precision is compared with")

    def _import(self) -> Any:
        import numpy

        # the layer functions need scipy (erf for GELU): imported here, counted as import time
        import benchlib.backends.numpy_layers  # noqa: F401

        if self.threads is not None:
            # NumPy's BLAS reads no setting of its own at run time; threadpoolctl limits it
            # for the life of this backend (the limiter is kept on the instance).
            from threadpoolctl import threadpool_limits

            self._limiter = threadpool_limits(limits=self.threads, user_api="blas")
        return numpy

    def _build(self) -> None:
        from benchlib.backends.numpy_layers import chain

        spec = self.spec
        self._forward = chain(spec.layers, spec.params, spec.shapes()[:-1])

    def _make_predictor(self) -> Predictor:
        return self._forward

    def thread_settings(self) -> dict[str, Any]:
        from threadpoolctl import threadpool_info

        blas = [
            {"library": info.get("internal_api"), "num_threads": info.get("num_threads")}
            for info in threadpool_info()
            if info.get("user_api") == "blas"
        ]
        return {"requested": self.threads, "blas": blas}
