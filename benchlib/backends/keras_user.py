"""TensorFlow, JAX and PyTorch on a Keras factory's model (``keras:package.module:function``), as Keras runs it.

Each framework builds the factory under its own Keras backend, in a process whose Keras runs that
backend (Keras picks it once, at import: :func:`benchlib.models.keras_factory.keras_here`), loads the
weights the TensorFlow build saved when the run was planned (``model.load_weights``) and checks that
they hash as planned: a factory that builds other weights under another backend fails, saying so.
A custom layer that this backend's Keras cannot build (it calls TensorFlow directly, say) makes the
case skipped, naming the layer.

* TensorFlow: the model called as it is (``eager``) or inside ``tf.function`` (``function``, the
  default: one trace over a dynamic batch).
* JAX: ``model.predict_on_batch``, which Keras compiles with ``jax.jit`` (``jit``), or the model
  called op by op (``eager``).
* PyTorch: ``model.predict_on_batch`` on Keras's torch backend (eager, under ``torch.no_grad``): the
  variant is ``keras-on-pytorch`` and the records say "Keras on PyTorch", not native PyTorch.

A process that measures always runs the model itself (a case's own fresh process). Elsewhere
(``verify``), when this process's Keras already runs another backend, the backend is built and
called in a child process (:mod:`benchlib.backends.keras_remote`).
"""

from __future__ import annotations

import sys
from typing import Any, ClassVar

import numpy as np

from benchlib.backends.jax import JaxBackend
from benchlib.backends.pytorch import PyTorchBackend
from benchlib.backends.tensorflow import TensorFlowBackend
from benchlib.errors import FactoryError, UnsupportedVariantError
from benchlib.models.keras_factory import build_keras, keras_here, model_arguments, weights_hash
from benchlib.models.reference_check import one_line

#: Why a Keras model runs at float32 only on Keras's own backends (LiteRT and the ONNX frameworks quantise it).
KERAS_PRECISION_SKIP = ("not implemented for a keras: factory on Keras's own backends (benchlib would have to "
                        "rebuild your layers under another dtype policy); LiteRT quantises it (int8-dynamic, "
                        "int8-static), ONNX Runtime and OpenVINO quantise its ONNX export")
#: What each framework's records say runs the model.
DISPLAY = {"tensorflow": "Keras on TensorFlow", "jax": "Keras on JAX", "torch": "Keras on PyTorch"}


def failing_custom_layer(exc: BaseException, custom: list[dict[str, str]]) -> dict[str, str] | None:
    """The custom layer (not Keras's own) whose code raised ``exc``, found in its traceback, or None."""
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        frame = error.__traceback__
        while frame is not None:
            owner = frame.tb_frame.f_locals.get("self")
            module = type(owner).__module__
            if hasattr(owner, "compute_output_spec") and not module.startswith(("keras.", "jax", "torch")):
                return {"name": getattr(owner, "name", "?"), "class": f"{module}.{type(owner).__name__}"}
            frame = frame.tb_next
        error = error.__cause__ or error.__context__
    names = {layer["class"].rsplit(".", 1)[-1]: layer for layer in custom}
    text = str(exc)
    return next((layer for short, layer in names.items() if f"{short}." in text or f"{short}(" in text), None)


