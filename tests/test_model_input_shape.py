"""`Model.input_shape`: the input's shape with the batch axis (a list for several inputs), as
Keras's Functional and Sequential models give it (keras.io's PixelCNN example sizes its samples
with `pixel_cnn.input_shape[1:]`); None until the model knows its inputs."""

import numpy as np
import pytest

import jnet
from jnet import layers

keras = pytest.importorskip("keras")


def _models(k):
    i = k.Input((6, 6, 1))
    functional = k.Model(i, k.layers.Conv2D(2, 1)(i))
    a, b = k.Input((3,)), k.Input((4,), name="b")
    two_inputs = k.Model([a, b], k.layers.Concatenate()([a, b]))
    sequential = k.Sequential([k.Input((5,)), k.layers.Dense(2)])
    declared = k.Sequential([k.layers.Dense(2, input_shape=(7,))])
    return functional, two_inputs, sequential, declared


@pytest.mark.filterwarnings("ignore:Do not pass an")
def test_input_shape_matches_keras():
    for model, kmodel in zip(_models(jnet), _models(keras)):
        assert model.input_shape == kmodel.input_shape
        assert model.output_shape == kmodel.output_shape


def test_input_shape_before_and_after_build():
    model = jnet.Sequential([layers.Dense(2)])
    assert model.input_shape is None
    model(np.ones((1, 4), "float32"))
    assert model.input_shape == (None, 4)
    # A nested model as the first layer declares no input of its own (built on data, as before).
    inner = jnet.Sequential([jnet.Input((3,)), layers.Dense(2)])
    outer = jnet.Sequential([inner, layers.Dense(1)])
    assert outer(np.ones((2, 3), "float32")).shape == (2, 1)
    assert outer.input_shape == (None, 3)
