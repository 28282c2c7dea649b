"""Model specs: networks as framework-neutral data."""

from benchlib.models.reference import reference_forward
from benchlib.models.spec import Dense, Layer, ModelSpec, UnsupportedLayerError
from benchlib.models.zoo import MODELS, get_model

__all__ = [
    "MODELS",
    "Dense",
    "Layer",
    "ModelSpec",
    "UnsupportedLayerError",
    "get_model",
    "reference_forward",
]