class KerasModelBackend:
    """What the three Keras backends share: this process's Keras, the model built with the planned weights, and
    the predictor's list of every output (mixed into each framework's own backend class)."""

    #: Keras's name of the backend (``KERAS_BACKEND``)
    keras_backend: ClassVar[str]
    precisions: ClassVar[dict[str, str]] = {"fp32": "float32: the factory's Keras model with the planned weights"}
    precision_skips: ClassVar[dict[str, str]] = {p: KERAS_PRECISION_SKIP
                                                 for p in ("bf16", "int8-dynamic", "int8-static")}
    spec: Any
    measuring: bool
    _remote: Any = None

    def _import(self) -> Any:
        loaded = sys.modules.get("keras")
        if loaded is not None and loaded.backend.backend() != self.keras_backend:
            if self.measuring:  # a case's fresh process never has another Keras loaded
                raise RuntimeError(f"Keras runs {loaded.backend.backend()} in this process; a {self.keras_backend} "
                                   "case needs a process of its own")
            from benchlib.backends.keras_remote import RemoteKeras

            self._remote = RemoteKeras(self)  # this process's Keras runs another backend: a child runs this one
            return self._remote.start()
        framework = super()._import()  # type: ignore[misc] - the framework's own thread settings, before Keras
        self._keras = keras_here(self.keras_backend)
        return framework

    def _build(self) -> None:
        if self._remote is not None:
            self._remote.build()
            return
        self._keras_model = model = self._load_model()
        plan = self.spec.plan
        self._arguments = lambda feeds: model_arguments(plan["structure"], plan["inputs"], feeds)
        self._prepare(model)

    def _load_model(self) -> Any:
        """The factory's model under this Keras backend, with the planned weights (checked by their hash)."""
        plan, factory, backend = self.spec.plan, self.spec.factory, self.keras_backend
        try:
            model, _ = build_keras(factory, plan["inputs"])
        except FactoryError:
            raise
        except Exception as exc:
            layer = failing_custom_layer(exc, plan.get("custom_layers", []))
            if layer is None:
                raise
            raise UnsupportedVariantError(
                f"custom layer {layer['name']!r} ({layer['class']}) of {factory} cannot be rebuilt by Keras's "
                f"{backend} backend ({one_line(exc)}); allowed: layers written with keras.ops, which every Keras "
                "backend runs") from exc
        try:
            model.load_weights(plan["weights_file"])
        except Exception as exc:
            raise FactoryError(f"--models={factory!r}: the weights differ between backends: Keras's {backend} "
                               f"backend builds a model that cannot load the TensorFlow build's weights "
                               f"({one_line(exc)}); allowed: a factory that builds the same layers under every "
                               "Keras backend") from exc
        digest = weights_hash(model)
        if digest != self.spec.weights_sha256:
            raise FactoryError(f"--models={factory!r}: the weights differ between backends: after loading the "
                               f"TensorFlow build's weights, Keras's {backend} backend holds others (sha256 "
                               f"{digest[:12]}, planned {self.spec.weights_sha256[:12]}); allowed: a factory that "
                               "builds the same layers and weights under every Keras backend")
        return model

    def _prepare(self, model: Any) -> None:
        """Make ``self._call`` (call argument → the model's outputs) for the variant."""
        self._call = model.predict_on_batch

    def _make_predictor(self):  # -> Callable[[dict], list[np.ndarray]]
        if self._remote is not None:
            return self._remote.predictor()
        call, arguments, flatten = self._call, self._arguments, self._keras.tree.flatten
        convert = self._keras.ops.convert_to_numpy

        def predict(feeds: dict) -> list:
            return [np.asarray(convert(out)) for out in flatten(call(arguments(feeds)))]

        return predict

    def version(self) -> str:
        self.import_framework()  # type: ignore[attr-defined]
        return self._remote.version if self._remote is not None else super().version()  # type: ignore[misc]

    def thread_settings(self) -> dict[str, Any]:
        if self._remote is not None:
            return self._remote.thread_settings
        import keras

        return {**super().thread_settings(), "runs": DISPLAY[self.keras_backend],  # type: ignore[misc]
                "keras": {"version": keras.__version__, "backend": self.keras_backend}}


class KerasTensorFlowBackend(KerasModelBackend, TensorFlowBackend):
    """The factory's model on Keras's TensorFlow backend: inside ``tf.function`` (``function``) or called as it is."""

    keras_backend = "tensorflow"
    variants = ("function", "eager")

    def _prepare(self, model: Any) -> None:
        tf, plan = self._framework, self.spec.plan
        if self.variant == "eager":
            self._call = lambda args: model(args, training=False)
            return
        specs = {i["name"]: tf.TensorSpec([None, *i["shape"]], i["dtype"], name=i["name"]) for i in plan["inputs"]}
        signature = [model_arguments(plan["structure"], plan["inputs"], specs)]
        self._call = tf.function(lambda args: model(args, training=False), input_signature=signature)


class KerasJaxBackend(KerasModelBackend, JaxBackend):
    """The factory's model on Keras's JAX backend: ``predict_on_batch`` (jitted by Keras) or called op by op."""

    keras_backend = "jax"
    variants = ("jit", "eager")

    def _prepare(self, model: Any) -> None:
        model.jit_compile = self.variant == "jit"  # Keras's own switch ("auto" means jit on JAX)
        self._call = model.predict_on_batch if self.variant == "jit" else lambda args: model(args, training=False)

    def dispatcher(self) -> Any:
        raise UnsupportedVariantError("a Keras model's predict_on_batch waits for its outputs; JAX's asynchronous "
                                      "dispatch is the zoo's JAX backend's")


class KerasTorchBackend(KerasModelBackend, PyTorchBackend):
    """The factory's model on Keras's torch backend ("Keras on PyTorch"): ``predict_on_batch`` under no_grad."""

    keras_backend = "torch"
    #: the one variant, named so that no record reads as native PyTorch
    variants = ("keras-on-pytorch",)
