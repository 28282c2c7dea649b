"""Every layer kind alone, as tiny models: the cases the conformance matrix, the FLOP counts and the LiteRT
spec round trip run over."""

from __future__ import annotations

from benchlib.models import (
    LSTM,
    Activation,
    BatchNorm,
    Conv2D,
    Dense,
    Embedding,
    FirstToken,
    GlobalAvgPool,
    LayerNorm,
    ModelSpec,
    PositionEmbedding,
    Residual,
    SelfAttention,
)
from benchlib.models.layer_base import ACTIVATIONS

#: A single layer checks tighter than a model: no depth to accumulate float32 rounding.
LAYER_TOLERANCE = 1e-5

#: (case name, per-sample input shape, layers): every layer kind, every activation, each layout path.
LAYER_CASES: list[tuple[str, tuple[int, ...], tuple]] = [
    *[(f"dense-{fn}", (12,), (Dense(12, 5, fn),)) for fn in ACTIVATIONS],
    ("dense-sequence-gelu", (6, 12), (Dense(12, 5, "gelu"),)),
    *[(f"activation-{fn}", (10,), (Activation(fn),)) for fn in ACTIVATIONS],
    ("activation-relu-image", (4, 5, 3), (Activation("relu"),)),
    ("activation-softmax-sequence", (6, 10), (Activation("softmax"),)),
    ("conv2d-3x3-pad1", (9, 9, 3), (Conv2D(3, 4, 3, 1, 1),)),
    ("conv2d-3x3-stride2-pad1", (9, 8, 3), (Conv2D(3, 4, 3, 2, 1),)),
    ("conv2d-1x1-stride2", (8, 8, 3), (Conv2D(3, 4, 1, 2, 0),)),
    ("conv2d-5x5-valid", (9, 9, 2), (Conv2D(2, 3, 5, 1, 0),)),
    ("batch_norm-image", (5, 5, 4), (BatchNorm(4),)),
    ("batch_norm-vector", (6,), (BatchNorm(6, eps=1e-5),)),
    ("global_avg_pool", (5, 6, 4), (GlobalAvgPool(),)),
    ("residual-identity", (6, 6, 4), (Residual((Conv2D(4, 4, 3, 1, 1), BatchNorm(4))),)),
    ("residual-projection", (6, 6, 3), (Residual((Conv2D(3, 4, 3, 2, 1),), (Conv2D(3, 4, 1, 2, 0),)),)),
    ("residual-dense", (7, 8), (Residual((Dense(8, 16, "gelu"), Dense(16, 8, "none"))),)),
    ("embedding", (7,), (Embedding(50, 6),)),
    ("position_embedding", (7, 6), (PositionEmbedding(16, 6),)),
    ("layer_norm", (7, 6), (LayerNorm(6),)),
    ("layer_norm-vector", (6,), (LayerNorm(6, eps=1e-5),)),
    ("self_attention", (7, 8), (SelfAttention(8, 2),)),
    ("lstm", (7, 5), (LSTM(5, 6),)),
    ("first_token", (7, 6), (FirstToken(),)),
]


def layer_spec(case: tuple) -> ModelSpec:
    """The one-layer model of ``case``, checked at :data:`LAYER_TOLERANCE`."""
    name, shape, layers = case
    return ModelSpec(name=f"layer-{name}", input_shape=shape, layers=layers, seed=7, tolerance=LAYER_TOLERANCE)
