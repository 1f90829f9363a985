"""Keras guide "The Sequential model" (keras-io guides/sequential_model.py), ported with
`import jnet as keras`, `from jnet import layers, ops`; the model code is the guide's.
Left out: the transfer-learning section's pretrained Xception (covered with a random-init base in
test_transfer_learning.py)."""

import numpy as np
from guide_util import frameworks, guide_broadcasting, keras_ok  # noqa: F401

JNET, KERAS = frameworks()
keras, layers, ops = JNET


def guide_model(keras, layers, ops):
    return keras.Sequential(
        [
            layers.Dense(2, activation="relu", name="layer1"),
            layers.Dense(3, activation="relu", name="layer2"),
            layers.Dense(4, name="layer3"),
        ]
    )


def test_sequential_equals_chained_layers_and_keras():
    model = guide_model(*JNET)
    x = ops.ones((3, 3))
    y = model(x)
    layer1, layer2, layer3 = (model.get_layer(n) for n in ("layer1", "layer2", "layer3"))
    np.testing.assert_allclose(np.asarray(layer3(layer2(layer1(x)))), np.asarray(y), rtol=1e-6)
    with keras_ok():
        km = guide_model(*KERAS)
        km(np.ones((3, 3), "float32"))
        km.set_weights([np.asarray(w) for w in model.get_weights()])
        np.testing.assert_allclose(np.asarray(y), np.asarray(km(np.ones((3, 3), "float32"))), rtol=1e-5)


def test_layers_add_and_pop():
    model = keras.Sequential([layers.Dense(2, activation="relu"), layers.Dense(3, activation="relu"), layers.Dense(4)])
    assert len(model.layers) == 3
    model = keras.Sequential()
    model.add(layers.Dense(2, activation="relu"))
    model.add(layers.Dense(3, activation="relu"))
    model.add(layers.Dense(4))
    model.pop()
    assert len(model.layers) == 2
    model = keras.Sequential(name="my_sequential")
    model.add(layers.Dense(2, activation="relu", name="layer1"))
    assert model.name == "my_sequential" and model.layers[0].name == "layer1"


def test_weights_created_lazily():
    layer = layers.Dense(3)
    assert layer.weights == []
    x = ops.ones((1, 4))
    layer(x)
    assert [tuple(w.shape) for w in layer.weights] == [(4, 3), (3,)]

    model = keras.Sequential([layers.Dense(2, activation="relu"), layers.Dense(3, activation="relu"), layers.Dense(4)])
    assert not model.weights or not model.built
    x = ops.ones((1, 4))
    model(x)
    assert len(model.weights) == 6


def test_input_object_and_summary(capsys):
    model = keras.Sequential()
    model.add(keras.Input(shape=(4,)))
    model.add(layers.Dense(2, activation="relu"))
    model.summary()
    assert "Total params: 10" in capsys.readouterr().out.replace(",", "")
    assert len(model.layers) == 1


def test_common_debugging_workflow_add_and_summary(capsys):
    model = keras.Sequential()
    model.add(keras.Input(shape=(250, 250, 3)))
    model.add(layers.Conv2D(32, 5, strides=2, activation="relu"))
    model.add(layers.Conv2D(32, 3, activation="relu"))
    model.add(layers.MaxPooling2D(3))
    model.summary()
    model.add(layers.Conv2D(32, 3, activation="relu"))
    model.add(layers.Conv2D(32, 3, activation="relu"))
    model.add(layers.MaxPooling2D(3))
    model.add(layers.Conv2D(32, 3, activation="relu"))
    model.add(layers.Conv2D(32, 3, activation="relu"))
    model.add(layers.MaxPooling2D(2))
    model.summary()
    model.add(layers.GlobalMaxPooling2D())
    model.add(layers.Dense(10))
    out = capsys.readouterr().out
    assert "(None, 40, 40, 32)" in out and "(None, 4, 4, 32)" in out
    assert model.output_shape == (None, 10)


def test_feature_extraction_with_sequential():
    initial_model = keras.Sequential(
        [
            keras.Input(shape=(250, 250, 3)),
            layers.Conv2D(32, 5, strides=2, activation="relu"),
            layers.Conv2D(32, 3, activation="relu"),
            layers.Conv2D(32, 3, activation="relu"),
        ]
    )
    feature_extractor = keras.Model(
        inputs=initial_model.inputs, outputs=[layer.output for layer in initial_model.layers]
    )
    x = ops.ones((1, 250, 250, 3))
    features = feature_extractor(x)
    assert [tuple(f.shape) for f in features] == [(1, 123, 123, 32), (1, 121, 121, 32), (1, 119, 119, 32)]

    initial_model = keras.Sequential(
        [
            keras.Input(shape=(250, 250, 3)),
            layers.Conv2D(32, 5, strides=2, activation="relu"),
            layers.Conv2D(32, 3, activation="relu", name="my_intermediate_layer"),
            layers.Conv2D(32, 3, activation="relu"),
        ]
    )
    feature_extractor = keras.Model(
        inputs=initial_model.inputs, outputs=initial_model.get_layer(name="my_intermediate_layer").output
    )
    features = feature_extractor(x)
    assert tuple(features.shape) == (1, 121, 121, 32)
    np.testing.assert_allclose(
        np.asarray(features), np.asarray(initial_model.layers[1](initial_model.layers[0](x))), rtol=1e-5
    )
