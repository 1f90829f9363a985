"""Core layers: Activation, Identity, Lambda, Embedding, Masking; activation layers (ReLU,
LeakyReLU, Softmax, ELU, PReLU). Keras 3 is the oracle where it has the layer."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from harness import check_layer
from keras_ref import jnet_weights, keras_reference, keras_run

import jnet
from jnet import activations, layers
from jnet.layers.base import deserialize, serialize

keras = pytest.importorskip("keras")

RS = np.random.RandomState(0)
X = (RS.randn(2, 3, 6) * 2).astype(np.float32)


# --------------------------------------------------------------------------- Activation


def test_activation_every_keras_name_matches_keras():
    # Every name Keras knows resolves in jnet, and the layer computes what Keras computes.
    keras_names = set(keras.src.activations.ALL_OBJECTS_DICT)
    assert keras_names <= set(activations.ALL), sorted(keras_names - set(activations.ALL))
    names = sorted(activations.ALL)
    # One compile per side (eager op-by-op dispatch of ~30 functions is slow on 2 cores).
    ours = jax.jit(lambda x: [layers.Activation(n).apply({}, x)[0] for n in names])(X)

    def keras_fn(n):
        if n == "threshold":  # Keras has no defaults for its arguments; jnet uses 0, 0
            return lambda x: keras.activations.threshold(x, threshold=0.0, default_value=0.0)
        return keras.activations.get(n)

    with jax.numpy_rank_promotion("allow"):
        theirs = jax.jit(lambda x: [keras_fn(n)(x) for n in names])(X)
    for name, y, expected in zip(names, ours, theirs):
        if name == "sparsemax":
            continue  # Keras 3.15's sparsemax is wrong when >1 entry is kept; numpy reference below
        np.testing.assert_allclose(np.asarray(y), np.asarray(expected), rtol=1e-5, atol=1e-5, err_msg=name)


def _numpy_sparsemax(z):
    # Martins & Astudillo (2016): project z onto the simplex.
    out = np.zeros_like(z)
    for idx in np.ndindex(z.shape[:-1]):
        v = z[idx]
        s = np.sort(v)[::-1]
        k = np.arange(1, len(v) + 1)
        cs = np.cumsum(s)
        k_max = k[1 + k * s > cs].max()
        tau = (cs[k_max - 1] - 1) / k_max
        out[idx] = np.maximum(v - tau, 0)
    return out


def test_sparsemax_is_a_simplex_projection():
    y, _ = layers.Activation("sparsemax").apply({}, X)
    np.testing.assert_allclose(y, _numpy_sparsemax(X), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.sum(y, axis=-1), 1.0, rtol=1e-5)
    assert np.sum(np.asarray(y) > 0, axis=-1).max() > 1  # some rows keep several entries


@pytest.mark.parametrize("name", ["relu", "gelu", "softmax"])
def test_activation_harness(name):
    layer = layers.Activation(name)
    check_layer(layer, X, reference=keras_reference(lambda: keras.layers.Activation(name), layer))


def test_activation_callable_and_unknown_name():
    layer = layers.Activation(jnp.tanh)  # jnp.tanh is the registered "tanh": config saves by name
    assert serialize(layer)["config"]["activation"] == "tanh"
    y, _ = layer.apply({}, X)
    np.testing.assert_allclose(y, np.tanh(X), rtol=1e-6)
    with pytest.raises(ValueError, match="Unknown activation 'relux'"):
        layers.Activation("relux")
    unsaved = layers.Activation(lambda x: x * 2)
    with pytest.raises(TypeError, match="cannot be saved as config"):
        serialize(unsaved)


def test_identity_passes_input_and_mask():
    layer = layers.Identity()
    _, y = check_layer(layer, X, reference=lambda v, x: np.asarray(x))
    m = jnp.array([[True, False, True], [True, True, False]])
    assert layer.compute_mask(X, m) is m


# --------------------------------------------------------------------------- Lambda


def square(x):
    return x * x


def square_shape(shape):
    return shape


def first_step_mask(inputs, mask):
    return mask[:, :1]


def test_lambda_harness_and_keras():
    layer = layers.Lambda(jnet.activations.relu)
    check_layer(layer, X, reference=keras_reference(lambda: keras.layers.Lambda(keras.activations.relu), layer))


def test_lambda_config_by_qualified_name_needs_unsafe_mode():
    layer = layers.Lambda(square, output_shape=(3, 6), name="sq")
    config = json.loads(json.dumps(serialize(layer)))
    assert config["config"]["function"] == {"__function__": f"{square.__module__}:square"}
    with pytest.raises(ValueError, match=r"Lambda 'sq'.*safe_mode"):
        deserialize(config)
    clone = deserialize(config, safe_mode=False)
    assert clone.function is square and clone.output_shape == (3, 6)
    # custom_objects is an explicit, safe way to supply the function
    assert deserialize(config, custom_objects={"square": square}).function is square
    y, _ = clone.apply({}, X)
    np.testing.assert_allclose(y, X * X, rtol=1e-6)


def test_lambda_in_a_model_config_round_trip():
    x = jnet.Input((3, 6))
    model = jnet.Model(x, layers.Dense(2)(layers.Lambda(square)(x)))
    config = json.loads(json.dumps(model.get_config()))
    with pytest.raises(ValueError, match="safe_mode"):
        jnet.Model.from_config(config)
    clone = jnet.Model.from_config(config, safe_mode=False)
    v = model.init(jax.random.key(0))
    np.testing.assert_allclose(clone.apply(v, X)[0], model.apply(v, X)[0], rtol=1e-6)


def test_lambda_python_lambda_cannot_be_saved_but_runs():
    layer = layers.Lambda(lambda x, k: x * k, arguments={"k": 3.0})
    y, _ = layer.apply({}, X)
    np.testing.assert_allclose(y, 3 * X, rtol=1e-6)
    with pytest.raises(TypeError, match="lambda or a nested function"):
        layer.get_config()


def test_lambda_output_shape_mismatch_and_mask():
    bad = layers.Lambda(square, output_shape=(4,), name="bad")
    with pytest.raises(ValueError, match=r"Lambda 'bad'.*output_shape says \(2, 4\).*\(2, 3, 6\)"):
        bad.apply({}, X)
    ok = layers.Lambda(square, output_shape=square_shape)
    ok.apply({}, X)
    masked = layers.Lambda(square, mask=first_step_mask)
    m = jnp.array([[True, False, True], [False, True, True]])
    np.testing.assert_array_equal(masked.compute_mask(X, m), m[:, :1])
    assert layers.Lambda(square).compute_mask(X, m) is None  # no mask function: dropped, as Keras


def test_lambda_receives_mask_and_training():
    seen = {}

    def fn(x, mask=None, training=None):
        seen.update(mask=mask, training=training)
        return x

    layers.Lambda(fn).apply({}, X, training=True, mask=jnp.ones((2, 3), bool))
    assert seen["training"] is True and seen["mask"].shape == (2, 3)


# --------------------------------------------------------------------------- Embedding


IDS = np.array([[1, 4, 0, 0], [3, 2, 9, 0]], np.int32)


def test_embedding_matches_keras_and_default_initializer():
    layer = layers.Embedding(10, 3)
    ref = keras_reference(lambda: keras.layers.Embedding(10, 3), layer)
    v, y = check_layer(layer, IDS, reference=ref)
    e = v["params"]["embeddings"]
    assert e.shape == (10, 3)
    # Keras's "uniform": RandomUniform(-0.05, 0.05)
    assert float(jnp.max(jnp.abs(e))) <= 0.05 and float(jnp.std(e)) > 0.01
    np.testing.assert_allclose(y, np.asarray(e)[IDS], rtol=1e-6)


def test_embedding_mask_zero_mask_content():
    layer = layers.Embedding(10, 3, mask_zero=True)
    v = layer.init(jax.random.key(0), IDS)
    np.testing.assert_array_equal(layer.compute_mask(IDS, None), IDS != 0)
    kl = keras.layers.Embedding(10, 3, mask_zero=True)
    keras_run(kl, IDS, jnet_weights(layer, v))
    np.testing.assert_array_equal(np.asarray(kl.compute_mask(IDS)), IDS != 0)
    assert layers.Embedding(10, 3).compute_mask(IDS, None) is None


def test_embedding_float_ids_cast_bad_ids_nan_bad_dtype_errors():
    layer = layers.Embedding(10, 3, name="emb")
    v = layer.init(jax.random.key(0), IDS)
    y_float, _ = layer.apply(v, IDS.astype(np.float32))  # a default float jnet.Input works, as Keras
    y_int, _ = layer.apply(v, IDS)
    np.testing.assert_array_equal(y_float, y_int)
    y_bad, _ = layer.apply(v, np.array([[-1, 10, 2]], np.int32))
    assert np.isnan(y_bad[0, 0]).all() and np.isnan(y_bad[0, 1]).all() and np.isfinite(y_bad[0, 2]).all()
    with pytest.raises(ValueError, match="Embedding 'emb': expected integer token ids, got dtype bool"):
        layer.apply(v, IDS > 0)
    with pytest.raises(ValueError, match="Embedding 'emb': expected integer token ids"):
        layer.init(jax.random.key(0), jax.ShapeDtypeStruct((2, 3), jnp.bool_))
    with pytest.raises(ValueError, match="Embedding 'embedding': input_dim must be a positive integer"):
        layers.Embedding(0, 3)
    with pytest.raises(ValueError, match="output_dim must be a positive integer"):
        layers.Embedding(3, 2.5)


def test_embedding_config_round_trip_keeps_vocabulary():
    layer = layers.Embedding(7, 2, mask_zero=True, name="tok")
    clone = deserialize(json.loads(json.dumps(serialize(layer))))
    assert (clone.input_dim, clone.output_dim, clone.mask_zero, clone.name) == (7, 2, True, "tok")
    assert clone.input_shape is None


class MaskProbe(layers.Layer):
    """Test layer: outputs the mask it receives (1.0 = valid step)."""

    def call(self, x, mask=None):
        if mask is None:  # shape inference runs without masks; -1 marks "no mask"
            return jnp.full(x.shape[:2], -1.0)
        return mask.astype(jnp.float32)


def test_graph_propagates_embedding_mask_through_dense():
    tokens = jnet.Input((None,), dtype="int32", name="tokens")
    h = layers.Embedding(10, 4, mask_zero=True)(tokens)
    h = layers.Dense(3)(h)  # Dense passes masks on, as in Keras
    h = layers.Activation("relu")(h)
    model = jnet.Model(tokens, MaskProbe()(h))
    v = model.init(jax.random.key(0))
    out, _ = jax.jit(model.apply)(v, IDS)
    np.testing.assert_array_equal(out, (IDS != 0).astype(np.float32))


# --------------------------------------------------------------------------- Masking


def test_masking_matches_keras_and_emits_mask():
    x = X.copy()
    x[0, 1] = 0.0
    x[1, 2] = 0.5
    x[1, 2, 0] = 0.0  # only partly equal to mask_value: kept
    for value in (0.0, 0.5):
        layer = layers.Masking(mask_value=value)
        kl = keras.layers.Masking(mask_value=value)
        _, y = check_layer(layer, x, reference=lambda v, x: keras_run(kl, x))
        np.testing.assert_array_equal(layer.compute_mask(x, None), np.asarray(kl.compute_mask(x)))
    np.testing.assert_array_equal(layers.Masking().compute_mask(x, None), [[True, False, True], [True, True, True]])
    model = jnet.Sequential([layers.Masking(input_shape=(3, 6)), MaskProbe()])
    np.testing.assert_array_equal(model(x), [[1, 0, 1], [1, 1, 1]])


# --------------------------------------------------------------------------- activation layers


ACTIVATION_LAYERS = [
    (lambda: layers.ReLU(), lambda: keras.layers.ReLU()),
    (
        lambda: layers.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.5),
        lambda: keras.layers.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.5),
    ),
    (lambda: layers.LeakyReLU(), lambda: keras.layers.LeakyReLU()),
    (lambda: layers.LeakyReLU(negative_slope=0.05), lambda: keras.layers.LeakyReLU(negative_slope=0.05)),
    (lambda: layers.ELU(alpha=0.7), lambda: keras.layers.ELU(alpha=0.7)),
    (lambda: layers.Softmax(), lambda: keras.layers.Softmax()),
    (lambda: layers.Softmax(axis=1), lambda: keras.layers.Softmax(axis=1)),
    (lambda: layers.Softmax(axis=[1, 2]), lambda: keras.layers.Softmax(axis=[1, 2])),
    (lambda: layers.PReLU(alpha_initializer="random_uniform"), lambda: keras.layers.PReLU()),
    (
        lambda: layers.PReLU(alpha_initializer="random_uniform", shared_axes=[1]),
        lambda: keras.layers.PReLU(shared_axes=[1]),
    ),
]


@pytest.mark.parametrize("i", range(len(ACTIVATION_LAYERS)))
def test_activation_layers_match_keras(i):
    make, make_keras = ACTIVATION_LAYERS[i]
    layer = make()
    check_layer(layer, X, reference=keras_reference(make_keras, layer))


def test_activation_layer_defaults_are_keras():
    assert layers.LeakyReLU().negative_slope == keras.layers.LeakyReLU().negative_slope == 0.3
    assert layers.ELU().alpha == 1.0
    v = layers.PReLU(shared_axes=[1]).init(jax.random.key(0), X)
    assert v["params"]["alpha"].shape == (1, 6) and not np.any(v["params"]["alpha"])  # Keras: zeros


def test_softmax_mask_matches_keras():
    mask = np.array([[[True] * 6, [True, False, True, False, True, False], [False] * 6]] * 2)
    layer = layers.Softmax()
    y, _ = layer.apply({}, X, mask=mask)
    expected = keras_run(keras.layers.Softmax(), X, mask=mask)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    assert np.all(np.asarray(y)[~mask] == 0)
    # a broadcastable mask (one per feature)
    feature_mask = np.array([True, True, False, True, False, True])
    y2, _ = layer.apply({}, X, mask=feature_mask)
    np.testing.assert_allclose(y2, keras_run(keras.layers.Softmax(), X, mask=feature_mask), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="Softmax 'softmax': the mask must broadcast"):
        layer.apply({}, X, mask=np.ones((2, 3), bool))


def test_activation_layer_bad_config_names_layer():
    with pytest.raises(ValueError, match="ReLU 're_lu': max_value must be a number >= 0"):
        layers.ReLU(max_value=-1)
    with pytest.raises(ValueError, match="LeakyReLU 'leaky_re_lu': negative_slope"):
        layers.LeakyReLU(negative_slope=-0.1)
    with pytest.raises(ValueError, match="PReLU 'p_re_lu': shared_axes must be ints >= 1"):
        layers.PReLU(shared_axes=[0])
    with pytest.raises(ValueError, match="PReLU 'p_re_lu': axis 1 .* is unknown; add it to shared_axes"):
        layers.PReLU().init(jax.random.key(0), jax.ShapeDtypeStruct((None, None, 4), jnp.float32))
    with pytest.raises(ValueError, match="Softmax 'softmax': axis must be an int"):
        layers.Softmax(axis="last")


def test_compute_mask_mask_argument_is_optional_as_in_keras():
    ids = np.array([[3, 1, 0], [2, 0, 0]])
    emb = jnet.layers.Embedding(5, 2, mask_zero=True)
    np.testing.assert_array_equal(np.asarray(emb.compute_mask(ids)), ids != 0)
    x = np.array([[[1.0], [0.0]]], "float32")
    np.testing.assert_array_equal(np.asarray(jnet.layers.Masking().compute_mask(x)), [[True, False]])
    assert jnet.layers.LSTM(2).compute_mask(x) is None
    assert jnet.layers.Concatenate().compute_mask([x, x]) is None
