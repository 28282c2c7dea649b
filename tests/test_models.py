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


def test_resnet8_is_mlperf_tinys() -> None:
    from benchlib.models import Conv2D, Residual

    spec = get_model("resnet8")
    assert spec.input_shape == (32, 32, 3) and spec.output_shape == (10,) and spec.input_dtype == "float32"
    blocks = [layer for layer in spec.layers if isinstance(layer, Residual)]
    assert [b.body[0].out_channels for b in blocks] == [16, 32, 64]
    assert [b.body[0].stride for b in blocks] == [1, 2, 2]
    # a 1x1 convolution shortcut exactly where the shape changes
    assert [tuple((s.kernel_size, s.stride) for s in b.shortcut) for b in blocks] == [(), ((1, 2),), ((1, 2),)]
    assert isinstance(spec.layers[0], Conv2D) and spec.layers[0].out_channels == 16
    assert spec.layers[-1].activation == "softmax"
    assert spec.parameter_count() == 78_666  # of which 480 are batch-norm moving means and variances


def test_bert_tiny_and_lstm_spam_shapes() -> None:
    bert = get_model("bert_tiny")
    assert bert.input_shape == (128,) and bert.input_dtype == "int64" and bert.output_shape == (2,)
    assert bert.layers[0].vocab_size == 30_522 and bert.layers[0].dim == 128
    kinds = [layer.kind for layer in bert.layers]
    assert kinds.count("layer_norm") == 5 and kinds.count("residual") == 4
    assert all(layer.eps == 1e-12 for layer in bert.layers if layer.kind == "layer_norm")
    lstm = get_model("lstm_spam")
    assert lstm.input_shape == (64,) and lstm.input_dtype == "int64" and lstm.output_shape == (1,)
    assert [layer.kind for layer in lstm.layers] == ["embedding", "lstm", "dense"]
    ids = lstm.random_input(5, seed=0)
    assert ids.dtype == np.int64 and ids.min() >= 0 and ids.max() < 20_000


@pytest.mark.parametrize("name", ["fnn", "resnet8", "bert_tiny", "lstm_spam"])
def test_every_model_is_healthy_and_states_its_tolerance(name: str) -> None:
    spec = get_model(name)
    assert 0 < spec.tolerance <= 1e-4 and len(spec.tolerance_reason) > 20
    assert len(spec.verify_batch_sizes) == 3 and max(spec.batch_sizes) >= max(spec.quick_batch_sizes)
    assert spec.run_batch_sizes == (min(spec.quick_batch_sizes), max(spec.quick_batch_sizes))
    outputs = reference_forward(spec, spec.random_input(16, seed=3))
    assert outputs.shape == (16, *spec.output_shape) and np.all(np.isfinite(outputs))
    assert outputs.std(axis=0).max() > 1e-3  # inputs matter: not a constant function
    if spec.layers[-1].activation in ("sigmoid", "softmax"):
        assert 0.001 < outputs.max() < 0.999  # not saturated


def test_nested_layers_get_their_own_seeded_parameters() -> None:
    spec = get_model("resnet8")
    block = spec.params[5]  # stem conv, BN, ReLU, stack 1, ReLU, stack 2
    assert {"body.0.weight", "body.1.gamma", "body.3.bias", "shortcut.0.weight"} <= set(block)
    assert spec.content_hash == get_model("resnet8").content_hash != get_model("resnet8", seed=1).content_hash


def test_bad_layer_combinations_are_refused() -> None:
    from benchlib.models import Conv2D, Residual, SelfAttention

    with pytest.raises(ValueError, match="residual branches disagree"):
        ModelSpec("bad", (8, 8, 3), (Residual((Conv2D(3, 4, 3, 2, 1),)),))
    with pytest.raises(ValueError, match="conv2d expects a per-sample input of rank 3 with last axis 3"):
        ModelSpec("bad", (8, 8, 2), (Conv2D(3, 4, 3),))
    with pytest.raises(ValueError, match="heads=3 must divide hidden=8"):
        SelfAttention(8, 3)
    with pytest.raises(ValueError, match="tolerance=0.001 of model 'bad' is invalid; allowed: more than 0 and "
                                         "at most 0.0001"):
        ModelSpec("bad", (2,), (Dense(2, 1),), tolerance=1e-3)


def test_memory_estimate_grows_with_the_batch() -> None:
    spec = get_model("resnet8")
    assert spec.memory_estimate_bytes(256) > spec.memory_estimate_bytes(1) > 4 * spec.parameter_count()
