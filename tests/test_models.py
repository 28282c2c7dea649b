"""The model spec: deterministic, healthy weights; shapes; FLOPs; content hash."""

from __future__ import annotations

import numpy as np
import pytest

from benchlib.models import Dense, ModelSpec, get_model, reference_forward


def test_fnn_architecture_matches_the_article() -> None:
    spec = get_model("fnn")
    widths = [spec.layers[0].in_features] + [layer.out_features for layer in spec.layers]
    assert widths == [200, 128, 64, 32, 16, 8, 1]
    assert [layer.activation for layer in spec.layers] == ["relu"] * 5 + ["sigmoid"]
    assert spec.input_shape == (200,) and spec.output_shape == (1,)


def test_weights_are_seeded_float32_and_not_degenerate() -> None:
    first, second, other = get_model("fnn"), get_model("fnn"), get_model("fnn", seed=1)
    for a, b in zip(first.params, second.params, strict=True):
        assert a["weight"].dtype == np.float32 and a["bias"].dtype == np.float32
        np.testing.assert_array_equal(a["weight"], b["weight"])
        assert not np.all(a["weight"] == 1.0) and not np.all(a["weight"] == 0.0)
        assert np.unique(a["weight"]).size > a["weight"].size // 2
    assert not np.array_equal(first.params[0]["weight"], other.params[0]["weight"])
    with pytest.raises(ValueError):
        first.params[0]["weight"][0, 0] = 1.0  # read-only: nobody can change the shared weights


def test_fan_in_scaling_keeps_activations_healthy() -> None:
    spec = get_model("fnn")
    outputs = reference_forward(spec, spec.random_input(2000, seed=3))
    # a healthy sigmoid output is neither saturated nor constant
    assert 0.02 < outputs.mean() < 0.98
    assert outputs.std() > 1e-3


def test_flops_per_sample_counts_matmuls_bias_and_activations() -> None:
    spec = get_model("fnn")
    pairs = [(200, 128), (128, 64), (64, 32), (32, 16), (16, 8), (8, 1)]
    expected = sum(2 * i * o + 2 * o for i, o in pairs)
    assert spec.flops_per_sample() == expected


def test_content_hash_changes_with_weights_and_architecture() -> None:
    base = get_model("fnn")
    assert base.content_hash == get_model("fnn").content_hash
    assert base.content_hash != get_model("fnn", seed=base.seed + 1).content_hash
    smaller = ModelSpec("fnn", (200,), (Dense(200, 1, "sigmoid"),), seed=base.seed)
    assert smaller.content_hash != base.content_hash


def test_bad_specs_are_refused() -> None:
    with pytest.raises(ValueError, match="activation='swish'.*allowed: relu, sigmoid, tanh, gelu, softmax, none"):
        Dense(4, 2, "swish")
    with pytest.raises(ValueError, match="in_features=0"):
        Dense(0, 2)
    with pytest.raises(ValueError, match="expects 3 features"):
        ModelSpec("bad", (2,), (Dense(3, 1),))
    with pytest.raises(ValueError, match="model='resnet' is unknown; allowed: fnn, resnet8, bert_tiny, lstm_spam"):
        get_model("resnet")
