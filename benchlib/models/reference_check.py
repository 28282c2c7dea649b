"""Which reference a user model's outputs are checked against, and the fallback when ONNX's evaluator fails.

The first choice is ``onnx.reference.ReferenceEvaluator``, which shares no code with any backend.
It mishandles some valid graphs (onnx 1.23.2's ``GatherElements`` on an axis longer than NumPy's
``np.choose`` accepts, as a BERT export's position ids produce, raises ``cannot reshape array``);
then the outputs are checked against ONNX Runtime with every graph optimisation disabled
(``ORT_DISABLE_ALL``: each node runs its own kernel, nothing is fused or constant-folded), in
float64 when casting the graph's float32 tensors to float64 gives a model ONNX Runtime can run
(and memory allows the copy), else in float32 (the reason is kept). It runs where the evaluator
did: in the case's worker process after the timed loop, or in ``verify``'s process. Which check
was used is named by :data:`METHODS`; a model no check can run gets no verdict
(:class:`~benchlib.errors.ReferenceUnavailableError`), never a failed measurement. The comparisons
themselves are here too: a zoo model's absolute error (:func:`max_abs_error`) and a user model's
error relative to each output's magnitude (:func:`relative_error`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchlib.errors import ReferenceUnavailableError

#: ONNX's reference evaluator, the float64 NumPy reference of a zoo model, and the two fallbacks.
EVALUATOR = "onnx-reference-evaluator"
NUMPY_FLOAT64 = "numpy-float64"
ORT_FLOAT64 = "onnxruntime-unoptimized-float64"
ORT_FLOAT32 = "onnxruntime-unoptimized-float32"
#: A Keras factory's own model, built by Keras on TensorFlow in float64 (benchlib.models.keras_reference).
KERAS_FLOAT64 = "keras-tensorflow-float64"
#: What each method is, in words (``verify``'s notes and docs/models.md).
METHODS = {
    EVALUATOR: "onnx.reference.ReferenceEvaluator",
    NUMPY_FLOAT64: "benchlib's float64 NumPy reference",
    ORT_FLOAT64: "ONNX Runtime with graph optimisations disabled, in float64",
    ORT_FLOAT32: "ONNX Runtime with graph optimisations disabled, in float32",
    KERAS_FLOAT64: "the Keras factory's model built by Keras on TensorFlow in float64, with the planned weights",
}
#: The test-only fault (``test_fault=no_fallback``, see benchlib.engine.worker) raises this in the fallback.
INJECTED_FAULT = "injected test fault: the fallback reference cannot run"


@dataclass(frozen=True)
class ReferenceOutputs:
    """Every output of one reference run, the method that produced them and why it is not the first choice."""

    outputs: list[np.ndarray]
    method: str
    #: None for the evaluator; for a fallback, why the evaluator (and, in float32, float64) could not be used
    reason: str | None = None


def one_line(exc: BaseException) -> str:
    """An exception as ``Type: message`` on one line (at most 300 characters)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", f"{type(exc).__name__}: {exc}")  # Keras bolds its messages for terminals
    return " ".join(text.split())[:300]


def worst_error(results: list[Any], reference: list[np.ndarray]) -> float:
    """Worst :func:`relative_error` of ``results`` (each a list of every output); a wrong output count is infinite."""
    worst = 0.0
    for outputs in results:
        if not isinstance(outputs, list | tuple) or len(outputs) != len(reference):
            return float("inf")
        for out, ref in zip(outputs, reference, strict=True):
            worst = max(worst, relative_error(out, ref))
    return worst


def max_abs_error(outputs: np.ndarray, reference: np.ndarray) -> float:
    """Largest absolute difference, with a shape mismatch counted as infinitely wrong (a zoo model's check)."""
    if outputs.shape != reference.shape:
        return float("inf")
    return float(np.max(np.abs(outputs.astype(np.float64) - reference)))


def relative_error(out: Any, ref: np.ndarray) -> float:
    """max |out - ref| / max |ref| (a shape mismatch or a NaN counts as infinitely wrong)."""
    out = np.asarray(out)
    if out.shape != ref.shape:
        return float("inf")
    ref64 = ref.astype(np.float64)
    err = float(np.max(np.abs(out.astype(np.float64) - ref64))) if ref.size else 0.0
    scale = max(float(np.max(np.abs(ref64))) if ref.size else 0.0, 1e-6)  # an all-zero output: absolute
    return err / scale if np.isfinite(err) else float("inf")


def to_float64(model: Any) -> Any:
    """``model`` (an ``onnx.ModelProto``, changed in place) with its float32 tensors, inputs, outputs and casts
    made float64; value infos are dropped (ONNX Runtime infers them again).

    Whether the result is a model ONNX Runtime can run (every op with a float64 kernel) is decided by
    building a session from it.
    """
    _graph_to_float64(model.graph)
    return model


def _tensor_to_float64(tensor: Any) -> None:
    from onnx import TensorProto, numpy_helper

    if tensor.data_type == TensorProto.FLOAT:
        tensor.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(tensor).astype(np.float64), tensor.name))


