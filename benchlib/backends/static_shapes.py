"""One compiled model per batch size, for runtimes that run fastest on static shapes (OpenVINO, LiteRT).

A backend keeps a :class:`StaticShapes` cache of its per-batch objects (each with a ``call``), made
on first use of a batch size, so the cold first call of that size pays the compile or conversion
(unless the backend made it ahead, as LiteRT does for a measuring process's batch size);
:func:`per_batch_predictor` is the predictor that dispatches on the batch size.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import numpy as np

#: Batch sizes kept at once (the oldest is dropped): a sweep uses six, memory stays bounded.
MAX_STATIC_SHAPES = 8

Slot = TypeVar("Slot")


class StaticShapes(Generic[Slot]):
    """Per-batch-size objects made by ``make(batch)`` on first use, at most :data:`MAX_STATIC_SHAPES`."""

    def __init__(self, make: Callable[[int], Slot]) -> None:
        self._make = make
        self._slots: dict[int, Slot] = {}

    def get(self, batch: int) -> Slot:
        """The object for ``batch`` (made now if this batch size is new)."""
        slot = self._slots.get(batch)
        if slot is None:
            slot = self._make(batch)
            while len(self._slots) >= MAX_STATIC_SHAPES:
                del self._slots[next(iter(self._slots))]
            self._slots[batch] = slot
        return slot


def per_batch_predictor(slot_for: Callable[[int], Any]) -> Callable[[np.ndarray], np.ndarray]:
    """A predictor calling ``slot_for(batch).call``, looked up once per batch size (one dict hit per call)."""
    calls: dict[int, Callable[[np.ndarray], np.ndarray]] = {}

    def predict(inputs: np.ndarray) -> np.ndarray:
        call = calls.get(inputs.shape[0])
        if call is None:  # a new batch size: compile or convert (the cold call pays it)
            if len(calls) >= MAX_STATIC_SHAPES:
                calls.clear()
            call = calls[inputs.shape[0]] = slot_for(inputs.shape[0]).call
        return call(inputs)

    return predict
