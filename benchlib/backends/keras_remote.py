"""A Keras backend built and called in a child process, for a process whose Keras runs another backend.

Keras picks its backend once per process, when it is imported. A case's worker is a fresh process
and runs its Keras backend itself; ``verify`` checks every framework from one process, whose Keras
runs TensorFlow once the float64 reference has been computed there. A JAX or PyTorch check of a
Keras model then runs in a :class:`~benchlib.system.child.ChildSession` started with that backend's
``KERAS_BACKEND``: the same backend class, built there once (:func:`remote_start`,
:func:`remote_build`) and called once per batch (:func:`remote_predict`, inputs and outputs through
``.npz`` files). An error there comes back as the same kind of error here (skipped, failed, the
weights' check), with its message.
"""

from __future__ import annotations

import traceback
import weakref
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from benchlib.errors import BackendUnavailableError, FactoryError, UnsupportedVariantError

#: Seconds one step in the child (import and build, or one call) may take.
REMOTE_TIMEOUT_S = 600.0
#: The backend held by this (child) process between calls.
_HELD: dict[str, Any] = {}


class RemoteKeras:
    """The child-process side of a Keras backend object (``backend``), seen from the parent."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.version = "unknown"
        self.thread_settings: dict[str, Any] = {}
        self.session: Any = None

    def start(self) -> SimpleNamespace:
        """Start the child, load the model and import the framework there; a stand-in for the framework module."""
        from benchlib.models.keras_factory import PLAN_KEY, TENSORFLOW_ENV
        from benchlib.models.torch_factory import WEIGHTS_KEY
        from benchlib.system.child import ChildSession

        backend, spec = self.backend, self.backend.spec
        self.session = ChildSession(env={**TENSORFLOW_ENV, "KERAS_BACKEND": backend.keras_backend})
        weakref.finalize(self, self.session.close)
        value = self._call("remote_start", {
            "backend": backend.name, "model": spec.factory, "threads": backend.threads, "variant": backend.variant,
            "extra": {PLAN_KEY: spec.plan["plan_file"], WEIGHTS_KEY: spec.weights_sha256},
            "precision": backend.precision, "calibration_size": backend.calibration_size})
        self.version = value["version"]
        return SimpleNamespace(__version__=self.version)

    def build(self) -> None:
        """Build the backend in the child (the factory, the planned weights and their check)."""
        self.thread_settings = {**self._call("remote_build", {})["thread_settings"], "process": "a child process "
                                "(this process's Keras runs another backend)"}

    def predictor(self):  # -> Callable[[dict], list[np.ndarray]]
        """Named inputs in, every output back, each call through the child."""
        from benchlib.models.keras_factory import tempdir

        def predict(feeds: dict) -> list:
            with tempdir() as folder:
                path = Path(folder) / "feeds.npz"
                np.savez(path, **feeds)
                value = self._call("remote_predict", {"feeds": str(path), "out": str(Path(folder) / "out.npz")})
                with np.load(value["path"]) as stored:
                    return [stored[f"output_{i}"] for i in range(len(stored.files))]

        return predict

    def _call(self, step: str, payload: dict[str, Any]) -> dict[str, Any]:
        backend = self.backend
        result = self.session.call(f"benchlib.backends.keras_remote:{step}", payload, REMOTE_TIMEOUT_S,
                                   what=f"{backend.name} result")
        if not result.ok:
            raise RuntimeError(f"Keras on {backend.keras_backend}, in its own process: {result.error}")
        value = result.value
        if "skipped" in value:
            raise UnsupportedVariantError(value["skipped"])
        if "unavailable" in value:
            raise BackendUnavailableError(backend.name, *value["unavailable"])
        if "factory" in value:
            raise FactoryError(value["factory"])
        if "failed" in value:
            raise RuntimeError(value["failed"])
        return value


def _answer(step: Any) -> dict[str, Any]:
    """Run one step in the child; an error becomes ``{kind: message}``, which the parent raises again."""
    try:
        return step()
    except BackendUnavailableError as exc:
        return {"unavailable": [exc.requirement, exc.reason]}
    except UnsupportedVariantError as exc:
        return {"skipped": str(exc)}
    except FactoryError as exc:
        return {"factory": str(exc)}
    except Exception as exc:  # noqa: BLE001 - the parent's result says why, in one line
        return {"failed": traceback.format_exception_only(exc)[-1].strip()}


def remote_start(payload: dict[str, Any]) -> dict[str, Any]:
    """Child: load the model, make the backend and import its framework."""
    def step() -> dict[str, Any]:
        from benchlib.backends.registry import create_model_backend
        from benchlib.models.user import load_model

        backend = create_model_backend(payload["backend"], load_model(payload["model"], payload["extra"]),
                                       threads=payload["threads"], variant=payload["variant"])
        backend.use_precision(payload["precision"], payload["calibration_size"])
        backend.import_framework()
        _HELD["backend"] = backend
        return {"version": backend.version()}

    return _answer(step)


def remote_build(payload: dict[str, Any]) -> dict[str, Any]:
    """Child: build the backend and make its predictor."""
    def step() -> dict[str, Any]:
        backend = _HELD["backend"]
        _HELD["predict"] = backend.raw_predictor()
        return {"thread_settings": backend.thread_settings()}

    return _answer(step)


def remote_predict(payload: dict[str, Any]) -> dict[str, Any]:
    """Child: one call on the inputs in ``payload["feeds"]``; the outputs written to ``payload["out"]``."""
    def step() -> dict[str, Any]:
        with np.load(payload["feeds"]) as stored:
            feeds = {name: stored[name] for name in stored.files}
        outputs = _HELD["predict"](feeds)
        np.savez(payload["out"], **{f"output_{i}": out for i, out in enumerate(outputs)})
        return {"path": payload["out"]}

    return _answer(step)
