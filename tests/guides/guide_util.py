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


def _paired_layers(jnet_model, keras_model):
    """Layers paired by name when both models list the same names (Keras orders a multi-branch
    graph's layers by depth, jnet by creation), else None."""
    jl = {l.name: l for l in getattr(jnet_model, "layers", [])}
    kl = {l.name: l for l in getattr(keras_model, "layers", [])}
    if jl and set(jl) == set(kl) and len(jl) == len(jnet_model.layers):
        return [(jl[n], kl[n]) for n in kl]
    return None


def copy_weights(jnet_model, keras_model):
    """Keras model gets jnet's weights, layer by layer (by name) or in Keras's order."""
    pairs = _paired_layers(jnet_model, keras_model) or [(jnet_model, keras_model)]
    for j, k in pairs:
        jw = [np.asarray(w) for w in j.get_weights()]
        kw = k.get_weights()
        assert [w.shape for w in jw] == [w.shape for w in kw], (j.name, k.name)
        k.set_weights(jw)


def assert_same_weights(jnet_model, keras_model, rtol=1e-4, atol=1e-5):
    pairs = _paired_layers(jnet_model, keras_model) or [(jnet_model, keras_model)]
    for j, k in pairs:
        for a, b in zip(j.get_weights(), k.get_weights()):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol, err_msg=j.name)


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


def fit_both(make_model, compile_kwargs, x, y, fit_kwargs, rtol=1e-4, atol=1e-5, weights_atol=None):
    """Build the guide's model with jnet and with Keras, copy jnet's initial weights into Keras,
    compile both the same way, fit without shuffling, and compare loss history and final weights.
    `make_model(keras, layers, ops)` builds one model; `compile_kwargs(keras)` gives compile()'s
    arguments. Returns (jnet_model, keras_model, jnet_history, keras_history)."""
    jnet_fw, keras_fw = frameworks()
    # Same uid counters on both sides, so layers get the same default names.
    jnet_fw[0].backend.clear_session(free_memory=False)
    keras_fw[0].backend.clear_session()
    jm = make_model(*jnet_fw)
    with keras_ok():
        km = make_model(*keras_fw)
        copy_weights(jm, km)
    jm.compile(**compile_kwargs(jnet_fw[0]))
    km.compile(**compile_kwargs(keras_fw[0]))
    fit_kwargs = dict(fit_kwargs, shuffle=False, verbose=0)
    jh = jm.fit(x, y, **fit_kwargs).history
    with keras_ok():
        kh = km.fit(x, y, **fit_kwargs).history
    for key in kh:
        np.testing.assert_allclose(jh[key], kh[key], rtol=rtol, atol=atol, err_msg=key)
    assert_same_weights(jm, km, rtol, atol if weights_atol is None else weights_atol)
    return jm, km, jh, kh
