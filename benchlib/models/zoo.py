"""The models benchlib knows by name."""

from __future__ import annotations

from collections.abc import Callable

from benchlib.models.spec import Dense, ModelSpec

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
    )


MODELS: dict[str, Callable[..., ModelSpec]] = {"fnn": fnn}


def get_model(name: str, seed: int = DEFAULT_SEED) -> ModelSpec:
    """Return the spec registered as ``name``; unknown names list the valid ones."""
    try:
        factory = MODELS[name]
    except KeyError:
        raise ValueError(f"model={name!r} is unknown; allowed: {', '.join(sorted(MODELS))}") from None
    return factory(seed=seed)
