"""Keras 3's file formats, both ways: `.weights.h5`, `.keras` and legacy `.h5` written by Keras
load into jnet with the same predictions, and files jnet writes load into Keras."""

import os

import h5py
import jax
import keras
import numpy as np
import pytest

import jnet
from jnet.models.saving import CheckpointError


def _allow():
    """Keras relies on implicit rank promotion, which jnet's tests make an error."""
    return jax.numpy_rank_promotion("allow")


def _predict(model, x, keras_model=False):
    if keras_model:
        with _allow():
            return jax.tree_util.tree_map(np.asarray, model.predict(x, verbose=0))
    return jax.tree_util.tree_map(np.asarray, model.predict(x, verbose=0))


def _keras(build):
    with _allow():
        return build(keras)


def _same_outputs(a, b):
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        _close(x, y)


def _close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-5)


def _sequential_conv(lib):
    A = lib.layers
    return lib.Sequential([lib.Input((6, 6, 3)), A.Conv2D(2, 3), A.BatchNormalization(), A.Flatten(),
                           A.Dense(3, activation="relu"), A.Dense(2)])


def _recurrent_attention(lib):
    A = lib.layers
    inp = lib.Input((4, 6))
    x = A.LSTM(3, return_sequences=True)(inp)
    x = A.GRU(2, return_sequences=True)(x)
    x = A.Bidirectional(A.LSTM(2, return_sequences=True))(x)
    x = A.MultiHeadAttention(2, 3)(x, x)
    x = A.LayerNormalization()(x)
    nested = lib.Sequential([A.Dense(2), A.Dense(2)])
    return lib.Model(inp, nested(x))


def _embedding(lib):
    A = lib.layers
    return lib.Sequential([lib.Input((5,), dtype="int32"), A.Embedding(10, 4), A.SimpleRNN(3), A.Dense(1)])


def _two_inputs(lib):
    A = lib.layers
    a, b = lib.Input((3,), name="a"), lib.Input((2,), name="b")
    h = A.Concatenate()([A.Dense(4, activation="tanh")(a), A.Dense(4)(b)])
    inner_in = lib.Input((8,))
    inner = lib.Model(inner_in, A.Dense(2)(inner_in))
    return lib.Model([a, b], [inner(h), A.Dense(1, activation="sigmoid")(h)])


ARCHS = {"sequential_conv": (_sequential_conv, lambda r: r.randn(2, 6, 6, 3)),
         "recurrent_attention": (_recurrent_attention, lambda r: r.randn(2, 4, 6)),
         "embedding": (_embedding, lambda r: r.randint(0, 10, (2, 5))),
         "two_inputs_nested": (_two_inputs, lambda r: [r.randn(2, 3), r.randn(2, 2)])}


def _data(name):
    x = ARCHS[name][1](np.random.RandomState(0))
    return [a.astype("float32") for a in x] if isinstance(x, list) else (x.astype("float32") if x.dtype.kind == "f" else x.astype("int32"))


def _perturb_batchnorm_stats(model):
    """Non-default moving statistics, so a swapped weight order would show in predictions."""
    for v in model.weights:
        if "moving" in v.path:
            v.assign(np.random.RandomState(1).uniform(0.5, 1.5, v.shape).astype("float32"))


@pytest.mark.parametrize("name", sorted(ARCHS))
def test_weights_h5_from_keras(tmp_path, name):
    km, jm = _keras(ARCHS[name][0]), ARCHS[name][0](jnet)
    with _allow():
        _perturb_batchnorm_stats(km)
        km.save_weights(tmp_path / "k.weights.h5")
    jm.load_weights(tmp_path / "k.weights.h5")
    x = _data(name)
    _same_outputs(_predict(jm, x), _predict(km, x, keras_model=True))


@pytest.mark.parametrize("name", sorted(ARCHS))
def test_weights_h5_to_keras(tmp_path, name):
    km, jm = _keras(ARCHS[name][0]), ARCHS[name][0](jnet)
    jm.build(None)
    _perturb_batchnorm_stats(jm)
    jm.save_weights(tmp_path / "j.weights.h5")
    with h5py.File(tmp_path / "j.weights.h5") as f:  # a real HDF5 file in Keras's layout
        assert "vars" in f
    with _allow():
        km.load_weights(tmp_path / "j.weights.h5")
    x = _data(name)
    _same_outputs(_predict(jm, x), _predict(km, x, keras_model=True))


def test_weights_h5_subclassed_model_both_ways(tmp_path):
    def make(lib):
        A = lib.layers

        class Tower(lib.Model):
            def __init__(self):
                super().__init__()
                self.zeta = A.Dense(2)
                self.alpha = A.Dense(3, activation="relu")
                self.blocks = [A.Dense(3), A.Dense(3)]

            def call(self, x):
                return self.zeta(self.blocks[1](self.blocks[0](self.alpha(x))))

        model = Tower()
        model(np.ones((1, 4), "float32"))
        return model

    km, jm = _keras(make), make(jnet)
    x = np.random.RandomState(0).randn(3, 4).astype("float32")
    km.save_weights(tmp_path / "k.weights.h5")
    jm.load_weights(tmp_path / "k.weights.h5")
    _close(_predict(jm, x), _predict(km, x, keras_model=True))
    jm2 = make(jnet)
    jm2.save_weights(tmp_path / "j.weights.h5")
    km.load_weights(tmp_path / "j.weights.h5")
    _close(_predict(km, x, keras_model=True), _predict(jm2, x))


def test_weights_h5_mismatch_lists_paths_and_keeps_model(tmp_path):
    A = jnet.layers
    small = jnet.Sequential([jnet.Input((3,)), A.Dense(2), A.Dense(1)])
    small.save_weights(tmp_path / "w.weights.h5")
    other = jnet.Sequential([jnet.Input((3,)), A.Dense(4), A.Dense(1)])
    before = [np.asarray(w) for w in other.get_weights()]
    with pytest.raises(CheckpointError) as err:
        other.load_weights(tmp_path / "w.weights.h5")
    assert "layers/dense/vars/0" in str(err.value) and "(3, 4)" in str(err.value) and "(3, 2)" in str(err.value)
    for b, a in zip(before, other.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.warns(UserWarning, match="Skipped 3 mismatched"):
        other.load_weights(tmp_path / "w.weights.h5", skip_mismatch=True)
    np.testing.assert_array_equal(other.get_weights()[3], small.get_weights()[3])  # the one weight that fits loaded


def test_weights_h5_rejects_other_formats(tmp_path):
    model = jnet.Sequential([jnet.Input((3,)), jnet.layers.Dense(2)])
    bad = tmp_path / "x.weights.h5"
    bad.write_bytes(b"PK\x03\x04 not hdf5")
    with pytest.raises(CheckpointError, match="not an HDF5 file"):
        model.load_weights(bad)
    with pytest.raises(CheckpointError, match="does not exist"):
        model.load_weights(tmp_path / "missing.weights.h5")
