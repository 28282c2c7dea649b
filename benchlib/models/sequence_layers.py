"""Layer kinds of the text models: embeddings, LayerNorm, self-attention, LSTM, first-token pooling.

Sequences are (length, features) per sample; token ids are int64 (length,) per sample.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from benchlib.models.layer_base import Layer, check_positive, size

#: LSTM gate order of the spec's stacked kernels: input, forget, cell candidate, output (PyTorch's
#: i, f, g, o and Keras's i, f, c, o; ONNX wants i, o, f, c).
LSTM_GATES = ("i", "f", "g", "o")


def _bias(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.uniform(-0.1, 0.1, size=n).astype(np.float32)


def _sequence(kind: str, input_shape: tuple[int, ...], width: int) -> None:
    if len(input_shape) != 2 or input_shape[-1] != width:
        raise ValueError(f"{kind} expects a per-sample (length, {width}) sequence, got shape {input_shape}")


@dataclass(frozen=True)
class Embedding(Layer):
    """Token ids (length,) int64 → rows of ``table`` (vocab_size, dim): (length, dim)."""

    vocab_size: int
    dim: int
    kind: str = field(init=False, default="embedding")
    input_dtype = "int64"

    def __post_init__(self) -> None:
        check_positive(self, "vocab_size", "dim")

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(input_shape) != 1:
            raise ValueError(f"embedding expects per-sample token ids of shape (length,), got {input_shape}")
        return (*input_shape, self.dim)

    def flops(self, input_shape: tuple[int, ...]) -> int:
        return 0  # a gather

    def init_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {"table": rng.standard_normal((self.vocab_size, self.dim)).astype(np.float32)}


@dataclass(frozen=True)
class PositionEmbedding(Layer):
    """BERT's additions to the word embeddings: ``x + position[:length] + token_type[0]``.

    The input carries token ids only, so every token has token type 0 (as when a tokenizer is
    given one sentence); ``token_type`` keeps BERT's shape (type_vocab_size, dim).
    """

    max_length: int
    dim: int
    type_vocab_size: int = 2
    kind: str = field(init=False, default="position_embedding")

    def __post_init__(self) -> None:
        check_positive(self, "max_length", "dim", "type_vocab_size")

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        _sequence("position_embedding", input_shape, self.dim)
        if input_shape[0] > self.max_length:
            raise ValueError(f"sequence length {input_shape[0]} exceeds max_length={self.max_length}")
        return input_shape

    def flops(self, input_shape: tuple[int, ...]) -> int:
        return 2 * size(input_shape)

    def init_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {
            "position": (rng.standard_normal((self.max_length, self.dim)) * 0.5).astype(np.float32),
            "token_type": (rng.standard_normal((self.type_vocab_size, self.dim)) * 0.5).astype(np.float32),
        }


@dataclass(frozen=True)
class LayerNorm(Layer):
    """Normalise the last axis: ``(x - mean) / sqrt(var + eps) * gamma + beta`` (BERT: eps 1e-12)."""

    dim: int
    eps: float = 1e-12
    kind: str = field(init=False, default="layer_norm")

    def __post_init__(self) -> None:
        check_positive(self, "dim")
        if not 0 < self.eps < 1:
            raise ValueError(f"eps={self.eps!r} is invalid; allowed: a number between 0 and 1")

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if input_shape[-1:] != (self.dim,) or len(input_shape) > 2:
            raise ValueError(f"layer_norm expects a vector or sequence of width {self.dim}, got {input_shape}")
        return input_shape

    def flops(self, input_shape: tuple[int, ...]) -> int:
        # mean, subtract, square, variance sum, normalise, scale, shift
        return 7 * size(input_shape)

    def init_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {"gamma": rng.uniform(0.8, 1.2, self.dim).astype(np.float32), "beta": _bias(rng, self.dim)}


@dataclass(frozen=True)
class SelfAttention(Layer):
    """Multi-head self-attention without a mask: ``softmax(q k^T / sqrt(head_dim)) v``, heads
    concatenated, then the output projection. Projections are (in, out) ``{query,key,value,output}
    .weight`` with ``.bias``; head ``h`` uses columns ``h*head_dim:(h+1)*head_dim``."""

    hidden: int
    heads: int
    kind: str = field(init=False, default="self_attention")

    def __post_init__(self) -> None:
        check_positive(self, "hidden", "heads")
        if self.hidden % self.heads:
            raise ValueError(f"heads={self.heads} must divide hidden={self.hidden}")

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        _sequence("self_attention", input_shape, self.hidden)
        return input_shape

    def matmul_flops(self, input_shape: tuple[int, ...]) -> int:
        length = input_shape[0]
        projections = 4 * length * 2 * self.hidden * self.hidden
        scores_and_context = 2 * (2 * length * length * self.hidden)
        return projections + scores_and_context

    def flops(self, input_shape: tuple[int, ...]) -> int:
        length = input_shape[0]
        scores = self.heads * length * length
        # four bias adds; scaling and softmax (exp, sum, divide) of the scores
        return self.matmul_flops(input_shape) + 4 * length * self.hidden + 4 * scores

    def workspace_elements(self, input_shape: tuple[int, ...]) -> int:
        length = input_shape[0]
        return 4 * length * self.hidden + 2 * self.heads * length * length  # q, k, v, context; scores, weights

    def init_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        params = {}
        for name in ("query", "key", "value", "output"):
            weight = rng.standard_normal((self.hidden, self.hidden)) / np.sqrt(self.hidden)
            params[f"{name}.weight"] = weight.astype(np.float32)
            params[f"{name}.bias"] = _bias(rng, self.hidden)
        return params


@dataclass(frozen=True)
class LSTM(Layer):
    """One LSTM layer over a sequence, returning the last hidden state: (length, input) → (units,).

    ``kernel`` (input, 4·units), ``recurrent_kernel`` (units, 4·units) and ``bias`` (4·units) stack
    the gates in :data:`LSTM_GATES` order; sigmoid gates, tanh cell, zero initial state.
    """

    input_size: int
    units: int
    kind: str = field(init=False, default="lstm")

    def __post_init__(self) -> None:
        check_positive(self, "input_size", "units")

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        _sequence("lstm", input_shape, self.input_size)
        return (self.units,)

    def matmul_flops(self, input_shape: tuple[int, ...]) -> int:
        return input_shape[0] * 2 * (self.input_size + self.units) * 4 * self.units

    def flops(self, input_shape: tuple[int, ...]) -> int:
        # per step: bias (4u), gate activations (4u), c = f*c + i*g (3u), h = o*tanh(c) (2u)
        return self.matmul_flops(input_shape) + input_shape[0] * 13 * self.units

    def workspace_elements(self, input_shape: tuple[int, ...]) -> int:
        return input_shape[0] * 4 * self.units  # every step's input projection

    def init_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        # PyTorch's default: uniform(-1/sqrt(units), 1/sqrt(units)) for every array
        bound = 1.0 / np.sqrt(self.units)
        gates = 4 * self.units
        return {
            "kernel": rng.uniform(-bound, bound, (self.input_size, gates)).astype(np.float32),
            "recurrent_kernel": rng.uniform(-bound, bound, (self.units, gates)).astype(np.float32),
            "bias": rng.uniform(-bound, bound, gates).astype(np.float32),
        }


@dataclass(frozen=True)
class FirstToken(Layer):
    """The first position of a sequence (BERT's pooler input): (length, features) → (features,)."""

    kind: str = field(init=False, default="first_token")

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(input_shape) != 2:
            raise ValueError(f"first_token expects a per-sample (length, features) sequence, got {input_shape}")
        return input_shape[1:]

    def flops(self, input_shape: tuple[int, ...]) -> int:
        return 0

