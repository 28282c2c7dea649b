"""Keras 3 factories for the Keras-factory tests (imported by name in each process, under each Keras backend)."""

from __future__ import annotations

import keras


def cnn() -> keras.Model:
    """A small CNN for 16x16 RGB images: two conv blocks (batch norm, pooling), global pooling, 10 logits."""
    keras.utils.set_random_seed(0)  # a fixed architecture; benchlib copies the TensorFlow build's weights anyway
    inputs = keras.Input((16, 16, 3), name="image")
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(10)(x), name="tiny_cnn")


def text() -> keras.Model:
    """Token ids (12 per sample, 50-word vocabulary) → embedding → LSTM → 3 class scores."""
    keras.utils.set_random_seed(0)
    ids = keras.Input((12,), dtype="int32", name="ids")
    x = keras.layers.Embedding(50, 8)(ids)
    x = keras.layers.LSTM(8)(x)
    return keras.Model(ids, keras.layers.Dense(3, activation="softmax")(x), name="tiny_text")


def attention() -> keras.Model:
    """Two named inputs (token ids and a float feature per token) → embedding plus attention → one score."""
    keras.utils.set_random_seed(0)
    ids = keras.Input((10,), dtype="int32", name="ids")
    weights = keras.Input((10, 1), name="weights")
    x = keras.layers.Embedding(40, 8)(ids) * weights
    x = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)(x, x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model({"ids": ids, "weights": weights}, keras.layers.Dense(1)(x), name="tiny_attention")


def not_a_model() -> keras.layers.Layer:
    return keras.layers.Dense(3)


def no_shape() -> keras.Model:
    """A Sequential model with no Input: Keras knows its shape only once it is called."""
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.layers.Dense(4), keras.layers.Dense(2)])


def dynamic_length() -> keras.Model:
    """Sequences of any length: the per-sample shape has a None."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, 4), name="frames")
    return keras.Model(inputs, keras.layers.GlobalAveragePooling1D()(keras.layers.Dense(3)(inputs)))


class TensorFlowOnly(keras.layers.Layer):
    """A custom layer calling TensorFlow directly: it runs under Keras's TensorFlow backend only."""

    def call(self, x):  # noqa: ANN001, ANN201 - Keras's signature
        import tensorflow as tf

        return tf.nn.relu(x) + tf.constant(1.0)


def tensorflow_layer() -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,), name="x")
    return keras.Model(inputs, keras.layers.Dense(2)(TensorFlowOnly(name="tf_only")(inputs)))


def backend_dependent() -> keras.Model:
    """A different architecture under each backend: its weights cannot be the TensorFlow build's."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,), name="x")
    width = 4 if keras.backend.backend() == "tensorflow" else 5
    return keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Dense(width)(inputs)))
