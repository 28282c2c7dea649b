"""Accuracy of a reduced-precision predictor on the fixed evaluation set, against the float64 reference.

Three numbers: the largest and the mean absolute error of the outputs, and the decision agreement,
the share of inputs whose decision equals the reference's. The decision is the thresholded
probability (> 0.5) for a single sigmoid output (``fnn``, ``lstm_spam``) and the arg-max class
otherwise (the classifiers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

#: A single output above this probability is the positive decision.
THRESHOLD = 0.5


def decisions(outputs: np.ndarray) -> np.ndarray:
    """One decision per row: thresholded sigmoid for one output, arg-max over several."""
    flat = np.asarray(outputs).reshape(len(outputs), -1)
    return (flat[:, 0] > THRESHOLD).astype(np.int64) if flat.shape[1] == 1 else flat.argmax(axis=1)


def predict_in_batches(predict: Callable[[np.ndarray], Any], inputs: np.ndarray, batch_size: int) -> np.ndarray:
    """``predict`` over ``inputs`` in chunks of exactly ``batch_size`` rows (the last padded with its own
    first rows and trimmed), because some backends compile one static shape per batch size."""
    chunks = []
    for start in range(0, len(inputs), batch_size):
        chunk = inputs[start:start + batch_size]
        rows = len(chunk)
        if rows < batch_size:
            chunk = np.concatenate([chunk, np.resize(chunk, (batch_size - rows, *chunk.shape[1:]))])
        chunks.append(np.asarray(predict(np.ascontiguousarray(chunk)), dtype=np.float64)[:rows])
    return np.concatenate(chunks)


def evaluate(predict: Callable[[np.ndarray], Any], spec: Any, batch_size: int, size: int) -> dict[str, Any]:
    """Max and mean absolute error and decision agreement of ``predict`` on ``size`` evaluation inputs."""
    from benchlib.models.reference import reference_forward
    from benchlib.precision import EVALUATION_SEED, evaluation_set

    inputs = evaluation_set(spec, size)
    outputs = predict_in_batches(predict, inputs, batch_size)
    reference = np.asarray(reference_forward(spec, inputs), dtype=np.float64)
    error = np.abs(outputs.reshape(reference.shape) - reference)
    finite = bool(np.isfinite(error).all())
    agree = decisions(outputs) == decisions(reference)
    rule = "sigmoid > 0.5" if reference.reshape(len(reference), -1).shape[1] == 1 else "argmax"
    return {
        "max_abs_err": float(error.max()) if finite else float("inf"),
        "mean_abs_err": float(error.mean()) if finite else float("inf"),
        "decision_agreement": float(agree.mean()),
        "decision_rule": rule,
        "evaluation_size": int(size),
        "evaluation_seed": EVALUATION_SEED,
    }
