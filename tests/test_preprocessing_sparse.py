"""`sparse=True` on the preprocessing layers, as Keras 3 on JAX: CategoryEncoding, Discretization
and Hashing return a `jax.experimental.sparse.BCOO` equal to their dense output; the lookup
layers, TextVectorization and HashedCrossing refuse it (Keras allows it on TensorFlow only);
Dense multiplies a BCOO sparsely; in graph models the sparse layer's node computes dense."""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import sparse as jsparse

import jnet

IDS = np.array([[0, 1, 1], [2, 3, 9]], np.int32)  # 9 is out of range: an all-zero contribution


@pytest.mark.parametrize(
    "mode,ids",
    [("one_hot", IDS), ("multi_hot", IDS), ("count", IDS), ("multi_hot", IDS[0]), ("one_hot", IDS[:, :1])],
    ids=["one_hot", "multi_hot", "count", "multi_hot-rank1", "one_hot-trailing1"],
)
def test_category_encoding_sparse_matches_dense(mode, ids):
    dense = jnet.layers.CategoryEncoding(num_tokens=4, output_mode=mode)(ids)
    out = jnet.layers.CategoryEncoding(num_tokens=4, output_mode=mode, sparse=True)(ids)
    assert isinstance(out, jsparse.BCOO)
    assert out.dtype == dense.dtype and out.shape == dense.shape
    np.testing.assert_array_equal(out.todense(), dense)


def test_category_encoding_sparse_count_weights_and_jit():
    layer = jnet.layers.CategoryEncoding(num_tokens=4, output_mode="count", sparse=True)
    w = np.array([[0.5, 1.0, 2.0], [1.0, 3.0, 4.0]], np.float32)
    out = layer(IDS, count_weights=w)
    np.testing.assert_allclose(out.todense(), [[0.5, 3.0, 0, 0], [0, 0, 1.0, 3.0]])
    variables = layer.init(jax.random.key(0), jax.ShapeDtypeStruct(IDS.shape, jnp.int32))
    jitted = jax.jit(lambda x: layer.apply(variables, x)[0])(IDS)
    assert isinstance(jitted, jsparse.BCOO)
    np.testing.assert_array_equal(
        jitted.todense(), jnet.layers.CategoryEncoding(num_tokens=4, output_mode="count")(IDS)
    )


@pytest.mark.parametrize("mode", ["one_hot", "count"])
def test_discretization_and_hashing_sparse_match_dense(mode):
    x = np.array([[-1.0, 0.5, 2.0], [0.5, 0.5, 3.0]], np.float32)
    dense = jnet.layers.Discretization(bin_boundaries=[0.0, 1.0], output_mode=mode)(x)
    out = jnet.layers.Discretization(bin_boundaries=[0.0, 1.0], output_mode=mode, sparse=True)(x)
    assert isinstance(out, jsparse.BCOO)
    np.testing.assert_array_equal(out.todense(), dense)
    for data in (np.array([[1, 2, 7], [3, 3, 4]], np.int32), np.array([["a", "b"], ["c", "a"]])):
        dense = jnet.layers.Hashing(num_bins=5, output_mode=mode)(data)
        out = jnet.layers.Hashing(num_bins=5, output_mode=mode, sparse=True)(data)
        assert isinstance(out, jsparse.BCOO)
        np.testing.assert_array_equal(out.todense(), dense)


@pytest.mark.parametrize(
    "make",
    [
        lambda: jnet.layers.IntegerLookup(sparse=True),
        lambda: jnet.layers.StringLookup(sparse=True),
        lambda: jnet.layers.TextVectorization(sparse=True),
        lambda: jnet.layers.HashedCrossing(num_bins=3, sparse=True),
    ],
    ids=["IntegerLookup", "StringLookup", "TextVectorization", "HashedCrossing"],
)
def test_layers_keras_refuses_sparse_on_jax(make):
    with pytest.raises(ValueError, match=r"sparse=True is not supported.*TensorFlow"):
        make()


@pytest.mark.parametrize(
    "make",
    [
        lambda: jnet.layers.Hashing(num_bins=3, sparse=True),
        lambda: jnet.layers.Discretization(bin_boundaries=[0.0], sparse=True),
    ],
)
def test_sparse_int_mode_refused(make):
    with pytest.raises(ValueError, match=r"sparse=True needs output_mode .* got output_mode='int'"):
        make()


def test_dense_on_sparse_input_matches_dense_and_grads():
    enc = jnet.layers.CategoryEncoding(num_tokens=4, output_mode="one_hot", sparse=True)
    sp = enc(IDS)  # (2, 3, 4): rank 3
    layer = jnet.layers.Dense(2, activation="relu")
    variables = layer.init(jax.random.key(1), jax.ShapeDtypeStruct(sp.shape, jnp.float32))
    y_sparse = layer.apply(variables, sp)[0]
    assert not isinstance(y_sparse, jsparse.JAXSparse)
    np.testing.assert_allclose(y_sparse, layer.apply(variables, sp.todense())[0], rtol=1e-6)
    flat = jsparse.BCSR.fromdense(np.eye(4, dtype=np.float32))  # other formats: densified first
    np.testing.assert_allclose(layer.apply(variables, flat)[0], layer.apply(variables, np.eye(4, dtype=np.float32))[0])

    def loss(params, x):
        return jnp.sum(layer.apply({"params": params, "state": variables["state"]}, x)[0] ** 2)

    g_sparse = jax.jit(jax.grad(loss))(variables["params"], sp)
    g_dense = jax.grad(loss)(variables["params"], sp.todense())
    for a, b in zip(jax.tree_util.tree_leaves(g_sparse), jax.tree_util.tree_leaves(g_dense)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _sparse_model(kind, sparse, mode="count"):
    enc = jnet.layers.CategoryEncoding(num_tokens=4, output_mode=mode, sparse=sparse)
    dense = jnet.layers.Dense(2, kernel_initializer=jnet.initializers.Constant(0.1))
    if kind == "sequential":
        return jnet.Sequential([jnet.Input((3,), dtype="int32"), enc, dense])
    inp = jnet.Input((3,), dtype="int32")
    return jnet.Model(inp, dense(enc(inp)))


@pytest.mark.parametrize("kind,mode", [("sequential", "count"), ("functional", "multi_hot")])
def test_sparse_layer_in_graph_models_fit_predict(kind, mode):
    x = np.array([[0, 1, 1], [2, 3, 3], [1, 1, 0], [3, 2, 0]], np.int32)
    y = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.5, 0.0]], np.float32)
    results = []
    for sparse in (True, False):
        model = _sparse_model(kind, sparse, mode)
        assert model.layers[-2].output.shape == (None, 4)  # the symbolic output is dense
        model.compile(jnet.optimizers.SGD(0.1), "mse")
        hist = model.fit(x, y, epochs=1, batch_size=2, shuffle=False, verbose=0)
        results.append((hist.history["loss"], model.predict(x, verbose=0)))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-6)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-6)


