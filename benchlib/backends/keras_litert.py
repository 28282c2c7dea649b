"""LiteRT on a Keras factory's model: ``tf.lite.TFLiteConverter`` from the model, one flatbuffer per batch size.

The converting process (Keras on TensorFlow) builds the factory, loads the planned weights and
converts a ``tf.function`` with a fixed ``[batch, ...]`` signature per named input, TFLite builtin
ops only, at the case's precision (:func:`benchlib.backends.litert_quant.run_converter`: float32,
dynamic-range INT8, or full-integer INT8 calibrated on the model's seeded calibration set with the
float interface kept). The flatbuffers are kept under ``outputs/models/litert/`` (named by the
plan's key: :func:`benchlib.backends.litert_files.cached_flatbuffer`); as for a zoo model, a
measuring process imports LiteRT alone and has a missing file converted in a process of its own.
The interpreter is fed every input by its signature name and returns every output.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchlib.backends.litert import LiteRtBackend
from benchlib.backends.litert_files import cached_flatbuffer, converter_hash, tensorflow_version
from benchlib.backends.litert_quant import CALIBRATION_CRASHES, run_converter
from benchlib.backends.static_shapes import MAX_STATIC_SHAPES
from benchlib.errors import UnsupportedVariantError
from benchlib.models.keras_factory import TENSORFLOW_ENV, build_keras, keras_here, model_arguments, weights_hash

#: Keras layer classes whose static-INT8 calibration kills TensorFlow's calibrator (litert_quant.CALIBRATION_CRASHES).
CRASHING_LAYERS = {"LSTM": CALIBRATION_CRASHES["lstm"]}


def keras_flatbuffer_path(plan: dict[str, Any], batch: int, precision: str, calibration: int) -> Path:
    """Where the flatbuffer of the plan's model at ``batch`` and ``precision`` lives."""
    from benchlib.system.paths import models_dir

    rows = f"-c{calibration}" if precision == "int8-static" else ""
    function = plan["factory"].rsplit(":", 1)[-1]
    name = f"keras-{function}-{plan['key']}-b{batch}-{precision}{rows}-tf{tensorflow_version()}-x{converter_hash()}"
    return models_dir() / "litert" / f"{name}.tflite"


def refuse_crashes(plan: dict[str, Any], precision: str) -> None:
    """Refuse (a failed record) a static-INT8 calibration known to crash the converting process."""
    crashes = [why for layer, why in CRASHING_LAYERS.items() if layer in plan.get("layer_classes", [])]
    if precision == "int8-static" and crashes:
        raise RuntimeError(f"int8-static not attempted on {plan['factory']}: {crashes[0]}")


