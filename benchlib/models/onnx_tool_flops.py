"""FLOPs per sample of an ONNX graph from every op, counted by onnx-tool, beside benchlib's own count.

benchlib's own count (:mod:`benchlib.models.onnx_flops`) takes MatMul, Gemm and Conv only and names
the ops it leaves out. onnx-tool (pinned in requirements.txt) infers shapes and profiles every node
in multiply-accumulates (MACs): a multiply-add is one MAC, an element-wise op one per element, and a
transcendental one an instruction estimate (exp 32 MACs, tanh 38). Its total is doubled here (two
FLOPs per MAC), so that on MatMul, Gemm and Conv it is in the units of benchlib's count (a
multiply-add counts two). Neither count is preferred: a model's record carries both and, when they
differ by more than :data:`DISAGREEMENT_RATIO`, why (:func:`disagreement`).

onnx-tool holds every weight as a NumPy array while it counts, so the count runs in a child process
(a measuring worker's peak memory stays the framework's own) and is kept in ``outputs/models/``,
keyed by the file's SHA-256 and the input shapes: each file is counted once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchlib.models.onnx_flops import COUNTED_OPS
from benchlib.models.onnx_inputs import TensorInfo

#: Counts further apart than this factor (either way) are a disagreement, shown with its reason.
DISAGREEMENT_RATIO = 2.0
#: Seconds the child process may take to count one graph.
COUNT_TIMEOUT_S = 300.0
#: Ops listed by name in a disagreement's reason (the largest first).
LISTED_OPS = 4


def _version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("onnx-tool")
    except PackageNotFoundError:
        return None


def _not_counted(why: str, version: str | None = None) -> dict[str, Any]:
    return {"tool": f"onnx-tool {version}" if version else "onnx-tool", "flops_per_sample": None,
            "macs_per_sample": None, "by_op": {}, "error": why}


def count_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """Child-process entry: onnx-tool's count of ``payload["path"]`` at batch 1 (see :func:`onnx_tool_count`)."""
    import numpy as np
    import onnx

    version = _version()
    if version is None:
        return _not_counted("not counted: onnx-tool is not installed (pip install onnx-tool)")
    import onnx_tool
    from onnx_tool.utils import NODE_REGISTRY

    proto = onnx.load(payload["path"])  # with external data: shape tensors may live there
    missing = sorted({n.op_type for n in proto.graph.node if NODE_REGISTRY.get(n.op_type + "Node") is None})
    if missing:  # onnx-tool would count them as 0 (with a warning) or fail inferring their shapes
        return _not_counted(f"not counted: onnx-tool {version} has no profiler for op(s) {', '.join(missing)}", version)
    feeds = {name: np.zeros((1, *shape), dtype=dtype) for name, shape, dtype in payload["inputs"]}
    try:
        # onnx-tool prints its progress when verbose and warns about what it guesses; stdout stays benchlib's
        with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph = onnx_tool.Model(proto, {"verbose": False}).graph
            graph.graph_reorder_nodes()
            graph.shape_infer(feeds)
            graph.profile()
            if not graph.valid_profile:
                raise RuntimeError("its shape inference did not complete")
    except Exception as exc:  # noqa: BLE001 - the user's graph: say what onnx-tool could not do, in one line
        words = str(exc).strip().splitlines()
        return _not_counted(f"not counted: onnx-tool {version} failed: {type(exc).__name__}: "
                            f"{words[0][:200] if words else ''}".rstrip(": "), version)
    by_op: dict[str, int] = {}
    for node in graph.nodemap.values():
        by_op[node.op_type] = by_op.get(node.op_type, 0) + int(round(2 * node.macs[0]))
    return {"tool": f"onnx-tool {version}", "flops_per_sample": int(round(2 * graph.macs[0])),
            "macs_per_sample": int(round(graph.macs[0])), "by_op": {k: v for k, v in by_op.items() if v},
            "error": None}


