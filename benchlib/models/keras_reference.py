"""The reference of a Keras factory: its model built by Keras on TensorFlow in float64, where Keras allows it.

The factory is called again under the ``float64`` dtype policy (and ``floatx``), the planned weights
(:mod:`benchlib.models.keras_factory`) are copied in, widened, and the model runs on the inputs
widened to float64 (integer inputs stay as they are). Keras does not allow it when a layer fixes
its own dtype (a weight or an output stays float32): then the reason is returned, and the caller
checks against ONNX's reference evaluator on the export instead. The reference runs in this process
when its Keras is TensorFlow's or not loaded yet, else in a child process whose Keras runs
TensorFlow (a JAX or PyTorch case's worker). Each result is kept under
``outputs/models/keras-reference/``, keyed by the plan and the inputs, so the cases of one batch
size and seed build it once.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from benchlib.models.keras_factory import TENSORFLOW_ENV, build_keras, keras_here, model_arguments, tempdir
from benchlib.models.reference_check import KERAS_FLOAT64, one_line

#: Seconds the reference's child process (TensorFlow's import, two builds, one call) may take.
REFERENCE_TIMEOUT_S = 600.0
#: The cached result's entry that holds why there is no float64 reference.
REASON = "reason"

__all__ = ["KERAS_FLOAT64", "float64_reference"]


class NoFloat64Error(RuntimeError):
    """Keras built part of the model in another dtype under the float64 policy: no float64 reference."""


def cache_path(plan: dict[str, Any], feeds: dict[str, np.ndarray]) -> Path:
    """Where the reference of ``plan`` on ``feeds`` is kept."""
    from benchlib.system.paths import models_dir

    digest = hashlib.sha256(plan["key"].encode())
    for name in sorted(feeds):
        array = np.ascontiguousarray(feeds[name])
        digest.update(f"{name}:{array.dtype}:{array.shape}".encode())
        digest.update(array.tobytes())
    return models_dir() / "keras-reference" / f"{plan['key']}-{digest.hexdigest()[:16]}.npz"


def float64_outputs(plan: dict[str, Any], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Every output in float64 (this process's Keras runs TensorFlow); :class:`NoFloat64Error` when Keras will not."""
    import keras

    narrow, _ = build_keras(plan["factory"], plan["inputs"])
    narrow.load_weights(plan["weights_file"])
    previous = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    try:
        wide, _ = build_keras(plan["factory"], plan["inputs"])
    finally:
        keras.config.set_floatx(previous[0])
        keras.config.set_dtype_policy(previous[1])
    fixed = sorted({w.path.rsplit("/", 1)[0] for w in wide.weights
                    if "float" in str(w.dtype) and str(w.dtype) != "float64"})
    if fixed:
        raise NoFloat64Error(f"under Keras's float64 dtype policy, weights of {', '.join(fixed)} stay "
                             "narrower (the layer fixes its dtype)")
    wide.set_weights([w.astype(np.float64) if np.issubdtype(w.dtype, np.floating) else w
                      for w in narrow.get_weights()])
    arrays = {name: (a.astype(np.float64) if np.issubdtype(a.dtype, np.floating) else a) for name, a in feeds.items()}
    outputs = [np.asarray(keras.ops.convert_to_numpy(o))
               for o in keras.tree.flatten(wide(model_arguments(plan["structure"], plan["inputs"], arrays),
                                                training=False))]
    narrower = [i for i, o in enumerate(outputs) if o.dtype != np.float64]
    if narrower:
        first = narrower[0]
        raise NoFloat64Error(f"under Keras's float64 dtype policy, output {first} is {outputs[first].dtype} (a layer "
                             "casts it)")
    return outputs


def reference_here(plan: dict[str, Any], feeds: dict[str, np.ndarray], path: Path) -> None:
    """Compute the reference (or why there is none) in this process and keep it at ``path``."""
    from benchlib.system.files import atomic_path

    try:
        stored = {f"output_{i}": out for i, out in enumerate(float64_outputs(plan, feeds))}
    except NoFloat64Error as exc:
        stored = {REASON: np.array(str(exc))}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".npz") as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **stored)


def reference_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """Child-process entry: the reference of the plan on the inputs in ``payload["feeds"]`` (an .npz), kept."""
    if keras_here("tensorflow") is None:
        raise RuntimeError("Keras was loaded with another backend; allowed: KERAS_BACKEND=tensorflow")
    with np.load(payload["feeds"]) as stored:
        feeds = {name: stored[name] for name in stored.files}
    reference_here(payload["plan"], feeds, Path(payload["path"]))
    return {"path": payload["path"]}


def float64_reference(plan: dict[str, Any], feeds: dict[str, np.ndarray]) -> tuple[list[np.ndarray] | None, str]:
    """(every output in float64, "") or (None, why not): kept, computed here, or computed in a child process."""
    path = cache_path(plan, feeds)
    if not path.is_file():
        try:
            if keras_here("tensorflow") is not None:
                reference_here(plan, feeds, path)
            else:
                _reference_in_child(plan, feeds, path)
        except Exception as exc:  # noqa: BLE001 - the evaluator on the export checks instead, saying why
            return None, f"Keras on TensorFlow could not build or run the model in float64: {one_line(exc)}"
    with np.load(path) as stored:
        if REASON in stored.files:
            return None, str(stored[REASON])
        return [stored[f"output_{i}"] for i in range(len(stored.files))], ""


def _reference_in_child(plan: dict[str, Any], feeds: dict[str, np.ndarray], path: Path) -> None:
    from benchlib.system.child import run_in_child

    with tempdir() as folder:
        inputs = Path(folder) / "feeds.npz"
        np.savez(inputs, **feeds)
        result = run_in_child("benchlib.models.keras_reference:reference_payload",
                              {"plan": plan, "feeds": str(inputs), "path": str(path)}, REFERENCE_TIMEOUT_S,
                              env=TENSORFLOW_ENV, what="float64 reference")
    if not result.ok:
        raise RuntimeError(f"its process failed: {result.error}")
