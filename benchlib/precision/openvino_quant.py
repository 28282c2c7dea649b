"""OpenVINO's reduced precisions: bf16 through the inference precision hint, INT8 through NNCF.

* ``bf16``: ``INFERENCE_PRECISION_HINT=bf16``, read back from the compiled model. The CPU plugin
  honours it only where the CPU has bf16 arithmetic (AVX-512 BF16 or AMX, listed as ``BF16`` in
  ``OPTIMIZATION_CAPABILITIES``); elsewhere it silently compiles f32, and the case is skipped with
  what the plugin read back, never reported as bf16.
* ``int8-static``: NNCF post-training quantisation (``nncf.quantize``, default preset: symmetric
  weights and activations, FakeQuantize nodes the plugin folds into INT8 kernels), statistics from
  the model's seeded calibration set (one row per item, the same rows ONNX Runtime calibrates on; a
  user's model gets a dict of named arrays per item, in its own batch if its graph has a fixed one).
  The precision hint stays f32 for the layers left in floating point. A model with attention
  (a MatMul of two activations, such as ``bert_tiny``) is quantised with
  ``model_type=nncf.ModelType.TRANSFORMER``, NNCF's documented setting for transformers: it keeps
  the attention's activation-by-activation products and the softmax in floating point (NNCF 3.4's
  default setup also fails on BERT's constant token-type lookup, a ``KeyError`` in its quantiser
  propagation).
"""

from __future__ import annotations

from typing import Any

from benchlib.errors import UnsupportedPrecisionError
from benchlib.precision import calibration_set, feed_rows, row_count, take_rows

#: INFERENCE_PRECISION_HINT per precision.
HINTS = {"fp32": "f32", "bf16": "bf16", "int8-static": "f32"}
#: How each precision is applied (the record's ``precision_path``).
METHODS = {
    "fp32": "INFERENCE_PRECISION_HINT=f32 (read back)",
    "bf16": "INFERENCE_PRECISION_HINT=bf16 (read back; skipped when the plugin compiles another precision)",
    "int8-static": "NNCF post-training quantisation (nncf.quantize, MinMax statistics on the calibration set), "
                   "f32 hint for the rest",
}
SKIPS = {"int8-dynamic": "the CPU plugin's dynamic quantisation applies to weight-compressed models "
                         "(nncf.compress_weights, for LLMs); the INT8 path for this model is int8-static (NNCF)"}


def quantize_with_nncf(model: Any, spec: Any, calibration: int) -> tuple[Any, str]:
    """``model`` (an ``ov.Model``) quantised to INT8 by NNCF on ``calibration`` rows of the calibration set.

    Returns the quantised model and how it was quantised (the record's ``precision_path``).
    """
    try:
        import nncf
    except ImportError as exc:
        raise UnsupportedPrecisionError(f"precision='int8-static' on OpenVINO needs NNCF: pip install nncf ({exc})") \
            from exc
    rows = calibration_set(spec, calibration)
    step = feed_rows(spec, 1)
    items = [take_rows(rows, i, i + step) for i in range(0, row_count(rows), step)]
    transformer = has_attention(model)
    options = {"model_type": nncf.ModelType.TRANSFORMER} if transformer else {}
    how = (f"NNCF post-training quantisation (nncf.quantize, MinMax statistics on {row_count(rows)} calibration inputs"
           f"{', model_type=TRANSFORMER: attention found' if transformer else ''}), f32 hint for the rest")
    return nncf.quantize(model, nncf.Dataset(items), subset_size=len(items), **options), how


def _is_constant(node: Any) -> bool:
    """Whether ``node`` is a constant, seen through the conversions the ONNX frontend inserts."""
    while node.get_type_name() in ("Convert", "Reshape", "Transpose"):
        node = node.input_value(0).get_node()
    return node.get_type_name() == "Constant"


def has_attention(model: Any) -> bool:
    """Whether the ``ov.Model`` multiplies two activations (attention's Q·Kᵀ and scores·V), unlike a layer's weights."""
    return any(op.get_type_name() == "MatMul" and not any(_is_constant(op.input_value(i).get_node()) for i in range(2))
               for op in model.get_ops())


def compiled_precision(compiled: Any) -> str:
    """The inference precision the compiled model reports (e.g. ``f32``, ``bf16``)."""
    value = str(compiled.get_property("INFERENCE_PRECISION_HINT"))
    # The property comes back as an element type whose text is "<Type: 'float32'>" or "bf16".
    for name, short in (("bfloat16", "bf16"), ("float32", "f32"), ("float16", "f16")):
        if name in value:
            return short
    return value


def check_hint(core: Any, compiled: Any, precision: str) -> str:
    """Raise :class:`UnsupportedPrecisionError` unless the compiled model runs ``precision``'s hint."""
    got = compiled_precision(compiled)
    if got != HINTS[precision]:
        caps = core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
        raise UnsupportedPrecisionError(
            f"OpenVINO's CPU plugin compiled {got} for INFERENCE_PRECISION_HINT={HINTS[precision]} "
            f"(OPTIMIZATION_CAPABILITIES: {', '.join(map(str, caps))}): this CPU has no native bf16, and the "
            "plugin does not emulate it")
    return got
