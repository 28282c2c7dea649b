"""LiteRT backend: TensorFlow's deployment runtime (``ai_edge_litert.interpreter.Interpreter``).

The model is benchlib's Keras model (:mod:`benchlib.backends.keras_layers`, the tensorflow
backend's weights), converted by TensorFlow's converter once per batch size and precision
(:mod:`benchlib.backends.litert_quant`) into a flatbuffer file kept under ``outputs/models/litert/``
(:mod:`benchlib.backends.litert_files`), and run by the LiteRT interpreter with its default
XNNPACK delegate. A measuring process imports only ``ai_edge_litert``, as a deployment does: its
flatbuffer is read from disk or converted in a process of its own, so neither TensorFlow's import
time nor its memory is counted as LiteRT's.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from benchlib.backends.base import Backend, Predictor
from benchlib.backends.litert_files import flatbuffer, tensorflow_version
from benchlib.backends.litert_quant import METHODS as PRECISION_METHODS
from benchlib.backends.litert_quant import SKIPS as PRECISION_SKIPS
from benchlib.backends.static_shapes import StaticShapes, per_batch_predictor


class _StaticShape:
    """One batch size: its converted flatbuffer in an interpreter with tensors allocated once.

    One conversion per batch size rather than ``resize_tensor_input``: the LSTM converts to builtins
    only with a fixed batch, and a fixed-batch LSTM model cannot be resized (the XNNPACK delegate
    fails to reshape its loop). Converting costs 0.2-3 s per batch size on the zoo models (bert_tiny the
    most), plus TensorFlow's import in a converting process. A measuring process prepares its batch
    size in ``build``; another batch size is prepared on its first call, as OpenVINO's compile is.
    """

    def __init__(self, interpreter_class: Any, flatbuffer: bytes, threads: int | None, input_dtype: str) -> None:
        # threads=None: the interpreter's default, which is one thread (the Python wrapper passes 1)
        self.interpreter = interpreter = interpreter_class(model_content=flatbuffer, num_threads=threads)
        interpreter.allocate_tensors()
        self.size_bytes = len(flatbuffer)
        source, sink = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
        self.input_dtype = np.dtype(source["dtype"])
        set_tensor, invoke, get_tensor = interpreter.set_tensor, interpreter.invoke, interpreter.get_tensor
        index_in, index_out = source["index"], sink["index"]
        if self.input_dtype == np.dtype(input_dtype):  # the converter keeps float32 and int64 token ids
            def call(inputs: np.ndarray) -> np.ndarray:
                set_tensor(index_in, inputs)  # copies into the interpreter's input buffer
                invoke()
                return get_tensor(index_out)  # a copy: the next invoke overwrites the buffer
        else:  # a model whose input the converter retyped: a user feeding it would cast too
            dtype = self.input_dtype

            def call(inputs: np.ndarray) -> np.ndarray:
                set_tensor(index_in, inputs.astype(dtype))
                invoke()
                return get_tensor(index_out)

        self.call = call


class LiteRtBackend(Backend):
    name = "litert"
    module = "ai_edge_litert"
    requirement = "ai-edge-litert tensorflow-cpu"
    #: default: the interpreter with its default delegate (XNNPACK on x86), one converted model
    #: and interpreter per batch size, made on the first call of that batch size
    variants = ("default",)
    #: precision → how (benchlib.backends.litert_quant)
    precisions = PRECISION_METHODS
    precision_skips = PRECISION_SKIPS

    def _import(self) -> Any:
        # TensorFlow (the converter) is imported only where a conversion runs, never here: the runtime
        # a deployment loads is ai_edge_litert alone
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
        import ai_edge_litert
        import ai_edge_litert.interpreter

        return ai_edge_litert

    def _build(self) -> None:
        #: per batch size: where its flatbuffer came from and what that cost (thread_settings()["converter"])
        self.flatbuffers: dict[int, dict[str, Any]] = {}
        self._static = StaticShapes(self._convert_static)
        for batch in self.measured_batch_sizes:  # a measuring process: its flatbuffer and interpreter now
            self._static.get(batch)

    def static_shape(self, batch: int) -> _StaticShape:
        """The interpreter for ``batch`` (converted and allocated on first use)."""
        return self._static.get(batch)

    def _convert_static(self, batch: int) -> _StaticShape:
        # the same Keras layers and weights as the tensorflow backend, converted here or in a child process
        content, self.flatbuffers[batch] = flatbuffer(self.spec, batch, self.precision, self.calibration_size,
                                                      in_child=self.measuring)
        return _StaticShape(self._framework.interpreter.Interpreter, content, self.threads, self.spec.input_dtype)

    def _make_predictor(self) -> Predictor:
        return per_batch_predictor(self.static_shape)

    def thread_settings(self) -> dict[str, Any]:
        return {
            "requested": self.threads,
            # the Python interpreter passes num_threads or 1 to the runtime (and its XNNPACK delegate)
            "num_threads": self.threads or 1,
            "converter": f"tensorflow {tensorflow_version()}",
            "flatbuffers": {str(batch): info for batch, info in getattr(self, "flatbuffers", {}).items()},
        }
