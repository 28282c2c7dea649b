"""JAX's and TensorFlow/Keras's reduced precisions (bf16 only: neither has a maintained INT8 path here).

* JAX ``bf16``: every float parameter cast to bfloat16 once at build, float inputs cast inside the
  jitted function, the output cast back to float32: XLA computes the whole graph in bf16.
* Keras ``bf16``: the ``mixed_bfloat16`` policy while the model is built (variables float32, layer
  arithmetic bf16, Keras's mixed-precision mechanism), the output cast to float32 inside the
  ``tf.function``; the global policy is restored after the build.
"""

from __future__ import annotations

from typing import Any

JAX_METHODS = {
    "fp32": "float32 parameters and arithmetic",
    "bf16": "parameters cast to bfloat16 at build, float inputs cast inside jit, output cast to float32",
}
JAX_SKIPS = {
    "int8-dynamic": "no maintained INT8 inference library for JAX on CPU works with the pinned stack (AQT and Qwix "
                    "target TPU/GPU training; XLA:CPU has no INT8 dot fusion)",
    "int8-static": "no maintained INT8 inference library for JAX on CPU works with the pinned stack (AQT and Qwix "
                   "target TPU/GPU training; XLA:CPU has no INT8 dot fusion)",
}
KERAS_METHODS = {
    "fp32": "float32 policy",
    "bf16": "Keras mixed_bfloat16 policy at build (float32 variables, bf16 arithmetic), output cast to float32",
}
KERAS_SKIPS = {
    "int8-dynamic": "TensorFlow's INT8 path is the LiteRT converter (a separate runtime), not Keras",
    "int8-static": "TensorFlow's INT8 path is the LiteRT converter (a separate runtime), not Keras",
}


def jax_bf16(jax: Any, params: Any, forward: Any) -> tuple[Any, Any]:
    """``(params, forward)`` computing in bfloat16: float leaves cast once, inputs cast in, float32 out."""
    jnp = jax.numpy

    def cast(leaf: Any) -> Any:
        return leaf.astype(jnp.bfloat16) if jnp.issubdtype(leaf.dtype, jnp.floating) else leaf

    def forward_bf16(p: Any, x: Any) -> Any:
        x = x.astype(jnp.bfloat16) if jnp.issubdtype(x.dtype, jnp.floating) else x
        return forward(p, x).astype(jnp.float32)

    return jax.tree_util.tree_map(cast, params), forward_bf16


def build_keras_bf16(build: Any, spec: Any) -> Any:
    """``build(spec)`` under the ``mixed_bfloat16`` policy, the previous global policy restored afterwards."""
    import keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        return build(spec)
    finally:
        keras.mixed_precision.set_global_policy(previous)
