"""Keras's top-level names: the classes, InputSpec checks, StatelessScope."""

import numpy as np
import pytest

import jnet
from jnet import layers


def test_top_level_classes_are_jnets():
    assert jnet.Layer is layers.Layer and jnet.Variable is jnet.core.Variable
    assert issubclass(jnet.layers.Dense, jnet.Layer) and isinstance(jnet.Input((2,)), jnet.KerasTensor)
    assert isinstance(jnet.losses.MeanSquaredError(), jnet.Loss) and isinstance(jnet.metrics.Mean(), jnet.Metric)
    assert isinstance(jnet.optimizers.Adam(), jnet.Optimizer) and isinstance(jnet.regularizers.L2(), jnet.Regularizer)
    assert isinstance(jnet.initializers.Zeros(), jnet.Initializer) and jnet.DTypePolicy("float32").name == "float32"


class Conv4D(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.input_spec = jnet.InputSpec(ndim=4, axes={-1: 3})

    def call(self, x):
        return x


def test_input_spec_is_checked_on_every_call():
    layer = Conv4D()
    assert layer(np.ones((1, 2, 2, 3))).shape == (1, 2, 2, 3)
    with pytest.raises(ValueError, match=r"Conv4D 'conv4d': its input must have rank 4, got shape \(None, 2\)"):
        layer(jnet.Input((2,)))
    with pytest.raises(ValueError, match=r"axis -1 of its input must have size 3, got shape \(None, 2, 2, 5\)"):
        layer(jnet.Input((2, 2, 5)))


def test_stateless_scope_binds_values_and_records_assignments():
    dense = layers.Dense(2, use_bias=False)
    x = np.ones((1, 3), np.float32)
    dense(x)
    kernel = dense.kernel.numpy().copy()
    with jnet.StatelessScope(state_mapping=[(dense.kernel, np.zeros((3, 2), np.float32))]) as scope:
        np.testing.assert_array_equal(dense(x), np.zeros((1, 2)))
        dense.kernel.assign(np.ones((3, 2), np.float32))
        np.testing.assert_array_equal(scope.get_current_value(dense.kernel), np.ones((3, 2)))
    np.testing.assert_array_equal(dense.kernel.numpy(), kernel)  # the variable itself never changed
