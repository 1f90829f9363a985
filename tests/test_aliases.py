"""Keras's lowercase aliases: activations, initializers, regularizers and metric functions."""

import keras
import numpy as np
import pytest

from jnet import activations, initializers, metrics, regularizers

X = np.linspace(-3, 3, 7, dtype="float32")


@pytest.mark.parametrize(
    "name",
    [
        "celu",
        "exponential",
        "hard_swish",
        "log_sigmoid",
        "relu6",
        "selu",
        "sigmoid",
        "silu",
        "softplus",
        "softsign",
        "swish",
        "tanh",
    ],
)
def test_activation_attributes_match_keras(name):
    np.testing.assert_allclose(getattr(activations, name)(X), getattr(keras.activations, name)(X), rtol=1e-6)
    assert activations.deserialize(activations.serialize(getattr(activations, name))) is getattr(activations, name)


def test_activation_deserialize_rejects_unknown():
    with pytest.raises(ValueError, match="nope"):
        activations.deserialize("nope")


@pytest.mark.parametrize(
    "name",
    [
        "zeros",
        "ones",
        "constant",
        "random_normal",
        "random_uniform",
        "truncated_normal",
        "variance_scaling",
        "glorot_uniform",
        "glorot_normal",
        "he_uniform",
        "he_normal",
        "lecun_uniform",
        "lecun_normal",
        "orthogonal",
        "identity",
    ],
)
def test_initializer_aliases_are_the_classes(name):
    cls = getattr(initializers, name)
    assert cls is initializers.get(name).__class__
    init = cls()
    again = initializers.deserialize(initializers.serialize(init))
    assert type(again) is type(init) and again.get_config() == init.get_config()
    assert initializers.IdentityInitializer is initializers.Identity


def test_initializer_deserialize_matches_keras_config():
    cfg = keras.initializers.serialize(keras.initializers.GlorotUniform(seed=3))
    init = initializers.deserialize({"class_name": cfg["class_name"], "config": {"seed": cfg["config"]["seed"]}})
    assert isinstance(init, initializers.GlorotUniform) and init.seed == 3


@pytest.mark.parametrize("make", [lambda m: m.l1(0.1), lambda m: m.l2(0.2), lambda m: m.l1_l2(0.1, 0.3)])
def test_regularizer_aliases_match_keras(make):
    w = np.float32([[1.0, -2.0], [0.5, 3.0]])
    np.testing.assert_allclose(make(regularizers)(w), make(keras.regularizers)(w), rtol=1e-6)
    reg = make(regularizers)
    assert regularizers.deserialize(regularizers.serialize(reg)).get_config() == reg.get_config()


@pytest.mark.parametrize(
    "name",
    [
        "mean_squared_error",
        "mean_absolute_error",
        "mean_absolute_percentage_error",
        "mean_squared_logarithmic_error",
        "hinge",
        "squared_hinge",
        "log_cosh",
        "kl_divergence",
        "poisson",
        "binary_crossentropy",
        "categorical_crossentropy",
    ],
)
def test_metric_functions_match_keras(name):
    y_true = np.float32([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    y_pred = np.float32([[0.2, 0.7, 0.1], [0.5, 0.3, 0.2]])
    np.testing.assert_allclose(
        getattr(metrics, name)(y_true, y_pred), getattr(keras.metrics, name)(y_true, y_pred), rtol=1e-5
    )
