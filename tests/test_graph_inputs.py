"""Graph models as Keras 3 builds them from intermediate tensors, dict arguments in call order,
and Keras's one-axis input-rank fix (what the structured-data examples rely on)."""

import numpy as np
import pytest

import jnet
from jnet import layers


def test_model_on_an_intermediate_tensor_shares_the_layers():
    x = jnet.Input(shape=(4,))
    first, second = layers.Dense(3), layers.Dense(2)
    hidden = first(x)
    full = jnet.Model(x, second(hidden))
    head = jnet.Model(hidden, second(hidden))  # Keras: a fresh Input stands for `hidden`
    assert [type(l).__name__ for l in head.layers] == ["InputLayer", "Dense"] and head.layers[1] is second
    h = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(head(h)), h @ second.kernel.numpy() + second.bias.numpy(), rtol=1e-5)
    xs = np.ones((2, 4), "float32")
    np.testing.assert_allclose(np.asarray(full(xs)), np.asarray(head(np.asarray(first(xs)))), rtol=1e-5)
    other = jnet.Input(shape=(3,))
    with pytest.raises(ValueError, match="not among the model's inputs"):
        jnet.Model(hidden, layers.Add()([second(hidden), second(other)]))


class Concat(layers.Layer):
    def call(self, inputs):
        return layers.concatenate(list(inputs.values()))


def test_dict_argument_keeps_its_order_with_a_cut_input():
    b, a, c = jnet.Input(shape=(1,), name="b"), jnet.Input(shape=(2,), name="a"), jnet.Input(shape=(1,), name="c")
    scale = layers.Rescaling(3.0)
    inputs = {"b": b, "a": a, "c": scale(c)}
    model = jnet.Model(inputs, Concat()(inputs))
    out = model({"b": np.ones((1, 1)), "a": np.zeros((1, 2)), "c": 2 * np.ones((1, 1))})
    # Keras 3 gives [[1, 0, 0, 2]]: the dict in its call order, and "c" fed past the Rescaling.
    np.testing.assert_array_equal(np.asarray(out), [[1.0, 0.0, 0.0, 2.0]])


def test_inputs_one_unit_axis_off_are_fixed_as_in_keras():
    x = jnet.Input(shape=(1,), name="x")
    seq = jnet.Input(shape=(3,), name="seq")
    model = jnet.Model({"x": x, "seq": seq}, layers.Concatenate()([x, seq]))
    flat = {"x": np.array([1.0, 2.0], "float32"), "seq": np.arange(6, dtype="float32").reshape(2, 3, 1)}
    expected = np.concatenate([flat["x"][:, None], flat["seq"][..., 0]], axis=1)
    np.testing.assert_array_equal(model.predict(flat, verbose=0), expected)
    with pytest.raises(ValueError, match="input 'seq'"):
        model.predict({"x": flat["x"], "seq": np.ones((2, 4), "float32")}, verbose=0)
