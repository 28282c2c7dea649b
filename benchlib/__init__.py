"""benchlib: benchmark deep-learning inference on CPUs, and trust the number.

Importing benchlib imports no deep-learning framework; backends import theirs when built.
"""

from benchlib.system.blocker import install_from_env as _install_blocker

_install_blocker()

from benchlib.backends import (  # noqa: E402 - the blocker must be in place first
    BACKEND_NAMES,
    BackendUnavailableError,
    available_backends,
    create_backend,
)
from benchlib.models import get_model, reference_forward  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "BACKEND_NAMES",
    "BackendUnavailableError",
    "__version__",
    "available_backends",
    "create_backend",
    "get_model",
    "reference_forward",
]
