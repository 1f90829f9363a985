"""BatchNormalization and LayerNormalization against Keras 3 with copied weights."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from harness import check_layer
from keras_ref import jnet_weights, keras_reference, keras_run

import jnet
from jnet import layers

keras = pytest.importorskip("keras")

RS = np.random.RandomState(2)
X = (RS.randn(4, 3, 5) * 3 + 1).astype(np.float32)


def _random_variables(layer, x, key=0):
    """Variables with non-trivial gamma/beta/moving stats, so the comparison means something."""
    v = layer.init(jax.random.key(key), x)
    keys = iter(jax.random.split(jax.random.key(key + 1), 8))
    params = {k: p + 0.3 * jax.random.normal(next(keys), p.shape) for k, p in v["params"].items()}
    state = {k: s + 0.5 * jax.random.uniform(next(keys), s.shape) for k, s in v["state"].items()}
    return {"params": params, "state": state}


@pytest.mark.parametrize(
    "kwargs", [{}, {"axis": 1, "momentum": 0.9, "epsilon": 1e-2}, {"center": False, "scale": False}]
)
def test_batchnorm_inference_matches_keras(kwargs):
    layer = layers.BatchNormalization(**kwargs)
    v = _random_variables(layer, X)
    check_layer(
        layer, X, variables=v, reference=keras_reference(lambda: keras.layers.BatchNormalization(**kwargs), layer)
    )


def test_batchnorm_training_output_and_state_update_match_keras():
    layer = layers.BatchNormalization(momentum=0.8)
    v = _random_variables(layer, X)
    check_layer(
        layer,
        X,
        variables=v,
        training=True,
        reference=keras_reference(lambda: keras.layers.BatchNormalization(momentum=0.8), layer, training=True),
    )
    y, state = layer.apply(v, X, training=True)
    kl = keras.layers.BatchNormalization(momentum=0.8)
    expected = keras_run(kl, X, jnet_weights(layer, v), training=True)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(state["moving_mean"], np.asarray(kl.moving_mean), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state["moving_variance"], np.asarray(kl.moving_variance), rtol=1e-5, atol=1e-6)
    # closed form: batch statistics over every axis but the features
    mean, var = X.mean(axis=(0, 1)), X.var(axis=(0, 1))
    np.testing.assert_allclose(
        state["moving_mean"], 0.8 * np.asarray(v["state"]["moving_mean"]) + 0.2 * mean, rtol=1e-5
    )
    np.testing.assert_allclose(
        state["moving_variance"], 0.8 * np.asarray(v["state"]["moving_variance"]) + 0.2 * var, rtol=1e-5
    )
    # inference leaves the state alone; a frozen layer never updates it (Keras: training and trainable)
    _, same = layer.apply(v, X, training=False)
    jax.tree_util.tree_map(np.testing.assert_array_equal, same, v["state"])
    frozen = layers.BatchNormalization(momentum=0.8, trainable=False)
    y_frozen, st = frozen.apply(v, X, training=True)
    np.testing.assert_allclose(y_frozen, layer.apply(v, X)[0], rtol=1e-6)
    np.testing.assert_array_equal(st["moving_mean"], v["state"]["moving_mean"])


def test_batchnorm_weights_in_keras_order_and_state_in_model():
    layer = layers.BatchNormalization(name="bn")
    model = jnet.Sequential([layers.Dense(5, input_shape=(5,)), layer])
    v = model.current_variables()
    assert set(v["state"]["bn"]) == {"moving_mean", "moving_variance"}
    assert set(v["params"]["bn"]) == {"gamma", "beta"}
    kl = keras.layers.BatchNormalization()
    kl.build((None, 5))
    assert [w.path.split("/")[-1] for w in kl.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    sub = {"params": v["params"]["bn"], "state": v["state"]["bn"]}
    assert [w.shape for w in jnet_weights(layer, sub)] == [(5,)] * 4
    np.testing.assert_array_equal(jnet_weights(layer, sub)[3], np.ones(5))  # moving_variance starts at 1
    x = RS.randn(8, 5).astype(np.float32)
    _, new_state = model.apply(v, x, training=True)
    assert not np.allclose(new_state["bn"]["moving_mean"], v["state"]["bn"]["moving_mean"])


def test_batchnorm_masked_statistics_match_keras():
    x = X.copy()
    mask = np.array([[True, True, False], [True, False, False], [True, True, True], [False, True, True]])
    layer = layers.BatchNormalization()
    v = layer.init(jax.random.key(0), x)
    y, state = layer.apply(v, x, training=True, mask=mask)
    kl = keras.layers.BatchNormalization()
    expected = keras_run(kl, x, jnet_weights(layer, v), training=True, mask=mask)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(state["moving_mean"], np.asarray(kl.moving_mean), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state["moving_mean"], 0.99 * 0 + 0.01 * x[mask].mean(0), rtol=1e-4)


def test_batchnorm_errors_name_layer():
    with pytest.raises(ValueError, match="BatchNormalization 'batch_normalization': momentum must be in"):
        layers.BatchNormalization(momentum=1.5)
    with pytest.raises(ValueError, match="BatchNormalization 'bn': axis 3 is out of range"):
        layers.BatchNormalization(axis=3, name="bn").init(jax.random.key(0), X)
    x = jnet.Input((None,))
    with pytest.raises(ValueError, match="BatchNormalization 'batch_normalization': the feature axis -1 must be known"):
        jnet.Model(x, layers.BatchNormalization()(x)).init(jax.random.key(0))
    layer = layers.BatchNormalization()
    v = layer.init(jax.random.key(0), X)
    with pytest.raises(ValueError, match="BatchNormalization 'batch_normalization': expected 5 features"):
        layer.apply(v, X[..., :4])


@pytest.mark.parametrize(
    "kwargs", [{}, {"axis": [1, 2], "epsilon": 1e-5}, {"axis": 1, "center": False}, {"scale": False}]
)
def test_layernorm_matches_keras(kwargs):
    layer = layers.LayerNormalization(**kwargs)
    v = _random_variables(layer, X)
    check_layer(
        layer, X, variables=v, reference=keras_reference(lambda: keras.layers.LayerNormalization(**kwargs), layer)
    )


def test_layernorm_closed_form_and_rms_scaling():
    layer = layers.LayerNormalization(center=False, scale=False)
    y, _ = layer.apply({}, X)
    expected = (X - X.mean(-1, keepdims=True)) / np.sqrt(X.var(-1, keepdims=True) + 1e-3)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    rms = layers.LayerNormalization(rms_scaling=True)
    v = _random_variables(rms, X)
    assert set(v["params"]) == {"gamma"}
    gamma = np.asarray(v["params"]["gamma"])

    def reference(v, x):
        x = np.asarray(x)
        return x / np.sqrt(np.mean(x * x, -1, keepdims=True) + 1e-3) * gamma

    check_layer(rms, X, variables=v, reference=reference)


def test_layernorm_errors_name_layer():
    with pytest.raises(ValueError, match="LayerNormalization 'layer_normalization': axis must be an int or a list"):
        layers.LayerNormalization(axis="last")
    with pytest.raises(ValueError, match="LayerNormalization 'ln': axis 5 is out of range"):
        layers.LayerNormalization(axis=5, name="ln").init(jax.random.key(0), X)


def test_mixed_precision_computes_in_bfloat16_with_float32_state():
    layer = layers.BatchNormalization(dtype="mixed_bfloat16")
    v = layer.init(jax.random.key(0), X)
    assert v["params"]["gamma"].dtype == jnp.float32 and v["state"]["moving_mean"].dtype == jnp.float32
    y, st = layer.apply(v, X, training=True)
    assert y.dtype == jnp.bfloat16 and st["moving_mean"].dtype == jnp.float32
