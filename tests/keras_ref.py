"""Keras 3 (JAX backend) as the oracle for layer tests: build a Keras layer on the same input,
copy jnet's weights into it in Keras order, and run it."""

from __future__ import annotations

import jax
import numpy as np


def jnet_weights(layer, variables):
    """jnet's arrays in Keras's order, as numpy."""
    return [np.asarray(w) for w in layer.weights_of(variables)]


def _shapes(inputs):
    if isinstance(inputs, (list, tuple)):
        return [tuple(np.shape(x)) for x in inputs]
    return tuple(np.shape(inputs))


def keras_run(kl, inputs, weights=None, **call_kwargs):
    """Output of Keras layer `kl` on `inputs` after `set_weights(weights)` (when given)."""
    if isinstance(inputs, (list, tuple)):
        inputs = [np.asarray(x) for x in inputs]
    else:
        inputs = np.asarray(inputs)
    # Keras relies on implicit rank promotion, which jnet's tests make an error.
    with jax.numpy_rank_promotion("allow"):
        if weights:
            kl.build(_shapes(inputs))
            kl.set_weights(list(weights))
        return np.asarray(kl(inputs, **call_kwargs))


def keras_reference(make_keras_layer, jnet_layer, **call_kwargs):
    """A `reference(variables, *inputs)` for `check_layer`: the Keras layer with jnet's weights."""

    def reference(variables, *inputs):
        kl = make_keras_layer()
        x = inputs[0] if len(inputs) == 1 else list(inputs)
        return keras_run(kl, x, jnet_weights(jnet_layer, variables), **call_kwargs)

    return reference