class _Encoded(jnet.Model):
    """A subclassed model: the BCOO passes from the encoder straight into Dense."""

    def __init__(self, sparse):
        super().__init__()
        self.enc = jnet.layers.CategoryEncoding(num_tokens=4, output_mode="count", sparse=sparse)
        self.dense = jnet.layers.Dense(1, kernel_initializer="ones")

    def call(self, x):
        return self.dense(self.enc(x))


def test_subclassed_model_carries_bcoo_through_fit():
    x = np.array([[0, 1, 1], [2, 3, 3]], np.int32)
    preds = []
    for sparse in (True, False):
        model = _Encoded(sparse)
        model.compile(jnet.optimizers.SGD(0.1), "mse")
        model.fit(x, np.ones((2, 1)), epochs=1, batch_size=1, shuffle=False, verbose=0)
        preds.append(model.predict(x, verbose=0))
    np.testing.assert_allclose(preds[0], preds[1], rtol=1e-6)


def test_sparse_hashing_on_string_model_input():
    inp = jnet.Input((), dtype="string")
    model = jnet.Model(
        inp,
        jnet.layers.Dense(1, kernel_initializer="ones")(
            jnet.layers.Hashing(num_bins=4, output_mode="one_hot", sparse=True)(inp)
        ),
    )
    np.testing.assert_allclose(model.predict(np.array(["a", "b", "c"]), verbose=0), np.ones((3, 1)))


def test_config_round_trip_keeps_sparse():
    layer = jnet.layers.CategoryEncoding(num_tokens=4, sparse=True)
    again = jnet.layers.CategoryEncoding.from_config(layer.get_config())
    assert again.sparse is True and isinstance(again(IDS), jsparse.BCOO)


def _keras_dense_on_sparse(mode, kernel, bias, x):
    import keras

    enc = keras.layers.CategoryEncoding(num_tokens=4, output_mode=mode, sparse=True)
    dense = keras.layers.Dense(kernel.shape[1])
    with jax.numpy_rank_promotion("allow"):
        encoded = enc(x)
        assert isinstance(encoded, jsparse.BCOO)
        dense.build(encoded.shape)
        dense.set_weights([kernel, bias])
        return np.asarray(dense(encoded))


@pytest.mark.parametrize("mode", ["one_hot", "count"])
def test_category_encoding_sparse_dense_matches_keras(mode):
    x = np.array([[0, 1, 1], [2, 3, 3]], np.int32)
    enc = jnet.layers.CategoryEncoding(num_tokens=4, output_mode=mode, sparse=True)
    dense = jnet.layers.Dense(3)
    ours = dense(enc(x))
    kernel, bias = (np.asarray(w.value) for w in dense.weights)
    np.testing.assert_allclose(ours, _keras_dense_on_sparse(mode, kernel, bias, x), rtol=1e-6, atol=1e-6)


def test_category_encoding_sparse_model_fit_matches_keras():
    """One SGD epoch of Input -> CategoryEncoding(count, sparse) -> Dense in both libraries
    (Keras's graph carries the BCOO into Dense; jnet's node computes dense: same numbers)."""
    import keras

    x = np.array([[0, 1, 1], [2, 3, 3], [1, 2, 0], [3, 3, 3]], np.int32)
    y = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.5, 0.0]], np.float32)
    ours = _sparse_model("functional", True)
    kernel = np.arange(8, dtype=np.float32).reshape(4, 2) / 10
    bias = np.array([0.1, -0.2], np.float32)
    ours.layers[-1].set_weights([kernel, bias])
    ours.compile(jnet.optimizers.SGD(0.1), "mse")
    ours.fit(x, y, epochs=1, batch_size=2, shuffle=False, verbose=0)

    with jax.numpy_rank_promotion("allow"):
        inp = keras.Input((3,), dtype="int32")
        out = keras.layers.Dense(2)(keras.layers.CategoryEncoding(num_tokens=4, output_mode="count", sparse=True)(inp))
        ref = keras.Model(inp, out)
        ref.layers[-1].set_weights([kernel, bias])
        ref.compile(keras.optimizers.SGD(0.1), "mse")
        ref.fit(x, y, epochs=1, batch_size=2, shuffle=False, verbose=0)
        ref_pred = ref.predict(x, verbose=0)
    for a, b in zip(ours.layers[-1].get_weights(), ref.layers[-1].get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.predict(x, verbose=0), ref_pred, rtol=1e-5, atol=1e-6)
