"""``--input-range NAME=LOW:HIGH``: the values drawn for an input of a user's model, checked against its type.

Values are drawn from [LOW, HIGH): HIGH itself is never drawn. A range is two finite numbers with
LOW < HIGH that the input's type can hold:

* a floating-point input: both bounds within the type's largest magnitude (float16: 65504), and a
  span HIGH - LOW that is finite;
* an integer input: integer bounds from the type's minimum to its maximum + 1 (uint8: 0:256), or
  within 0:ROWS when it indexes a table of ROWS rows (a larger id would read outside the table);
  values are drawn as 64-bit integers, so bounds also stay within int64's;
* a bool input: integer bounds within 0:2, False being 0 and True 1 (1:2 gives all true, 0:1 all false,
  0:2, the default, both).

Each refusal names the option, the input, the value and what is allowed.
"""

from __future__ import annotations

import math

import numpy as np

from benchlib.errors import OnnxModelError
from benchlib.models.onnx_inputs import TensorInfo

SYNTAX = "allowed: NAME=LOW:HIGH with LOW < HIGH, both finite numbers, e.g. ids=0:30522 or x=-1:1"
INT64 = np.iinfo(np.int64)


def parse_input_ranges(text: str | None) -> dict[str, tuple[float, float]]:
    """``NAME=LOW:HIGH;NAME2=LOW:HIGH`` → value ranges [LOW, HIGH); refuses anything else with the value."""
    ranges: dict[str, tuple[float, float]] = {}
    for part in (p.strip() for p in (text or "").split(";") if p.strip()):
        name, _, bounds = (s.strip() for s in part.partition("="))
        try:
            low, high = (float(b) for b in bounds.split(":"))
        except ValueError:  # not two numbers
            raise OnnxModelError(f"--input-range={part} is invalid; {SYNTAX}") from None
        if not name:
            raise OnnxModelError(f"--input-range={part} names no input; {SYNTAX}")
        if not (math.isfinite(low) and math.isfinite(high)):
            raise OnnxModelError(f"--input-range={part} is invalid for input {name!r}: its bounds must be finite "
                                 f"numbers (not inf or nan); {SYNTAX}")
        if not low < high:
            raise OnnxModelError(f"--input-range={part} is invalid for input {name!r}: LOW must be below HIGH "
                                 f"(values are drawn from [LOW, HIGH)); {SYNTAX}")
        if name in ranges:
            raise OnnxModelError(f"--input-range names {name!r} twice ({text}); allowed: one range per input")
        ranges[name] = (low, high)
    return ranges


def check_input_range(model: str, info: TensorInfo, low: float, high: float) -> None:
    """Refuse a range input ``info`` of ``model`` cannot hold (see the module's rules)."""
    dtype = np.dtype(info.dtype)
    value = f"--input-range={info.name}={low:g}:{high:g}"
    if dtype == np.bool_ or np.issubdtype(dtype, np.integer):
        if dtype == np.bool_:
            least, most, why = 0, 2, "0 is False, 1 is True; HIGH is excluded, so 1:2 gives all true"
        elif info.high:
            least, most, why = 0, info.high, "the rows of the table it indexes"
        else:
            limits = np.iinfo(dtype)
            least, most = max(int(limits.min), int(INT64.min)), min(int(limits.max), int(INT64.max)) + 1
            why = f"{dtype} holds {limits.min} to {limits.max}; HIGH is excluded"
        if low != int(low) or high != int(high) or low < least or high > most:
            raise OnnxModelError(f"{value} is invalid for the {dtype} input {info.name!r} of {model}; allowed: "
                                 f"integer bounds within {least}:{most} ({why})")
        return
    if np.issubdtype(dtype, np.floating):
        largest = float(np.finfo(dtype).max)
        if max(abs(low), abs(high)) > largest or not math.isfinite(high - low):
            raise OnnxModelError(f"{value} is invalid for the {dtype} input {info.name!r} of {model}: {dtype} holds "
                                 f"magnitudes up to {largest:g}; allowed: bounds within -{largest:g}:{largest:g} "
                                 "whose difference is finite too")
        return
    raise OnnxModelError(f"{value} is invalid: the {dtype} input {info.name!r} of {model} is not a number; "
                         "allowed: ranges for integer, floating-point and bool inputs")
