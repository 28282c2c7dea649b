"""One module per framework behind :class:`~benchlib.backends.base.Backend`."""

from benchlib.backends.base import Backend, Predictor, validate_input
from benchlib.backends.registry import (
    BACKEND_NAMES,
    available_backends,
    backend_variants,
    create_backend,
    get_backend_class,
    missing_requirement,
)

__all__ = [
    "BACKEND_NAMES",
    "Backend",
    "Predictor",
    "available_backends",
    "backend_variants",
    "create_backend",
    "get_backend_class",
    "missing_requirement",
    "validate_input",
]
