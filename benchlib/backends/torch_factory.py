"""PyTorch on a factory's own module (``torch:package.module:function``), not on its ONNX export.

The module is imported and built in the measuring process by
:func:`benchlib.models.torch_factory.build_module`; its weights must hash as they did when the run
was planned, so that PyTorch measures the very module ONNX Runtime and OpenVINO run the export of.
The case's precision and variant apply as for a zoo model (:meth:`PyTorchBackend._finish`).
"""

from __future__ import annotations

from benchlib.backends.pytorch import PyTorchBackend
from benchlib.errors import FactoryError
from benchlib.models.torch_factory import INPUT_NAME, build_module, weights_hash


class TorchFactoryBackend(PyTorchBackend):
    """PyTorch on the factory's own module (imported and called in this process), every output returned."""

    def _build(self) -> None:
        torch = self._framework
        model, _ = build_module(self.spec.factory, self.spec.inputs[0].shape)
        if weights_hash(model) != self.spec.weights_sha256:
            raise FactoryError(f"--models={self.spec.factory!r} returned other weights than the ones exported "
                               "(each call draws new ones); allowed: a factory with fixed weights (seed it with "
                               "torch.manual_seed or load a checkpoint)")
        # the case's precision (bf16, PT2E INT8) and variant, as for a zoo model (PyTorchBackend._finish)
        self._finish(model, torch.from_numpy(self.spec.random_input(2, seed=0)[INPUT_NAME]))

    def _make_predictor(self):  # -> Callable[[dict], list[np.ndarray]]
        torch, model = self._framework, self._model

        if self._bf16:  # bf16: the float32 input cast in, every output cast to float32 (inside the timed call)
            bfloat16, float32 = torch.bfloat16, torch.float32

            def predict_cast(feeds: dict) -> list:
                with torch.inference_mode():
                    out = model(torch.from_numpy(feeds[INPUT_NAME]).to(bfloat16))
                    return [t.to(float32).numpy() for t in (out if isinstance(out, tuple | list) else [out])]

            return predict_cast

        def predict(feeds: dict) -> list:
            with torch.inference_mode():  # from_numpy shares memory; inference_mode skips autograd
                out = model(torch.from_numpy(feeds[INPUT_NAME]))
            return [t.numpy() for t in out] if isinstance(out, tuple | list) else [out.numpy()]

        return predict
