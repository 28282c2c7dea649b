"""Accuracy of a reduced-precision predictor on the fixed evaluation set, against the reference.

Three numbers: the largest and the mean absolute error of the outputs, and the decision agreement,
the share of inputs whose decision equals the reference's. The decision is the thresholded
probability (> 0.5) for a single sigmoid output (``fnn``, ``lstm_spam``) and the arg-max class
otherwise (the classifiers). The reference is the float64 NumPy forward pass for a zoo model. A user's
model (an ONNX file, a factory's export) has no labels and no float64 twin: its reduced precision is judged
by agreement with its own fp32 outputs, the float32 graph run by ONNX's reference evaluator (or its fallback;
a Keras model: the model itself in float64); every output is compared, its decision is its first output's,
and ``max_rel_err`` gives the error relative to each output's magnitude, as its fp32 check does. The record
names the reference (``accuracy.reference``) and the measure (``accuracy.measure``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

#: A single output above this probability is the positive decision.
THRESHOLD = 0.5

Inputs = np.ndarray | dict[str, np.ndarray]


def decisions(outputs: np.ndarray) -> np.ndarray:
    """One decision per row: thresholded sigmoid for one output, arg-max over several."""
    flat = np.asarray(outputs).reshape(len(outputs), -1)
    return (flat[:, 0] > THRESHOLD).astype(np.int64) if flat.shape[1] == 1 else flat.argmax(axis=1)


def _padded(chunk: Inputs, batch_size: int) -> Inputs:
    """``chunk`` grown to ``batch_size`` rows by repeating its own rows (each named array alike)."""
    def grow(array: np.ndarray) -> np.ndarray:
        return np.concatenate([array, np.resize(array, (batch_size - len(array), *array.shape[1:]))])

    return {name: grow(a) for name, a in chunk.items()} if isinstance(chunk, dict) else grow(chunk)


def _contiguous(chunk: Inputs) -> Inputs:
    if isinstance(chunk, dict):
        return {name: np.ascontiguousarray(array) for name, array in chunk.items()}
    return np.ascontiguousarray(chunk)


def predict_in_batches(predict: Callable[[Any], Any], inputs: Inputs,
                       batch_size: int) -> np.ndarray | list[np.ndarray]:
    """``predict`` over ``inputs`` in chunks of exactly ``batch_size`` rows (the last padded with its own
    first rows and trimmed), because some backends compile one static shape per batch size.

    ``inputs`` is one array (a zoo model: one output array back) or a dict of named arrays (a user's
    model, whose predictor returns a list of outputs: one float64 array per output back).
    """
    from benchlib.precision import row_count, take_rows

    chunks: list[Any] = []
    total = row_count(inputs)
    for start in range(0, total, batch_size):
        chunk = take_rows(inputs, start, start + batch_size)
        rows = min(batch_size, total - start)
        if rows < batch_size:
            chunk = _padded(chunk, batch_size)
        out = predict(_contiguous(chunk))
        if isinstance(out, list | tuple):
            chunks.append([np.asarray(o, dtype=np.float64)[:rows] for o in out])
        else:
            chunks.append(np.asarray(out, dtype=np.float64)[:rows])
    if chunks and isinstance(chunks[0], list):
        return [np.concatenate(parts) for parts in zip(*chunks, strict=True)]
    return np.concatenate(chunks)


#: What the accuracy of a reduced precision measures (a record's ``accuracy.measure``), for a zoo model and a user's.
ZOO_MEASURE = ("agreement with benchlib's float64 NumPy reference of the same weights: largest and mean absolute "
               "error of the output, and the share of inputs whose decision is the reference's")
USER_MEASURE = ("agreement with the model's own full-precision outputs (its float32 graph, or a Keras model in "
                "float64, run by the reference named in accuracy.reference): largest and mean absolute error and "
                "largest error relative to each output's magnitude, over every output, and the share of inputs "
                "whose decision on the first output is the reference's")


def _user_reference(spec: Any, inputs: dict[str, np.ndarray]) -> tuple[list[np.ndarray], str]:
    """Every output of the model's full-precision reference over ``inputs`` (in the graph's own batches if it has
    one), and the reference's method (ONNX's reference evaluator, its fallback, or a Keras model in float64)."""
    from benchlib.precision import feed_rows, row_count, take_rows

    step = feed_rows(spec, row_count(inputs))
    parts = [spec.reference_check(take_rows(inputs, start, start + step))
             for start in range(0, row_count(inputs), step)]
    methods = ", ".join(dict.fromkeys(part.method for part in parts))
    outputs = [np.concatenate([np.asarray(p.outputs[i], dtype=np.float64) for p in parts])
               for i in range(len(parts[0].outputs))]
    return outputs, methods


def _errors(outputs: list[np.ndarray], reference: list[np.ndarray]) -> tuple[float, float, float]:
    """Max and mean absolute error over every output, and the worst error relative to an output's magnitude."""
    if len(outputs) != len(reference) or any(o.shape != r.shape for o, r in zip(outputs, reference, strict=False)):
        return float("inf"), float("inf"), float("inf")
    errors = [np.abs(o - r) for o, r in zip(outputs, reference, strict=True)]
    if not all(np.isfinite(e).all() for e in errors):
        return float("inf"), float("inf"), float("inf")
    worst = max(float(e.max()) if e.size else 0.0 for e in errors)
    mean = float(np.concatenate([e.ravel() for e in errors]).mean())
    relative = max((float(e.max()) if e.size else 0.0) / max(float(np.abs(r).max()) if r.size else 0.0, 1e-6)
                   for e, r in zip(errors, reference, strict=True))
    return worst, mean, relative


def evaluate(predict: Callable[[Any], Any], spec: Any, batch_size: int, size: int) -> dict[str, Any]:
    """Max and mean absolute error and decision agreement of ``predict`` on ``size`` evaluation inputs."""
    from benchlib.models.reference import reference_forward
    from benchlib.precision import EVALUATION_SEED, evaluation_set, row_count

    inputs = evaluation_set(spec, size)
    outputs = predict_in_batches(predict, inputs, batch_size)
    extra: dict[str, Any] = {}
    if isinstance(inputs, dict):  # a user's model: every output against its full-precision outputs
        reference, method = _user_reference(spec, inputs)
        outputs = outputs if isinstance(outputs, list) else [outputs]
        worst, mean, relative = _errors(outputs, reference)
        extra = {"max_rel_err": relative, "decision_output": spec.outputs[0].name, "reference": method,
                 "measure": USER_MEASURE}
        first, first_reference = (outputs[0], reference[0]) if outputs else (None, reference[0])
    else:
        from benchlib.models.reference_check import NUMPY_FLOAT64

        reference_array = np.asarray(reference_forward(spec, inputs), dtype=np.float64)
        worst, mean, _ = _errors([outputs.reshape(reference_array.shape)], [reference_array])
        first, first_reference = outputs, reference_array
        extra = {"reference": NUMPY_FLOAT64, "measure": ZOO_MEASURE}
    agree = (decisions(first) == decisions(first_reference) if first is not None and len(first) == len(first_reference)
             else np.zeros(len(first_reference), dtype=bool))
    rule = "sigmoid > 0.5" if first_reference.reshape(len(first_reference), -1).shape[1] == 1 else "argmax"
    return {
        "max_abs_err": worst,
        "mean_abs_err": mean,
        "decision_agreement": float(agree.mean()),
        "decision_rule": rule,
        "evaluation_size": row_count(inputs),
        "evaluation_seed": EVALUATION_SEED,
        **extra,
    }
