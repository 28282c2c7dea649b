"""LiteRT flatbuffers converted from the Keras model by TensorFlow's converter, one per batch size and precision.

* ``fp32``: ``tf.lite.TFLiteConverter`` on a concrete function with a fixed ``[batch, *input_shape]``
  signature, TFLite builtin ops only (no ``SELECT_TF_OPS``: the Flex delegate is TensorFlow itself,
  not the deployment runtime).
* ``int8-dynamic``: dynamic-range quantisation (``optimizations=[tf.lite.Optimize.DEFAULT]``, no
  representative dataset): weights INT8 ahead of time, activations quantised per call by the
  hybrid kernels, float32 everywhere else.
* ``int8-static``: full-integer quantisation (``Optimize.DEFAULT``, a representative dataset from
  the model's seeded calibration set, ``supported_ops=[TFLITE_BUILTINS_INT8]``) with the float
  interface kept: the model takes the same float32 (or int64 token id) inputs and returns float32,
  with QUANTIZE/DEQUANTIZE inside the model, so the timed call pays them as a user would.
* ``bf16``: skipped (:data:`SKIPS`).

The batch is fixed at conversion because LiteRT cannot run the LSTM with a dynamic batch: the
converter only lowers Keras's LSTM loop to builtins when its TensorList shapes are static (otherwise
it asks for Flex), and resizing a fixed-batch LSTM model fails in the XNNPACK delegate. One conversion
per batch size works for every zoo model and lets the runtime plan each shape exactly.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from benchlib.errors import UnsupportedVariantError
from benchlib.precision import calibration_set

#: How each precision is made (recorded in the record's ``precision_path``).
METHODS = {
    "fp32": "tf.lite.TFLiteConverter, fixed-batch concrete function, TFLite builtin ops only",
    "int8-dynamic": "TFLiteConverter dynamic-range quantisation (Optimize.DEFAULT, no representative dataset: "
                    "INT8 weights, activations quantised per call)",
    "int8-static": "TFLiteConverter full-integer quantisation (Optimize.DEFAULT, representative dataset = "
                   "calibration set, TFLITE_BUILTINS_INT8), float32 input/output interface kept",
}
SKIPS = {
    "bf16": "LiteRT's CPU kernels (builtin and XNNPACK) have no bfloat16 arithmetic; the converter's "
            "supported_types=[tf.bfloat16] leaves every tensor float32 (checked on the zoo models, "
            "TensorFlow 2.21), and its reduced float type is float16 weights, not bf16",
}
#: Layer kinds whose static-INT8 calibration kills the process: TensorFlow 2.21.0's calibrator
#: (``calibrator._feed_tensors``) dies with SIGSEGV on the WHILE loop of a Keras LSTM. Refused with
#: that message (a failed record) instead of a crash; re-check when TensorFlow is upgraded.
CALIBRATION_CRASHES = {"lstm": "TensorFlow's LiteRT calibrator crashes (SIGSEGV in calibrator._feed_tensors) "
                               "on the WHILE loop of a Keras LSTM (seen with TensorFlow 2.21.0)"}
#: The converter's words when an op needs TensorFlow's own kernels (Flex).
_FLEX_HINTS = ("Select TF ops", "SELECT_TF_OPS", "failed to legalize operation")


def layer_kinds(layers: Any) -> set[str]:
    """Every layer kind in ``layers``, residual branches included."""
    kinds: set[str] = set()
    for layer in layers:
        kinds.add(layer.kind)
        kinds |= layer_kinds(getattr(layer, "body", ()) + getattr(layer, "shortcut", ()))
    return kinds


def representative_batches(spec: Any, calibration: int, batch: int) -> list[np.ndarray]:
    """The calibration set as ``[batch, ...]`` arrays (the signature is fixed), rows wrapped round to fill
    the last one. The calibrator keeps each tensor's min and max, which repeated rows do not change, so
    every batch size gets the ranges of the same ``calibration`` rows."""
    rows = calibration_set(spec, calibration)
    index = np.arange(math.ceil(len(rows) / batch) * batch) % len(rows)
    return [np.ascontiguousarray(rows[index[i:i + batch]]) for i in range(0, len(index), batch)]


def _flex_ops(message: str) -> list[str]:
    return sorted(set(re.findall(r"failed to legalize operation '([^']+)'", message)))


def refuse_known_crashes(spec: Any, precision: str) -> None:
    """Raise before converting what is known to kill the converter (:data:`CALIBRATION_CRASHES`), or an
    unknown precision; cheap, so a caller can check before starting a converting process."""
    if precision not in METHODS:
        raise ValueError(f"precision={precision!r} is invalid here; allowed: {', '.join(METHODS)}")
    if precision == "int8-static":
        crashes = [why for kind, why in CALIBRATION_CRASHES.items() if kind in layer_kinds(spec.layers)]
        if crashes:
            raise RuntimeError(f"int8-static not attempted on {spec.name!r}: {crashes[0]}")


def convert(tf: Any, model: Any, spec: Any, batch: int, precision: str, calibration: int) -> bytes:
    """The LiteRT flatbuffer of the Keras ``model`` at ``batch`` and ``precision``.

    An op that only Flex could run raises :class:`UnsupportedVariantError` (a skipped record naming
    it); any other converter or quantiser error propagates (a failed record with its message).
    """
    refuse_known_crashes(spec, precision)
    # Keras 3 models are not trackables the converter can read variables from (given the model, it
    # keeps uninitialised resource variables and the outputs are NaN); a tf.Module holding the
    # underlying tf.Variables lets it freeze them into constants.
    module = tf.Module()
    module.keras_variables = [getattr(w, "value", w) for w in model.weights]
    module.call = tf.function(lambda x: model(x, training=False),
                              input_signature=[tf.TensorSpec([batch, *spec.input_shape], spec.input_dtype)])
    batches = representative_batches(spec, calibration, batch) if precision == "int8-static" else []
    return run_converter(tf, module, precision, lambda: ([rows] for rows in batches), f"{spec.name!r} at batch {batch}")


def run_converter(tf: Any, module: Any, precision: str, representative: Any, what: str) -> bytes:
    """Convert ``module.call`` (a ``tf.function`` with a fixed signature; ``module`` holds the model's variables)
    at ``precision``; ``representative`` yields the calibration batches (each a list, one array per input).

    An op that only Flex could run raises :class:`UnsupportedVariantError` naming it and ``what``.
    """
    converter = tf.lite.TFLiteConverter.from_concrete_functions([module.call.get_concrete_function()], module)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if precision != "fp32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if precision == "int8-static":
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    # Given a trackable, the converter saves a SavedModel to a temporary folder and logs each save at INFO
    # ("Assets written to ..."): chatter in a notebook's cells, so TensorFlow's logger is quieted meanwhile.
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        return converter.convert()
    except Exception as exc:
        message = str(exc)
        if any(hint in message for hint in _FLEX_HINTS):
            ops = ", ".join(_flex_ops(message)) or "an op"
            raise UnsupportedVariantError(
                f"LiteRT's builtin ops cannot express {ops} of {what}; the converter asks for SELECT_TF_OPS (the "
                "Flex delegate, TensorFlow's own kernels), which the litert backend does not use") from exc
        raise
    finally:
        logger.setLevel(level)
