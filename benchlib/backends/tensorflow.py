"""TensorFlow backend: a functional Keras model with ``set_weights`` from the spec.

The layer builders, one per layer kind, are in :mod:`benchlib.backends.keras_layers`.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from benchlib.backends.base import Backend, Predictor
from benchlib.precision.jax_tf import KERAS_METHODS, KERAS_SKIPS, build_keras_bf16


class TensorFlowBackend(Backend):
    name = "tensorflow"
    module = "tensorflow"
    requirement = "tensorflow-cpu"
    #: function: tf.function graph (the recommended inference path); eager: the Keras model
    #: called op by op; xla: tf.function(jit_compile=True)
    variants = ("function", "eager", "xla")
    #: precision → how (benchlib.precision.jax_tf)
    precisions = KERAS_METHODS
    precision_skips = KERAS_SKIPS
    #: ``import tensorflow`` loads these when installed (tf.lite's JAX hooks, Keras's scikit-learn wrapper,
    #: its pandas data adapter and matplotlib plots), each import guarded; here benchlib and the JAX
    #: backend installed them, so a measuring process hides them: 2.0 s of 4.7 s and 220 MB
    #: (docs/evidence/framework-alone.md)
    hidden_when_measured = ("jax", "jaxlib", "sklearn", "pandas", "matplotlib")

    def _import(self) -> Any:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
        import tensorflow as tf

        self._threads_error = None
        if self.threads is not None:
            # Only possible before TensorFlow creates its thread pools (its first op). In a process
            # where TensorFlow already ran (a notebook, `verify`), the pools keep their size: recorded,
            # not fatal. The engine runs every case in a fresh process, where this always applies.
            try:
                tf.config.threading.set_intra_op_parallelism_threads(self.threads)
                tf.config.threading.set_inter_op_parallelism_threads(self.threads)
            except RuntimeError as exc:
                self._threads_error = str(exc)
        return tf

    def _build(self) -> None:
        tf = self._framework
        from benchlib.backends.keras_layers import build_model

        if self.precision == "bf16":  # mixed_bfloat16 policy during the build; float32 out
            inner = build_keras_bf16(build_model, self.spec)

            def model(x: Any, training: bool = False) -> Any:
                return tf.cast(inner(x, training=training), tf.float32)
        else:
            model = build_model(self.spec)
        self._model = model
        if self.variant == "eager":
            self._call = lambda x: model(x, training=False)
        else:
            signature = [tf.TensorSpec([None, *self.spec.input_shape], self.spec.input_dtype)]
            self._call = tf.function(
                lambda x: model(x, training=False),
                input_signature=signature,
                jit_compile=self.variant == "xla",
                reduce_retracing=True,
            )

    def _make_predictor(self) -> Predictor:
        call = self._call

        def predict(inputs: np.ndarray) -> np.ndarray:
            return call(inputs).numpy()

        return predict

    def thread_settings(self) -> dict[str, Any]:
        tf = self._framework
        settings = {
            "requested": self.threads,
            "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
        }
        if self._threads_error:
            settings["honoured"] = False
            settings["reason"] = self._threads_error
        if self.hidden_at_import:
            settings["hidden_at_import"] = list(self.hidden_at_import)
        return settings