def convert_keras(plan: dict[str, Any], batch: int, precision: str, calibration: dict[str, np.ndarray] | None
                  ) -> bytes:
    """The flatbuffer (this process's Keras runs TensorFlow); ``calibration``: the rows, by input, for int8-static."""
    import tensorflow as tf

    if keras_here("tensorflow") is None:
        raise RuntimeError("Keras runs another backend in this process; allowed: KERAS_BACKEND=tensorflow")
    model, _ = build_keras(plan["factory"], plan["inputs"])
    model.load_weights(plan["weights_file"])
    if weights_hash(model) != plan["weights_sha256"]:
        raise RuntimeError(f"{plan['factory']}: the weights loaded for the conversion differ from the planned ones")
    inputs, names = plan["inputs"], [i["name"] for i in plan["inputs"]]
    module = tf.Module()
    module.keras_variables = [getattr(w, "value", w) for w in model.weights]  # see litert_quant.convert
    signature = [tf.TensorSpec([batch, *i["shape"]], i["dtype"], name=i["name"]) for i in inputs]
    module.call = tf.function(lambda *xs: model(model_arguments(plan["structure"], inputs, dict(zip(names, xs,
                                                                                                     strict=True))),
                                                training=False), input_signature=signature)
    batches: list[list[np.ndarray]] = []
    if calibration is not None:  # whole batches, rows wrapped round (as litert_quant.representative_batches)
        count = len(next(iter(calibration.values())))
        index = np.arange(-(-count // batch) * batch) % count
        batches = [[np.ascontiguousarray(calibration[n][index[i:i + batch]]) for n in names]
                   for i in range(0, len(index), batch)]
    return run_converter(tf, module, precision, lambda: iter(batches), f"{plan['factory']} at batch {batch}")


def convert_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """Child-process entry: convert and write the flatbuffer (the answers of litert_files.convert_payload)."""
    from benchlib.system.files import atomic_write_bytes

    calibration = None
    if payload.get("calibration"):
        with np.load(payload["calibration"]) as stored:
            calibration = {name: stored[name] for name in stored.files}
    try:
        content = convert_keras(payload["plan"], payload["batch"], payload["precision"], calibration)
    except UnsupportedVariantError as exc:
        return {"unsupported": str(exc)}
    except Exception as exc:  # noqa: BLE001 - the parent's record says why, in one line
        return {"failed": f"{type(exc).__name__}: {exc}".splitlines()[0]}
    path = Path(payload["path"])
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, content)
    return {"path": str(path), "bytes": len(content)}


class _Interpreter:
    """One batch size: the interpreter, its inputs by signature name, its outputs in the model's order."""

    def __init__(self, interpreter_class: Any, content: bytes, threads: int | None,
                 inputs: list[dict[str, Any]]) -> None:
        self.interpreter = interpreter = interpreter_class(model_content=content, num_threads=threads)
        interpreter.allocate_tensors()
        runner = interpreter.get_signature_runner()
        by_name, outputs = runner.get_input_details(), runner.get_output_details()
        del runner
        sources = [(i["name"], by_name[i["name"]]["index"], np.dtype(by_name[i["name"]]["dtype"])) for i in inputs]
        # output_0, output_1, ... for a list (numbered order); a dict's keys sort as keras.tree.flatten sorts them
        order = sorted(outputs, key=lambda n: (0, int(n[7:])) if n.removeprefix("output_").isdigit() else (1, n))
        sinks = [outputs[name]["index"] for name in order]
        set_tensor, invoke, get_tensor = interpreter.set_tensor, interpreter.invoke, interpreter.get_tensor

        def call(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
            for name, index, dtype in sources:
                value = feeds[name]
                set_tensor(index, value if value.dtype == dtype else value.astype(dtype))
            invoke()
            return [get_tensor(index) for index in sinks]  # copies: the next invoke overwrites the buffers

        self.call = call


class KerasLiteRtBackend(LiteRtBackend):
    """LiteRT on the factory's model converted by TensorFlow's converter: every named input, every output."""

    def _convert_static(self, batch: int) -> _Interpreter:
        plan = self.spec.plan
        refuse_crashes(plan, self.precision)
        path = keras_flatbuffer_path(plan, batch, self.precision, self.calibration_size)
        # A measuring process never imports TensorFlow; static INT8's calibrator can crash its process; a process
        # whose Keras runs another backend cannot build the model under TensorFlow: a child converts for these.
        loaded = sys.modules.get("keras")
        in_child = (self.measuring or self.precision == "int8-static"
                    or (loaded is not None and loaded.backend.backend() != "tensorflow"))
        calibration = self._calibration() if self.precision == "int8-static" and not path.exists() else None
        folder = None
        payload: dict[str, Any] = {"plan": plan, "batch": batch, "precision": self.precision, "path": str(path)}
        if calibration is not None:
            from benchlib.models.keras_factory import tempdir

            folder = tempdir()
            payload["calibration"] = str(Path(folder.name) / "calibration.npz")
            np.savez(payload["calibration"], **calibration)
        try:
            content, self.flatbuffers[batch] = cached_flatbuffer(
                path, lambda: convert_keras(plan, batch, self.precision, calibration),
                ("benchlib.backends.keras_litert:convert_payload", payload) if in_child else None,
                f"LiteRT conversion of {plan['factory']} at batch {batch} ({self.precision})", env=TENSORFLOW_ENV)
        finally:
            if folder is not None:
                folder.cleanup()
        return _Interpreter(self._framework.interpreter.Interpreter, content, self.threads, plan["inputs"])

    def _calibration(self) -> dict[str, np.ndarray]:
        from benchlib.precision import calibration_set

        return calibration_set(self.spec, self.calibration_size)

    def _make_predictor(self):  # -> Callable[[dict], list[np.ndarray]]
        calls: dict[int, Any] = {}
        static = self.static_shape

        def predict(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
            batch = next(iter(feeds.values())).shape[0]
            call = calls.get(batch)
            if call is None:  # a new batch size: converted or read, and allocated (the cold call pays it)
                if len(calls) >= MAX_STATIC_SHAPES:
                    calls.clear()
                call = calls[batch] = static(batch).call
            return call(feeds)

        return predict

    def thread_settings(self) -> dict[str, Any]:
        return {**super().thread_settings(), "runs": "the Keras factory's model converted by tf.lite.TFLiteConverter"}
