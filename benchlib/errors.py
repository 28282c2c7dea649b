"""The errors that decide a record's status, in one place every layer can import.

A case whose framework is missing, or that asks a backend for a variant, precision or layer kind it
does not have, is recorded as ``skipped`` with the reason (:class:`BackendUnavailableError`,
:class:`UnsupportedVariantError` and its :class:`UnsupportedPrecisionError`,
:class:`UnsupportedLayerError`); any other exception makes it ``failed``. A model that cannot be
benchmarked at all (:class:`OnnxModelError` and its kinds) is refused when the run is planned,
with the value and what is allowed. A reference that cannot run
(:class:`ReferenceUnavailableError`) leaves a record's outputs unverified, not wrong.

This module imports nothing from benchlib: the layers that raise these errors and the ones that
record them all sit above it.
"""

from __future__ import annotations


class BackendError(RuntimeError):
    """Base class of backend errors."""


class BackendUnavailableError(BackendError, ImportError):
    """The framework behind a backend is not installed (or cannot be imported): the case is skipped."""

    def __init__(self, backend: str, requirement: str, reason: str = "") -> None:
        self.backend = backend
        self.requirement = requirement
        self.reason = reason
        detail = f" ({reason})" if reason else ""
        super().__init__(
            f"backend {backend!r} needs {requirement!r}, which is not installed{detail}; "
            f"install it with: pip install {requirement}"
        )


class UnsupportedVariantError(BackendError, ValueError):
    """The backend (or this framework version) cannot run the requested variant: the case is skipped."""


class UnsupportedPrecisionError(UnsupportedVariantError):
    """The backend (or this CPU, or this framework version) cannot run the requested precision.

    A subclass of :class:`UnsupportedVariantError`, so the worker records the case as ``skipped``.
    """


class UnsupportedLayerError(NotImplementedError):
    """A backend was asked to build a layer kind it does not implement: the case is skipped."""

    def __init__(self, builder: str, kind: str) -> None:
        self.builder = builder
        self.kind = kind
        super().__init__(f"{builder} cannot build layer kind {kind!r}")


class OnnxModelError(ValueError):
    """A model file that cannot be benchmarked; the message names the value and what is allowed."""


class ModelNameError(OnnxModelError):
    """A model name that is neither a zoo name, an ONNX path nor a supported factory."""


class FactoryError(OnnxModelError):
    """A factory name that does not import or whose function does not return a usable module."""


class ReferenceUnavailableError(RuntimeError):
    """Neither ONNX's reference evaluator nor the fallback could run the graph; the message says why."""
