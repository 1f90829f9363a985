"""Keras guide "Save, serialize, and export models" (keras-io guides/serialization_and_saving.py),
ported with `import jnet as keras`, `from jnet import layers, ops`; model and custom-object code
is the guide's. The `.keras` zip format is replaced by jnet's own (`model.save("x.jnet")`) and
`.weights.h5` by jnet's weights file. Left out: `model.export()` (TF SavedModel) and the
h5 weights-file inspection section."""

import numpy as np
import pytest
from guide_util import frameworks, guide_broadcasting, keras_ok  # noqa: F401

JNET, KERAS = frameworks()
keras, layers, ops = JNET


def get_model():
    # Create a simple model.
    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1)(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(), loss="mean_squared_error")
    return model


def test_save_and_load_whole_model(tmp_path):
    model = get_model()
    rng = np.random.default_rng(0)
    test_input = rng.random((16, 32)).astype("float32")
    test_target = rng.random((16, 1)).astype("float32")
    model.fit(test_input, test_target, verbose=0)
    path = str(tmp_path / "my_model.jnet")
    model.save(path)
    reconstructed_model = keras.models.load_model(path)
    np.testing.assert_allclose(model.predict(test_input, verbose=0), reconstructed_model.predict(test_input, verbose=0))
    # The optimizer state came along: one more step gives the same weights on both.
    model.fit(test_input, test_target, verbose=0, shuffle=False)
    reconstructed_model.fit(test_input, test_target, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), reconstructed_model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@keras.saving.register_keras_serializable(package="my_package", name="custom_fn")
def custom_fn(x):
    return x**2


@keras.saving.register_keras_serializable(package="my_package")
class CustomLayer(keras.layers.Layer):
    def __init__(self, sublayer, **kwargs):
        super().__init__(**kwargs)
        self.sublayer = sublayer

    def call(self, x):
        return self.sublayer(x)

    def get_config(self):
        base_config = super().get_config()
        config = {"sublayer": keras.saving.serialize_keras_object(self.sublayer)}
        return {**base_config, **config}

    @classmethod
    def from_config(cls, config):
        sublayer_config = config.pop("sublayer")
        sublayer = keras.saving.deserialize_keras_object(sublayer_config)
        return cls(sublayer, **config)


@keras.saving.register_keras_serializable(package="my_package")
class CustomModel(keras.Model):
    def __init__(self, hidden_units, **kwargs):
        super().__init__(**kwargs)
        self.hidden_units = hidden_units
        self.dense_layers = [keras.layers.Dense(u) for u in hidden_units]

    def call(self, inputs):
        x = inputs
        for layer in self.dense_layers:
            x = layer(x)
        return x

    def get_config(self):
        base_config = super().get_config()
        config = {"hidden_units": self.hidden_units}
        return {**base_config, **config}


def test_custom_objects_registered_round_trip(tmp_path):
    model = CustomModel([16, 16, 10])
    input_data = np.random.default_rng(0).random((8, 32)).astype("float32")
    pred = model(input_data)
    model.save(str(tmp_path / "custom_model.jnet"))
    reconstructed_model = keras.models.load_model(str(tmp_path / "custom_model.jnet"))
    np.testing.assert_allclose(np.asarray(pred), reconstructed_model.predict(input_data, verbose=0), rtol=1e-5)

    inputs = keras.Input(shape=(4,))
    mid = CustomLayer(keras.layers.Dense(3))(inputs)
    outputs = keras.layers.Dense(2, activation=custom_fn)(mid)
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(1).random((2, 4)).astype("float32")
    model.save(str(tmp_path / "functional.jnet"))
    loaded = keras.models.load_model(str(tmp_path / "functional.jnet"))
    np.testing.assert_allclose(np.asarray(model(x)), np.asarray(loaded(x)), rtol=1e-6)


