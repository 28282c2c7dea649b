"""The typed, already-valid values the parameter checks return (:mod:`benchlib.engine.params`).

A list parameter, once checked where it entered (a CLI option's type, a notebook's parameters, the
Python API), travels as one of these tuples; the list checks return one as it is, so nothing
downstream checks it again.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

C = TypeVar("C", bound="Checked")


class Checked(tuple):
    """Values a list check accepted, in order, each once; the list checks return one as it is.

    It compares equal to, and is shown as, a list of the same values (a notebook's ``[64, 1]``).
    """

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return tuple.__eq__(self, tuple(other) if isinstance(other, list) else other)  # type: ignore[arg-type]

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = tuple.__hash__

    def __repr__(self) -> str:  # as the list it was given as, in a refusal that quotes it
        return repr(list(self))

    @classmethod
    def of(cls: type[C], name: str, values: Iterable[Any]) -> C:
        """``values``, each already accepted by its element check (an argparse type, say), without repeats;
        a value given more than once is named in a note on stderr (each case runs once anyway)."""
        values = list(values)
        unique = list(dict.fromkeys(values))
        if len(unique) < len(values):
            repeated = " ".join("default" if v is None else str(v) for v in unique if values.count(v) > 1)
            print(f"note: {name} {repeated} given more than once; each case runs once", file=sys.stderr)
        return cls(unique)


class ThreadCounts(Checked):
    """Thread counts (``None``: the framework's default), ``"cores"`` already resolved."""


class ThreadSettings(Checked):
    """Thread settings as :func:`check_thread_setting` spells them (``"cores"`` not yet counted)."""


class BatchSizes(Checked):
    """Batch sizes, each an integer from 1 to :data:`MAX_BATCH_SIZE`."""


class Precisions(Checked):
    """Numeric precision names (:data:`benchlib.precision.PRECISIONS`)."""


class ModelNames(Checked):
    """Model names: zoo names, ``.onnx`` paths or ``torch:`` factories; one file named several ways
    (``m.onnx``, ``./m.onnx``, its absolute path) is one model, under the first spelling (with a note)."""

    @classmethod
    def of(cls, name: str, values: Iterable[Any]) -> ModelNames:  # type: ignore[override]
        unique = super().of(name, values)
        spellings: dict[str, list[str]] = {}
        for model in unique:
            spellings.setdefault(model_key(model), []).append(model)
        for key, names in spellings.items():
            if len(names) > 1:
                print(f"note: {name} {' '.join(names)} name one file ({key}); it runs once, as {names[0]}",
                      file=sys.stderr)
        return unique if len(spellings) == len(unique) else cls(names[0] for names in spellings.values())


class Scenarios(Checked):
    """Scenario names as spelt in :data:`SCENARIOS`."""


class BackendNames(Checked):
    """Backend names (:data:`benchlib.backends.registry.BACKEND_NAMES`)."""


class VariantNames(Checked):
    """Variant names (each backend checks which it offers)."""


def model_key(name: str) -> str:
    """What makes two model names one model: an ONNX file's resolved path, else the name itself."""
    from benchlib.models.user import is_onnx_name

    return str(Path(name).resolve()) if is_onnx_name(name) else name
