"""What this CPU does for each precision: native instructions, or a slower path (recorded per record).

From the CPU flags in the environment fingerprint (``benchlib.system.env.cpu_info``'s ``isa_flags``):
bf16 arithmetic needs AVX-512 BF16 (``avx512_bf16``) or AMX (``amx_bf16``); without them a framework
that still runs bf16 converts to float32 for the arithmetic (emulated: the memory halves, the
arithmetic does not speed up). INT8 dot products are one instruction with VNNI (``avx512_vnni``,
``avx_vnni``) or AMX (``amx_int8``); without them AVX2 needs three (``vpmaddubsw``, ``vpmaddwd``,
``vpaddd``), still faster per value than float32 but not the speed-up VNNI gives.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: Flags giving each reduced precision its native instructions.
NATIVE_FLAGS = {"bf16": ("avx512_bf16", "amx_bf16"), "int8": ("avx512_vnni", "avx_vnni", "amx_int8", "amx_tile")}
#: Every precision-related flag the fingerprint should show (present or not).
PRECISION_FLAGS = ("avx512_bf16", "avx512_vnni", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8")

_WITHOUT = {
    "bf16": "emulated: no AVX-512 BF16 or AMX-BF16, so bf16 values are widened to float32 for the arithmetic",
    "int8": "no VNNI or AMX-INT8: INT8 dot products take the three-instruction AVX2 sequence "
            "(vpmaddubsw, vpmaddwd, vpaddd)",
}


def precision_flags(isa_flags: Iterable[str]) -> dict[str, bool]:
    """Each precision-related CPU flag → whether this CPU has it."""
    have = set(isa_flags)
    return {flag: flag in have for flag in PRECISION_FLAGS}


def hardware_support(precision: str, isa_flags: Iterable[str]) -> dict[str, Any]:
    """``{"native": bool, "instructions": [flags used], "note": text}`` for ``precision`` on this CPU."""
    if precision == "fp32":
        return {"native": True, "instructions": [], "note": "float32 FMA"}
    family = "bf16" if precision == "bf16" else "int8"
    found = [flag for flag in NATIVE_FLAGS[family] if flag in set(isa_flags)]
    note = f"native: {', '.join(found)}" if found else _WITHOUT[family]
    return {"native": bool(found), "instructions": found, "note": note}
