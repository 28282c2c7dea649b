"""ONNX Runtime and OpenVINO on a user's ONNX file (or a factory's export), read as it is.

Every input is fed by name and every output returned (a list), so a graph with several inputs or
outputs runs as the user wrote it. A file whose inputs fix the batch dimension is measured at that
batch only: any other batch size is skipped with the reason. The registry
(:func:`benchlib.backends.registry.create_model_backend`) picks these classes for a user model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchlib.backends.onnxruntime import OnnxRuntimeBackend
from benchlib.backends.openvino import OpenVinoBackend, check_static_batch
from benchlib.errors import UnsupportedVariantError


class _FixedBatch:
    """A model whose inputs fix the batch size measures only that size: any other is skipped with the reason."""

    def prepare_for_measurement(self, batch_sizes: Sequence[int] = ()) -> None:
        fixed = self.spec.fixed_batch  # type: ignore[attr-defined]
        other = [b for b in batch_sizes if fixed is not None and b != fixed]
        if other:
            name = self.spec.name  # type: ignore[attr-defined]
            raise UnsupportedVariantError(f"batch_size={other[0]} is not a batch size of {name}: its inputs fix the "
                                          f"batch dimension at {fixed} (running another would measure a reshaped "
                                          f"model); allowed: {fixed}")
        super().prepare_for_measurement(batch_sizes)  # type: ignore[misc]


class UserOnnxRuntimeBackend(_FixedBatch, OnnxRuntimeBackend):
    """ONNX Runtime on the user's file: every input fed by name, every output returned (a list)."""

    def onnx_file(self) -> Path:
        return self.spec.onnx_file

    def _make_predictor(self):  # -> Callable[[dict], list[np.ndarray]]
        run = self._session.run
        names = [o.name for o in self.spec.outputs]
        return lambda feeds: run(names, feeds)


class UserOpenVinoBackend(_FixedBatch, OpenVinoBackend):
    """OpenVINO on the user's file: one static-shape compiled model and request per batch size.

    A file whose batch dimension is static runs as it is, at that batch only: reshaping it to
    another batch size would measure (and verify) a model the user did not give.
    """

    def onnx_file(self) -> Path:
        return self.spec.onnx_file

    def _make_predictor(self):  # -> Callable[[dict], list[np.ndarray]]
        if self.variant == "async":
            raise UnsupportedVariantError("variant 'async' splits one input array across requests; a user "
                                          "model's inputs are several named arrays; allowed: latency, throughput")
        requests: dict[int, Any] = {}
        names = [o.name for o in self.spec.outputs]

        def predict(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
            batch = next(iter(feeds.values())).shape[0]
            request = requests.get(batch)
            if request is None:  # a new batch size: reshape + compile (the cold call pays it)
                model = self._model.clone()
                check_static_batch(model, batch, self.spec.name)  # never reshaped to another batch size
                model.reshape({info.name: [batch, *info.shape] for info in self.spec.inputs})
                request = requests[batch] = self._core.compile_model(model, "CPU", self._config).create_infer_request()
            request.infer(feeds)
            return [request.get_tensor(name).data.copy() for name in names]

        return predict