def test_custom_objects_via_argument_and_scope(tmp_path):
    class CustomLayerUnregistered(keras.layers.Layer):
        def __init__(self, factor, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    def unregistered_fn(x):
        return x + 1.0

    inputs = keras.Input(shape=(4,))
    mid = CustomLayerUnregistered(0.5)(inputs)
    outputs = keras.layers.Dense(3, activation=unregistered_fn)(mid)
    model = keras.Model(inputs, outputs)
    config = model.get_config()
    objects = {"CustomLayerUnregistered": CustomLayerUnregistered, "unregistered_fn": unregistered_fn}
    new_model = keras.Model.from_config(config, custom_objects=objects)
    with keras.saving.custom_object_scope(objects):
        scoped_model = keras.Model.from_config(config)
    path = str(tmp_path / "m.jnet")
    model.save(path)
    loaded = keras.models.load_model(path, custom_objects=objects)
    x = np.ones((2, 4), "float32")
    new_model.set_weights(model.get_weights())
    scoped_model.set_weights(model.get_weights())
    for m in (new_model, scoped_model, loaded):
        np.testing.assert_allclose(np.asarray(m(x)), np.asarray(model(x)), rtol=1e-6)
    # The function is saved by name, as Keras saves it, and is not found without custom objects.
    import keras as real_keras

    with keras_ok():
        keras_form = real_keras.layers.Dense(3, activation=unregistered_fn).get_config()["activation"]
    dense_config = model.layers[-1].get_config()
    assert dense_config["activation"] == keras_form
    with pytest.raises(ValueError, match="unregistered_fn"):
        keras.layers.Dense.from_config(dense_config)


def test_config_json_and_clone():
    layer = keras.layers.Dense(3, activation="relu")
    layer_config = layer.get_config()
    new_layer = keras.layers.Dense.from_config(layer_config)
    assert new_layer.get_config() == layer_config

    model = keras.Sequential([keras.Input((32,)), keras.layers.Dense(1)])
    config = model.get_config()
    new_model = keras.Sequential.from_config(config)
    assert new_model.output_shape == (None, 1)

    inputs = keras.Input((32,))
    outputs = keras.layers.Dense(1)(inputs)
    model = keras.Model(inputs, outputs)
    config = model.get_config()
    new_model = keras.Model.from_config(config)
    json_config = model.to_json()
    new_model = keras.models.model_from_json(json_config)
    assert new_model.count_params() == 33


def test_jnet_model_json_loads_in_keras():
    inputs = keras.Input((32,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    import keras as real_keras

    with keras_ok():
        k_model = real_keras.models.model_from_json(model.to_json())
    assert k_model.count_params() == 33
    # Compiled, and the other way round: Keras's JSON loads in jnet.
    model.compile(optimizer="adam", loss="mse")
    with keras_ok():
        k_model = real_keras.models.model_from_json(model.to_json())
        assert k_model.compiled and k_model.loss == "mse"
        k_json = k_model.to_json()
    back = keras.models.model_from_json(k_json)
    assert back.count_params() == 33 and back.compiled and back.output_shape == (None, 1)


def test_clone_model():
    inputs = keras.Input((32,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    new_model = keras.models.clone_model(model)
    assert new_model.count_params() == 33 and new_model is not model
    # Fresh weights, same architecture.
    assert not np.allclose(new_model.get_weights()[0], model.get_weights()[0])


def test_transfer_weights_between_layers_and_models(tmp_path):
    def create_layer():
        layer = keras.layers.Dense(64, activation="relu", name="dense_2")
        layer.build((None, 784))
        return layer

    layer_1 = create_layer()
    layer_2 = create_layer()
    layer_2.set_weights(layer_1.get_weights())
    for a, b in zip(layer_1.get_weights(), layer_2.get_weights()):
        np.testing.assert_array_equal(a, b)

    inputs = keras.Input(shape=(784,), name="digits")
    x = keras.layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = keras.layers.Dense(64, activation="relu", name="dense_2")(x)
    outputs = keras.layers.Dense(10, name="predictions")(x)
    functional_model = keras.Model(inputs=inputs, outputs=outputs, name="3_layer_mlp")

    class SubclassedModel(keras.Model):
        def __init__(self, output_dim, name=None):
            super().__init__(name=name)
            self.output_dim = output_dim
            self.dense_1 = keras.layers.Dense(64, activation="relu", name="dense_1")
            self.dense_2 = keras.layers.Dense(64, activation="relu", name="dense_2")
            self.dense_3 = keras.layers.Dense(output_dim, name="predictions")

        def call(self, inputs):
            x = self.dense_1(inputs)
            x = self.dense_2(x)
            x = self.dense_3(x)
            return x

    subclassed_model = SubclassedModel(10)
    subclassed_model(np.ones((1, 784)))
    subclassed_model.set_weights(functional_model.get_weights())
    x = np.random.default_rng(0).random((2, 784)).astype("float32")
    np.testing.assert_allclose(np.asarray(subclassed_model(x)), np.asarray(functional_model(x)), rtol=1e-5)

    # Weights-only saving (jnet's weights file in place of .weights.h5).
    path = str(tmp_path / "my_model.weights.jnet")
    functional_model.save_weights(path)
    other = keras.models.clone_model(functional_model)
    other.load_weights(path)
    np.testing.assert_allclose(np.asarray(other(x)), np.asarray(functional_model(x)), rtol=1e-6)
