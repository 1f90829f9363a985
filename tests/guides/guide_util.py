"""Shared helpers for the ported Keras guides: run the same guide code on jnet and on Keras 3
(JAX backend), with jnet's weights copied into the Keras model."""

import contextlib

import jax
import numpy as np
import pytest


def frameworks():
    """(keras, layers, ops) for jnet and for Keras 3: the guide code takes them as arguments so the
    exact same lines run on both (the guide's `import keras` becomes `import jnet as keras`)."""
    import keras
    from keras import layers as klayers
    from keras import ops as kops

    import jnet
    from jnet import layers, ops

    return (jnet, layers, ops), (keras, klayers, kops)


@contextlib.contextmanager
def keras_ok():
    """Keras relies on implicit rank promotion, which jnet's tests turn into an error."""
    with jax.numpy_rank_promotion("allow"):
        yield


def copy_weights(jnet_model, keras_model):
    """Keras model gets jnet's weights, in Keras's order (shapes checked one by one)."""
    jw = [np.asarray(w) for w in jnet_model.get_weights()]
    kw = keras_model.get_weights()
    assert [w.shape for w in jw] == [w.shape for w in kw]
    keras_model.set_weights(jw)


def rng_data(*shapes, seed=0, dtype="float32"):
    rng = np.random.default_rng(seed)
    return [rng.random(s).astype(dtype) for s in shapes]


@pytest.fixture(autouse=True)
def guide_broadcasting():
    """Guide code broadcasts the numpy way (`x @ w + b`), as Keras users write it: the ported
    guides run with rank promotion allowed (tests/conftest.py makes it an error elsewhere, to catch
    jnet's own shape bugs). Test modules import this fixture to turn it on."""
    with jax.numpy_rank_promotion("allow"):
        yield
