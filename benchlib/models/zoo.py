"""The models benchlib knows by name: the article's MLP and three networks people deploy.

Each factory returns the same spec (and the same weights) for the same seed. Tolerances are per
model and say why; batch sizes are per model (a 0.07 MFLOP MLP and a 2-layer transformer on 128
tokens fill the machine at very different batch sizes).
"""

from __future__ import annotations

from collections.abc import Callable

from benchlib.models.layers import Activation, BatchNorm, Conv2D, Dense, GlobalAvgPool, Residual
from benchlib.models.sequence_layers import (
    LSTM,
    Embedding,
    FirstToken,
    LayerNorm,
    PositionEmbedding,
    SelfAttention,
)
from benchlib.models.spec import ModelSpec

DEFAULT_SEED = 20241210


def fnn(seed: int = DEFAULT_SEED) -> ModelSpec:
    """The article's spam classifier: 200 → 128 → 64 → 32 → 16 → 8 → 1, ReLU, sigmoid output."""
    widths = (200, 128, 64, 32, 16, 8, 1)
    layers = tuple(
        Dense(widths[i], widths[i + 1], "sigmoid" if i == len(widths) - 2 else "relu")
        for i in range(len(widths) - 1)
    )
    return ModelSpec(
        name="fnn",
        input_shape=(200,),
        layers=layers,
        seed=seed,
        description="Feed-forward spam classifier from the reference article",
        tolerance=1e-5,
        tolerance_reason="six small matmuls (at most 200 terms each) into a sigmoid: float32 rounding "
                         "stays near 1e-7",
        batch_sizes=(1, 8, 64, 256, 1000, 4096),
        quick_batch_sizes=(1, 64, 1000),
        verify_batch_sizes=(1, 7, 1000),
    )


def _stack(in_channels: int, filters: int, stride: int) -> tuple:
    """One ResNet-8 stack: conv-BN-ReLU-conv-BN plus a 1×1 convolution shortcut where the shape changes."""
    body = (
        Conv2D(in_channels, filters, 3, stride, 1), BatchNorm(filters), Activation("relu"),
        Conv2D(filters, filters, 3, 1, 1), BatchNorm(filters),
    )
    changes = stride != 1 or in_channels != filters
    shortcut = (Conv2D(in_channels, filters, 1, stride, 0),) if changes else ()
    return (Residual(body, shortcut), Activation("relu"))


def resnet8(seed: int = DEFAULT_SEED) -> ModelSpec:
    """MLPerf Tiny's image-classification ResNet-8 (CIFAR-10 shaped, 32×32×3 → 10 classes)."""
    layers = (
        Conv2D(3, 16, 3, 1, 1), BatchNorm(16), Activation("relu"),
        *_stack(16, 16, 1), *_stack(16, 32, 2), *_stack(32, 64, 2),
        GlobalAvgPool(), Dense(64, 10, "softmax"),
    )
    return ModelSpec(
        name="resnet8",
        input_shape=(32, 32, 3),
        layers=layers,
        seed=seed,
        description="MLPerf Tiny ResNet-8: 3x3 conv stem, three residual stacks (16, 32, 64 filters), "
                    "inference batch norm, global average pool, dense 10, softmax",
        tolerance=1e-5,
        tolerance_reason="seven convolutions (up to 288 terms each) and batch norms accumulate float32 "
                         "rounding in the logits; the softmax output is a probability, so absolute errors "
                         "stay small",
        batch_sizes=(1, 8, 64, 256),
        quick_batch_sizes=(1, 16, 64),
        verify_batch_sizes=(1, 3, 32),
    )


def bert_tiny(seed: int = DEFAULT_SEED) -> ModelSpec:
    """A BERT-Tiny-shaped encoder: 128 token ids → 2 layers, hidden 128, 2 heads, FFN 512 → 2 logits."""
    hidden, ffn = 128, 512
    encoder = (
        Residual((SelfAttention(hidden, 2),)), LayerNorm(hidden),
        Residual((Dense(hidden, ffn, "gelu"), Dense(ffn, hidden, "none"))), LayerNorm(hidden),
    )
    layers = (
        Embedding(30_522, hidden), PositionEmbedding(512, hidden), LayerNorm(hidden),
        *encoder, *encoder,
        FirstToken(), Dense(hidden, hidden, "tanh"), Dense(hidden, 2, "none"),
    )
    return ModelSpec(
        name="bert_tiny",
        input_shape=(128,),
        layers=layers,
        seed=seed,
        description="BERT-Tiny-shaped encoder: word, position and token-type embeddings, 2 layers of 2-head "
                    "self-attention (hidden 128, FFN 512, exact GELU, LayerNorm eps 1e-12), pooler on the "
                    "first token, 2-class logits",
        tolerance=5e-5,
        tolerance_reason="unbounded logits after two encoder layers: attention sums over 128 positions, "
                         "the FFN over 512 features, and each LayerNorm divides by a float32 standard "
                         "deviation, so float32 rounding grows with depth",
        batch_sizes=(1, 8, 32, 64),
        quick_batch_sizes=(1, 8, 32),
        verify_batch_sizes=(1, 3, 16),
    )


def lstm_spam(seed: int = DEFAULT_SEED) -> ModelSpec:
    """The article's spam filter as a text model: 64 token ids → embedding 64 → LSTM 128 → sigmoid."""
    layers = (Embedding(20_000, 64), LSTM(64, 128), Dense(128, 1, "sigmoid"))
    return ModelSpec(
        name="lstm_spam",
        input_shape=(64,),
        layers=layers,
        seed=seed,
        description="Spam classifier over 64 token ids: embedding 20,000 x 64, one LSTM layer of 128 units "
                    "(last hidden state), dense 1, sigmoid",
        tolerance=1e-5,
        tolerance_reason="64 recurrent steps carry float32 rounding through the cell state, but the gates "
                         "saturate it and the sigmoid output is bounded",
        batch_sizes=(1, 8, 64, 256),
        quick_batch_sizes=(1, 16, 64),
        verify_batch_sizes=(1, 7, 64),
    )


MODELS: dict[str, Callable[..., ModelSpec]] = {
    "fnn": fnn,
    "resnet8": resnet8,
    "bert_tiny": bert_tiny,
    "lstm_spam": lstm_spam,
}


def get_model(name: str, seed: int = DEFAULT_SEED) -> ModelSpec:
    """Return the spec registered as ``name``; unknown names list the valid ones."""
    try:
        factory = MODELS[name]
    except KeyError:
        raise ValueError(f"model={name!r} is unknown; allowed: {', '.join(MODELS)}") from None
    return factory(seed=seed)
