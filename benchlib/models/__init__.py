"""Model specs: networks as framework-neutral data."""

from benchlib.models.layer_base import Layer
from benchlib.models.layers import Activation, BatchNorm, Conv2D, Dense, GlobalAvgPool, Residual
from benchlib.models.reference import reference_forward
from benchlib.models.sequence_layers import LSTM, Embedding, FirstToken, LayerNorm, PositionEmbedding, SelfAttention
from benchlib.models.spec import ModelSpec
from benchlib.models.zoo import MODELS, get_model

__all__ = [
    "LSTM",
    "MODELS",
    "Activation",
    "BatchNorm",
    "Conv2D",
    "Dense",
    "Embedding",
    "FirstToken",
    "GlobalAvgPool",
    "Layer",
    "LayerNorm",
    "ModelSpec",
    "PositionEmbedding",
    "Residual",
    "SelfAttention",
    "get_model",
    "reference_forward",
]
