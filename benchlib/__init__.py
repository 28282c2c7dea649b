"""benchlib: benchmark deep-learning inference on CPUs, and trust the number.

Importing benchlib imports no deep-learning framework; backends import theirs when built.
"""

from benchlib.system.blocker import install_from_env as _install_blocker

_install_blocker()

from benchlib.backends import BACKEND_NAMES, available_backends, create_backend  # noqa: E402 - the blocker first
from benchlib.errors import BackendUnavailableError  # noqa: E402
from benchlib.models import get_model, reference_forward  # noqa: E402
from benchlib.system.version import __version__  # noqa: E402

__all__ = [
    "BACKEND_NAMES",
    "BackendUnavailableError",
    "__version__",
    "available_backends",
    "create_backend",
    "get_model",
    "reference_forward",
]
