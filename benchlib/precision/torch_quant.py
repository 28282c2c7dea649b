"""PyTorch's reduced precisions: bf16 weights, and INT8 through the PT2E flow with the x86 Inductor quantizer.

* ``bf16``: the module's weights converted to bfloat16 (``module.to(torch.bfloat16)``), float inputs
  cast to bfloat16 inside the timed call and the output cast back to float32: every layer computes in
  bf16 (not autocast, which keeps some ops in float32 and casts weights at each call).
* ``int8-static``: ``torch.export`` → ``prepare_pt2e`` with ``X86InductorQuantizer`` (its default
  config: static per-tensor activations, per-channel weights) → calibration on the model's seeded
  calibration set → ``convert_pt2e`` → ``torch.compile`` (Inductor lowers the quantize/dequantize
  pattern to oneDNN INT8 kernels). The flow lives in ``torchao`` since ``torch.ao.quantization``'s
  PT2E API moved there; it runs only with the ``compile`` variant, because without Inductor the
  converted graph is a float reference of the INT8 arithmetic.

A factory's module (``torch:package.module:function``) takes both paths like a zoo model's: its one
float32 input is the calibration set's only named array.
"""

from __future__ import annotations

from typing import Any

from benchlib.errors import UnsupportedPrecisionError
from benchlib.precision import calibration_set

METHODS = {
    "fp32": "float32 module",
    "bf16": "bf16 weights (module.to(torch.bfloat16)), float inputs cast to bf16 in the timed call, output to float32",
    "int8-static": "PT2E: torch.export, torchao prepare_pt2e/convert_pt2e with X86InductorQuantizer (default "
                   "config), calibrated on the calibration set, then torch.compile (variant compile only)",
}
SKIPS = {"int8-dynamic": "the PT2E x86 Inductor quantizer's dynamic mode quantises only linear layers' activations "
                         "per call; benchlib measures PyTorch INT8 as int8-static (calibrated), the supported path"}
#: Rows per calibration call.
CALIBRATION_ROWS = 16


def quantize_pt2e(torch: Any, model: Any, spec: Any, calibration: int, variant: str) -> Any:
    """``model`` quantised to INT8 by the PT2E flow and compiled; raises UnsupportedPrecisionError where it cannot."""
    if variant != "compile":
        raise UnsupportedPrecisionError(f"int8-static on PyTorch runs through torch.compile (Inductor lowers the "
                                        f"INT8 pattern); variant={variant!r} would time a float reference of it: "
                                        "use --variants compile")
    try:
        import torchao.quantization.pt2e.quantizer.x86_inductor_quantizer as x86
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    except ImportError as exc:
        raise UnsupportedPrecisionError(f"the PT2E flow needs torchao (pip install torchao): {exc}") from exc
    rows = calibration_set(spec, calibration)
    if isinstance(rows, dict):  # a factory's export: its one input, named ``input``
        (rows,) = rows.values()
    rows = torch.from_numpy(rows)
    # the batch axis stays dynamic: calibration, evaluation and the timed call use different batch sizes
    batch_axis = ({0: torch.export.Dim.AUTO},)
    exported = torch.export.export(model.eval(), (rows[:CALIBRATION_ROWS],), dynamic_shapes=batch_axis).module()
    quantizer = x86.X86InductorQuantizer()
    quantizer.set_global(x86.get_default_x86_inductor_quantization_config())
    prepared = prepare_pt2e(exported, quantizer)
    with torch.no_grad():
        for start in range(0, len(rows), CALIBRATION_ROWS):
            prepared(rows[start:start + CALIBRATION_ROWS])
    return torch.compile(convert_pt2e(prepared), dynamic=False)