def _graph_to_float64(graph: Any) -> None:
    from onnx import AttributeProto, TensorProto

    for tensor in graph.initializer:
        _tensor_to_float64(tensor)
    for sparse in graph.sparse_initializer:
        _tensor_to_float64(sparse.values)
    for value in (*graph.input, *graph.output):
        if value.type.tensor_type.elem_type == TensorProto.FLOAT:
            value.type.tensor_type.elem_type = TensorProto.DOUBLE
    del graph.value_info[:]
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == AttributeProto.TENSOR:
                _tensor_to_float64(attribute.t)
            elif attribute.type == AttributeProto.GRAPH:
                _graph_to_float64(attribute.g)
            elif attribute.type == AttributeProto.GRAPHS:
                for subgraph in attribute.graphs:
                    _graph_to_float64(subgraph)
            elif (attribute.type == AttributeProto.INT and attribute.name in ("to", "dtype")
                  and attribute.i == TensorProto.FLOAT):  # Cast's target, RandomNormal's and EyeLike's dtype
                attribute.i = TensorProto.DOUBLE


class FallbackReference:
    """ONNX Runtime on the user's file with graph optimisations disabled: float64 if it can, else float32.

    The session is built on first use (after the timed loop: it is never part of a measurement)
    and kept for the model's later reference runs.
    """

    #: The float64 copy is tried only when this many times the file's size is available (the parsed
    #: model, its float64 tensors, their serialisation and the session's copy are alive at once).
    FLOAT64_MEMORY_FACTOR = 8

    def __init__(self, path: Any, size_bytes: int = 0) -> None:
        self.path = path
        self.size_bytes = size_bytes  # the file and its external data
        self._session: Any = None
        self._float64_inputs: set[str] = set()
        self.method: str | None = None
        self.float32_reason: str | None = None  # why float64 could not be used

    def _options(self) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        options.log_severity_level = 3  # errors only: a float64 attempt that fails is reported in the record
        return options

    def _build(self) -> None:
        import onnx
        import onnxruntime as ort
        from onnx import TensorProto

        from benchlib.models.memory import available_memory_bytes, format_bytes

        providers = ["CPUExecutionProvider"]
        needed, available = self.FLOAT64_MEMORY_FACTOR * self.size_bytes, available_memory_bytes()
        if needed > available:  # the check must not take the record down with it (out of memory)
            self.float32_reason = (f"float64 not attempted: it would need about {format_bytes(needed)}, "
                                   f"{format_bytes(available)} available")
        else:
            try:
                model = onnx.load(str(self.path))  # external data from beside the file
                floats = {v.name for v in model.graph.input if v.type.tensor_type.elem_type == TensorProto.FLOAT}
                serialized = to_float64(model).SerializeToString()
                del model  # only the bytes are needed now
                self._session = ort.InferenceSession(serialized, self._options(), providers=providers)
                self._float64_inputs, self.method = floats, ORT_FLOAT64
                return
            except Exception as exc:  # noqa: BLE001 - an op without a float64 kernel, a model over 2 GB, ...
                self.float32_reason = f"float64 not possible: {one_line(exc)}"
        self._session = ort.InferenceSession(str(self.path), self._options(), providers=providers)
        self.method = ORT_FLOAT32

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Every output, in graph order; a float64 session that fails at run time is replaced by float32."""
        if self._session is None:
            self._build()
        try:
            return self._run(feeds)
        except Exception as exc:  # noqa: BLE001 - e.g. a float64 kernel that refuses these shapes
            if self.method != ORT_FLOAT64:
                raise
            import onnxruntime as ort

            self.float32_reason = f"float64 not possible: {one_line(exc)}"
            self._session = ort.InferenceSession(str(self.path), self._options(), providers=["CPUExecutionProvider"])
            self.method, self._float64_inputs = ORT_FLOAT32, set()
            return self._run(feeds)

    def _run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        wide = {name: (value.astype(np.float64) if name in self._float64_inputs else value)
                for name, value in feeds.items()}
        return [np.asarray(out) for out in self._session.run(None, wide)]


def reference_outputs(evaluate: Any, fallback: FallbackReference, feeds: dict[str, np.ndarray],
                      fallback_fault: bool = False) -> ReferenceOutputs:
    """``evaluate(feeds)`` (ONNX's evaluator), or ``fallback`` if it raises; :class:`ReferenceUnavailableError`
    naming both errors if neither runs. ``fallback_fault`` (tests only) makes the fallback raise."""
    try:
        return ReferenceOutputs([np.asarray(out) for out in evaluate(feeds)], EVALUATOR)
    except Exception as exc:  # noqa: BLE001 - the evaluator's own limits (a user's graph it mishandles)
        first = f"onnx.reference.ReferenceEvaluator failed: {one_line(exc)}"
    try:
        if fallback_fault:
            raise RuntimeError(INJECTED_FAULT)
        outputs = fallback.run(feeds)
    except Exception as exc:  # noqa: BLE001 - no check can run: the outputs stay unverified
        raise ReferenceUnavailableError(f"no check could run: {first}; ONNX Runtime with graph optimisations "
                                        f"disabled failed: {one_line(exc)}") from None
    reason = first + (f"; {fallback.float32_reason}" if fallback.method == ORT_FLOAT32 and fallback.float32_reason
                      else "")
    return ReferenceOutputs(outputs, str(fallback.method), reason)
