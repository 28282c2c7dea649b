"""PyTorch backend: ``torch.nn`` modules with the spec's weights copied in (builders in :mod:`.torch_layers`)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from benchlib.backends.base import Backend, Predictor
from benchlib.errors import UnsupportedVariantError
from benchlib.precision.torch_quant import METHODS as PRECISION_METHODS
from benchlib.precision.torch_quant import SKIPS as PRECISION_SKIPS
from benchlib.precision.torch_quant import quantize_pt2e

#: The messages of PyTorch 2.13's deprecations of ``torch.jit.trace``, ``trace_method`` and ``freeze``.
JIT_DEPRECATION = r"`torch\.jit\.\w+` is (deprecated|not supported)"


def torchscript_module(torch: Any, model: Any, example: Any) -> Any:
    """``model`` traced with ``example`` and frozen: the legacy ``torchscript`` variant (a ``ScriptModule``).

    Its successors, ``torch.export`` with ``torch.compile`` or AOTInductor, spend seconds to a minute
    compiling C++ per model where tracing takes well under a second; the ``compile`` variant measures
    Inductor.
    """
    # Users still deploy TorchScript, so the variant stays; PyTorch deprecated the API in 2.13 and says so
    # on every call (attributed to torch.jit): only those notices are silenced, any other warning passes.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=JIT_DEPRECATION, category=DeprecationWarning)
        # nn.LSTM checks its input's feature size and hidden-state shape in Python; tracing turns those
        # checks into constants and warns. Every spec fixes the per-sample shape, and the batch size is
        # not part of the checked values (the conformance test runs the traced LSTM at other batch sizes).
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning, module=r"torch\.nn\.modules\.rnn")
        with torch.inference_mode():
            return torch.jit.freeze(torch.jit.trace(model, example))


class PyTorchBackend(Backend):
    name = "pytorch"
    module = "torch"
    requirement = "torch"
    #: eager: the module called under inference_mode; torchscript (legacy): trace + freeze, an API PyTorch
    #: deprecated in 2.13, kept because users still deploy TorchScript (:func:`torchscript_module`);
    #: compile: torch.compile (Inductor, generates C++ for the CPU)
    variants = ("eager", "torchscript", "compile")
    #: precision → how (benchlib.precision.torch_quant)
    precisions = PRECISION_METHODS
    precision_skips = PRECISION_SKIPS

    def _import(self) -> Any:
        import torch

        if self.threads is not None:
            torch.set_num_threads(self.threads)
            try:
                # Only allowed before the first inter-op parallel work in this process.
                torch.set_num_interop_threads(self.threads)
            except RuntimeError:
                pass
        return torch

    def _build(self) -> None:
        torch = self._framework
        from benchlib.backends.torch_layers import build_model

        self._finish(build_model(self.spec), torch.from_numpy(self.spec.random_input(8, seed=0)))

    def _finish(self, model: Any, example: Any) -> None:
        """Apply the case's precision, then its variant, to ``model`` (``example``: a batch to trace with).

        Shared with a factory's module (benchlib.models.torch_factory), so both take every precision alike.
        """
        torch = self._framework
        # bf16: weights converted, float inputs cast in the timed call (benchlib.precision.torch_quant)
        self._bf16 = self.precision == "bf16"
        if self._bf16:
            model = model.to(torch.bfloat16)
            example = example.to(torch.bfloat16) if example.is_floating_point() else example  # token ids stay int
        elif self.precision == "int8-static":
            self._model = quantize_pt2e(torch, model, self.spec, self.calibration_size, self.variant)
            return
        if self.variant == "torchscript":
            model = torchscript_module(torch, model, example)
        elif self.variant == "compile":
            try:
                model = torch.compile(model, dynamic=False)
            except Exception as exc:  # noqa: BLE001 - any failure means the variant is unusable here
                raise UnsupportedVariantError(f"torch.compile unavailable: {exc}") from exc
        self._model = model

    def _make_predictor(self) -> Predictor:
        torch, model = self._framework, self._model

        if self._bf16:  # bf16: float inputs cast in, float32 out (both inside the timed call)
            dtype = torch.bfloat16 if self.spec.input_dtype == "float32" else None
            float32 = torch.float32

            def predict_cast(inputs: np.ndarray) -> np.ndarray:
                with torch.inference_mode():
                    return model(torch.from_numpy(inputs).to(dtype)).to(float32).numpy()

            return predict_cast

        def predict(inputs: np.ndarray) -> np.ndarray:
            # from_numpy shares memory (no copy); inference_mode skips autograd bookkeeping
            with torch.inference_mode():
                return model(torch.from_numpy(inputs)).numpy()

        return predict

    def thread_settings(self) -> dict[str, Any]:
        torch = self._framework
        return {
            "requested": self.threads,
            "intra_op": torch.get_num_threads(),
            "inter_op": torch.get_num_interop_threads(),
        }
