"""The one small interface every framework backend implements.

This module imports no framework. A backend's life has the phases the measurement engine
times separately: :meth:`Backend.import_framework`, :meth:`Backend.build`, then calls of the
predictor returned by :meth:`Backend.predictor`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from benchlib.errors import BackendUnavailableError, UnsupportedVariantError
from benchlib.models.spec import ModelSpec
from benchlib.system.blocker import hidden_packages

Predictor = Callable[[np.ndarray], np.ndarray]


class Backend(ABC):
    """A model spec built natively in one framework.

    Subclasses set the class attributes and implement :meth:`_import`, :meth:`_build` and
    :meth:`_make_predictor`. ``threads=None`` leaves the framework's own default.
    """

    #: registry name, e.g. ``"pytorch"``
    name: ClassVar[str]
    #: top-level module to import, e.g. ``"torch"``
    module: ClassVar[str]
    #: pip requirement that provides it, e.g. ``"torch"``
    requirement: ClassVar[str]
    #: variants this backend can run; the first is the default
    variants: ClassVar[tuple[str, ...]] = ("default",)
    #: numeric precisions this backend can run → how it applies each (benchlib.precision); fp32 first
    precisions: ClassVar[dict[str, str]] = {"fp32": "float32 weights and arithmetic"}
    #: precisions this backend does not run → why (the skipped record's reason)
    precision_skips: ClassVar[dict[str, str]] = {}
    #: packages the framework imports only when they are installed beside it (optional integrations,
    #: none needed for inference); a measuring process hides them while it imports and builds, so the
    #: import time and memory recorded are the framework's own (benchlib.system.blocker.hidden_packages)
    hidden_when_measured: ClassVar[tuple[str, ...]] = ()

    def __init__(self, spec: ModelSpec, threads: int | None = None, variant: str | None = None,
                 precision: str = "fp32") -> None:
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ValueError(f"threads={threads!r} is invalid; allowed: a positive integer or None")
        variant = variant or self.variants[0]
        if variant not in self.variants:
            raise UnsupportedVariantError(
                f"variant={variant!r} is unknown for backend {self.name!r}; allowed: {', '.join(self.variants)}"
            )
        self.spec = spec
        self.threads = threads
        self.variant = variant
        self._framework: Any = None
        self._built = False
        #: whether this process measures the backend, and at which batch sizes (:meth:`prepare_for_measurement`)
        self.measuring = False
        self.measured_batch_sizes: tuple[int, ...] = ()
        self.use_precision(precision)

    def use_precision(self, precision: str, calibration_size: int | None = None) -> None:
        """Run at ``precision`` (before :meth:`build`); static INT8 calibrates on ``calibration_size`` inputs.

        Raises :class:`~benchlib.errors.UnsupportedPrecisionError` (recorded as skipped) for a
        precision missing from this backend's :attr:`precisions` table, with its reason.
        """
        from benchlib.precision import CALIBRATION_SIZE, require

        if self._built:
            raise RuntimeError(f"precision={precision!r} must be chosen before build(); backend {self.name!r} is built")
        self.precision_path = require(self.name, precision, self.precisions, self.precision_skips)
        self.precision = precision
        #: inputs of the seeded calibration set for static INT8
        self.calibration_size = calibration_size or CALIBRATION_SIZE

    def prepare_for_measurement(self, batch_sizes: Sequence[int] = ()) -> None:
        """Told by a measuring worker, before :meth:`import_framework`: this process measures the backend (at
        ``batch_sizes``, when known) and should hold only what a deployment of the framework loads. The
        packages in :attr:`hidden_when_measured` are then hidden during import and build, and LiteRT
        builds its per-batch flatbuffers in :meth:`build` without importing TensorFlow here."""
        self.measuring = True
        self.measured_batch_sizes = tuple(batch_sizes)

    @property
    def hidden_at_import(self) -> tuple[str, ...]:
        """What this process hides from the framework while importing and building it (empty unless measuring)."""
        return self.hidden_when_measured if self.measuring else ()

    # -- phases -----------------------------------------------------------------------------
    def import_framework(self) -> None:
        """Import the framework (phase 1). Thread settings that must precede import go here."""
        if self._framework is not None:
            return
        try:
            with hidden_packages(self.hidden_at_import):
                self._framework = self._import()
        except ImportError as exc:
            raise BackendUnavailableError(self.name, self.requirement, str(exc)) from exc

    def build(self) -> None:
        """Build the native model from the spec and load the spec's weights (phase 2).

        Raises :class:`~benchlib.errors.UnsupportedLayerError` naming the layer kind this
        backend cannot build (the engine records the run as skipped).
        """
        self.import_framework()
        with hidden_packages(self.hidden_at_import):
            self._build()
        self._built = True

    def predictor(self) -> Predictor:
        """The timed call: ``[batch, *input_shape]`` of the spec's input dtype in (float32, or int64
        token ids), float32 NumPy out, work finished.

        The returned callable validates shape and dtype; :meth:`raw_predictor` skips that check.
        """
        raw = self.raw_predictor()
        expected, dtype = self.spec.input_shape, self.spec.input_dtype

        def predict(inputs: np.ndarray) -> np.ndarray:
            validate_input(inputs, expected, dtype)
            return raw(inputs)

        return predict

    def raw_predictor(self) -> Predictor:
        """The predictor without input validation (the measurement engine validates once)."""
        if not self._built:
            self.build()
        return self._make_predictor()

    # -- facts ------------------------------------------------------------------------------
    def version(self) -> str:
        """Version string of the framework (imports it if needed)."""
        self.import_framework()
        return str(getattr(self._framework, "__version__", "unknown"))

    def thread_settings(self) -> dict[str, Any]:
        """Thread settings as read back from the framework, where it allows."""
        return {"requested": self.threads}

    def precision_report(self) -> dict[str, Any] | None:
        """What the framework reports it will use for the precision (after build), where it reports it."""
        return None

    # -- to implement -----------------------------------------------------------------------
    @abstractmethod
    def _import(self) -> Any:
        """Import and return the framework module."""

    @abstractmethod
    def _build(self) -> None:
        """Build the model; ``self._framework`` is imported."""

    @abstractmethod
    def _make_predictor(self) -> Predictor:
        """Return the unchecked predictor."""


def validate_input(inputs: Any, input_shape: tuple[int, ...], dtype: str = "float32") -> None:
    """Raise ``ValueError`` unless ``inputs`` is a ``dtype`` array of shape ``[batch, *input_shape]``."""
    expected = f"a numpy array of {dtype}, shape [batch, {', '.join(map(str, input_shape))}]"
    if not isinstance(inputs, np.ndarray):
        raise ValueError(f"inputs must be {expected}; got {type(inputs).__name__}")
    if inputs.dtype != np.dtype(dtype):
        raise ValueError(f"inputs must be {expected}; got dtype {inputs.dtype}")
    if inputs.ndim != len(input_shape) + 1 or tuple(inputs.shape[1:]) != tuple(input_shape):
        raise ValueError(f"inputs must be {expected}; got shape {list(inputs.shape)}")
    if inputs.shape[0] < 1:
        raise ValueError(f"inputs must be {expected} with batch >= 1; got shape {list(inputs.shape)}")