def onnx_tool_count(path: Path, sha256: str, inputs: Sequence[TensorInfo]) -> dict[str, Any]:
    """onnx-tool's FLOPs per sample of the graph at ``path`` (its ``inputs`` at their per-sample shapes).

    Returns ``tool``, ``flops_per_sample`` (2 x its MACs), ``macs_per_sample``, ``by_op`` (FLOPs per
    op type) and ``error``: why it could not count the graph (not installed, an op it has no profiler
    for, a failure), or None. Counted in a child process, once per file and input shapes.
    """
    from benchlib.system.child import run_in_child
    from benchlib.system.files import atomic_write_text
    from benchlib.system.paths import models_dir

    version = _version()
    if version is None:
        return _not_counted("not counted: onnx-tool is not installed (pip install onnx-tool)")
    described = [[info.name, list(info.shape), str(info.dtype)] for info in inputs]
    key = hashlib.sha256(json.dumps([sha256, described, version]).encode()).hexdigest()[:16]
    cache = models_dir() / f"flops-onnx-tool-{key}.json"
    with contextlib.suppress(OSError, ValueError):
        return json.loads(cache.read_text())
    result = run_in_child("benchlib.models.onnx_tool_flops:count_payload", {"path": str(path), "inputs": described},
                          timeout_s=COUNT_TIMEOUT_S, what="FLOP count")
    if not result.ok:  # a timeout or a crash: said in the record, not kept (the next run tries again)
        return _not_counted(f"not counted: onnx-tool's child process failed ({result.error})", version)
    cache.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(cache, json.dumps(result.value))
    return result.value


def disagreement(ours: int | None, not_counted: Sequence[str], tool: dict[str, Any]) -> str | None:
    """Why onnx-tool's count and benchlib's differ by more than :data:`DISAGREEMENT_RATIO`, or None.

    ``ours`` and ``not_counted`` are :func:`benchlib.models.onnx_flops.count_flops`'s; ``tool`` is
    :func:`onnx_tool_count`'s. A count only one side could make is said as well.
    """
    theirs = tool.get("flops_per_sample")
    if theirs is None and ours is None:
        return None
    if theirs is None:
        return f"only benchlib's MatMul/Gemm/Conv count ({ours:,}) exists; onnx-tool's: {tool.get('error')}"
    if ours is None:
        return (f"only onnx-tool's count ({theirs:,}) exists: benchlib's could not infer the graph's shapes "
                "(onnx.shape_inference)")
    low, high = sorted((ours, theirs))
    if high <= DISAGREEMENT_RATIO * low:  # within the factor (both zero included)
        return None
    by_op = tool.get("by_op") or {}
    on_ours = sum(v for op, v in by_op.items() if op in COUNTED_OPS)
    others = sorted(((v, op) for op, v in by_op.items() if op not in COUNTED_OPS), reverse=True)
    reasons = []
    if others:
        listed = ", ".join(f"{op} {v:,}" for v, op in others[:LISTED_OPS]) + (", ..." if len(others) > LISTED_OPS
                                                                                  else "")
        reasons.append(f"{sum(v for v, _ in others) / theirs:.0%} of onnx-tool's count is in ops benchlib's leaves "
                       f"out ({listed}; element-wise ops weighted by instruction estimates, e.g. tanh 38 MACs)")
    if on_ours != ours:
        reasons.append(f"on {'/'.join(COUNTED_OPS)} onnx-tool counts {on_ours:,} against benchlib's {ours:,}")
    if not_counted and not others:
        reasons.append(f"benchlib's leaves out {', '.join(not_counted)}")
    larger, smaller = ("onnx-tool's", "benchlib's") if theirs > ours else ("benchlib's", "onnx-tool's")
    ratio = f"{larger} is {high / low:.1f}x {smaller}" if low else f"{smaller} counts nothing"
    return (f"FLOPs per sample disagree: onnx-tool {theirs:,}, benchlib's MatMul/Gemm/Conv count {ours:,} "
            f"({ratio}): {'; '.join(reasons) or 'no op accounts for it'}")
