"""Keras's serialization surface: `serialize_keras_object` / `deserialize_keras_object`, custom
objects through scopes and registration, family serialize / deserialize / get, configs written
by Keras 3 itself, `model.to_json` / `model_from_json`."""

import json

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest

import jnet
from jnet import activations, constraints, initializers, layers, losses, metrics, optimizers, regularizers
from jnet.saving import (
    custom_object_scope,
    deserialize_keras_object,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
    serialize_keras_object,
)

W = np.array([[0.5, -1.0, 2.0], [-0.25, 3.0, 0.1]], np.float32)


def json_round_trip(config):
    return json.loads(json.dumps(config))


# --------------------------------------------------------------------------- custom objects


class ScaledOnes(jnet.initializers.Initializer):
    """An unregistered custom initializer: found only through custom_objects or a scope."""

    scale: float = 1.0

    def __call__(self, key, shape, dtype=jnp.float32):
        return self.scale * jnp.ones(shape, dtype)


@register_keras_serializable(package="test_serial")
class SumSquares(jnet.regularizers.Regularizer):
    """A registered custom regularizer class."""

    factor: float = 0.5

    def __call__(self, x):
        return self.factor * jnp.sum(jnp.square(x))


@jnet.utils.register_keras_serializable(package="test_serial", name="twice_tanh")
def twice_tanh(x):
    return 2.0 * jnp.tanh(x)


def cube(x):
    return x * x * x


# --------------------------------------------------------------------------- names


def test_names_exist_where_keras_has_them():
    for mod in (jnet.saving, jnet.utils):
        for name in (
            "custom_object_scope",
            "CustomObjectScope",
            "get_custom_objects",
            "register_keras_serializable",
            "serialize_keras_object",
            "deserialize_keras_object",
            "get_registered_name",
            "get_registered_object",
        ):
            assert callable(getattr(mod, name)), (mod.__name__, name)
    for family in (activations, constraints, initializers, layers, losses, metrics, optimizers, regularizers):
        assert callable(family.serialize) and callable(family.deserialize), family.__name__
    assert callable(jnet.models.model_from_json)
    assert jnet.saving.custom_object_scope is jnet.utils.CustomObjectScope


# --------------------------------------------------------------------------- built-in round trips


BUILTINS = [
    initializers.GlorotUniform(seed=3),
    initializers.RandomNormal(0.5, 2.0),
    initializers.Constant(1.5),
    initializers.Identity(2.0),
    initializers.VarianceScaling(2.0, "fan_out", "uniform"),
    initializers.Orthogonal(),
    regularizers.L1L2(0.1, 0.2),
    regularizers.L2(0.3),
    constraints.MaxNorm(3.0, axis=1),
    constraints.NonNeg(),
    losses.Huber(delta=0.5),
    losses.CategoricalCrossentropy(from_logits=True),
    metrics.AUC(num_thresholds=50),
    metrics.MeanSquaredError(),
    optimizers.Adam(0.01, beta_1=0.8),
    optimizers.SGD(0.1, momentum=0.9),
    layers.Dense(3, activation="relu", kernel_regularizer=regularizers.L2(0.1)),
    layers.Conv2D(4, 3, padding="same"),
    layers.LSTM(2, return_sequences=True),
    layers.Dropout(0.25),
]


@pytest.mark.parametrize("obj", BUILTINS, ids=lambda o: type(o).__name__)
def test_builtin_round_trip(obj):
    config = json_round_trip(serialize_keras_object(obj))
    assert set(config) >= {"module", "class_name", "config", "registered_name"}
    assert config["registered_name"] is None and config["module"].startswith("jnet.")
    again = deserialize_keras_object(config)
    assert type(again) is type(obj)
    assert again.get_config() == obj.get_config()


def test_family_serialize_deserialize_pairs():
    for family, obj in (
        (initializers, initializers.HeNormal(seed=1)),
        (regularizers, regularizers.L1(0.2)),
        (constraints, constraints.UnitNorm(axis=1)),
        (layers, layers.Dense(2, use_bias=False)),
    ):
        config = json_round_trip(family.serialize(obj))
        again = family.deserialize(config)
        assert type(again) is type(obj) and again.get_config() == obj.get_config()
    # jnet's short form also names the family's class (the loss, not the metric, of a clash).
    assert type(losses.deserialize({"class_name": "MeanSquaredError", "config": {}})) is losses.MeanSquaredError
    assert type(metrics.deserialize({"class_name": "MeanSquaredError", "config": {}})) is metrics.MeanSquaredError
    assert activations.serialize(activations.get("gelu")) == "gelu"
    assert activations.deserialize("gelu") is activations.gelu
    assert initializers.deserialize("zeros").get_config() == {}


def test_functions_serialize_by_name():
    config = serialize_keras_object(activations.relu)
    assert config == {"module": "builtins", "class_name": "function", "config": "relu", "registered_name": "function"}
    assert deserialize_keras_object(config) is activations.relu
    assert deserialize_keras_object(serialize_keras_object(losses.huber)) is losses.huber
    with pytest.raises(TypeError, match="lambda.*register_keras_serializable"):
        serialize_keras_object(lambda x: x)


def test_plain_values_and_arrays():
    value = {"a": [1, 2.5, "s", None], "b": np.arange(3, dtype=np.int32), "c": jnp.ones((2,))}
    config = json_round_trip(serialize_keras_object(value))
    again = deserialize_keras_object(config)
    assert again["a"] == [1, 2.5, "s", None]
    np.testing.assert_array_equal(again["b"], np.arange(3))
    assert again["b"].dtype == np.int32
    np.testing.assert_array_equal(again["c"], np.ones(2))


# --------------------------------------------------------------------------- configs written by Keras


KERAS_PAIRS = [  # (Keras object, the jnet object it must become)
    (lambda: keras.initializers.GlorotUniform(seed=3), initializers.GlorotUniform(seed=3)),
    (lambda: keras.initializers.HeNormal(), initializers.HeNormal()),
    (lambda: keras.initializers.RandomNormal(0.5, 2.0, seed=1), initializers.RandomNormal(0.5, 2.0, seed=1)),
    (lambda: keras.initializers.RandomUniform(-1.0, 1.0), initializers.RandomUniform(-1.0, 1.0)),
    (lambda: keras.initializers.TruncatedNormal(stddev=0.2), initializers.TruncatedNormal(stddev=0.2)),
    (
        lambda: keras.initializers.VarianceScaling(2.0, "fan_out", "uniform"),
        initializers.VarianceScaling(2.0, "fan_out", "uniform"),
    ),
    (lambda: keras.initializers.Orthogonal(gain=0.5), initializers.Orthogonal(gain=0.5)),
    (lambda: keras.regularizers.L1L2(0.1, 0.2), regularizers.L1L2(0.1, 0.2)),
    (lambda: keras.regularizers.L1(0.3), regularizers.L1(0.3)),
    (lambda: keras.regularizers.L2(0.4), regularizers.L2(0.4)),
    (lambda: keras.constraints.MaxNorm(1.5, axis=1), constraints.MaxNorm(1.5, axis=1)),
    (lambda: keras.constraints.MinMaxNorm(0.5, 1.0, rate=0.5), constraints.MinMaxNorm(0.5, 1.0, rate=0.5)),
    (lambda: keras.constraints.NonNeg(), constraints.NonNeg()),
    (lambda: keras.constraints.UnitNorm(axis=1), constraints.UnitNorm(axis=1)),
    (lambda: keras.losses.BinaryCrossentropy(label_smoothing=0.2), losses.BinaryCrossentropy(label_smoothing=0.2)),
    (
        lambda: keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
        losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
    ),
    (lambda: keras.losses.MeanSquaredError(), losses.MeanSquaredError()),
    (lambda: keras.metrics.MeanSquaredError(), metrics.MeanSquaredError()),
    (
        lambda: keras.metrics.AUC(num_thresholds=50, name="auc"),
        metrics.AUC(num_thresholds=50),
    ),  # Keras numbers unnamed metrics per process
    (lambda: keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True), optimizers.SGD(0.1, momentum=0.9, nesterov=True)),
    (lambda: keras.optimizers.Adam(0.01, beta_1=0.8, amsgrad=True), optimizers.Adam(0.01, beta_1=0.8, amsgrad=True)),
    (lambda: keras.optimizers.RMSprop(0.002, rho=0.8), optimizers.RMSprop(0.002, rho=0.8)),
    (
        lambda: keras.layers.Dense(3, activation="relu", kernel_regularizer="l2", name="d"),
        layers.Dense(3, activation="relu", kernel_regularizer=regularizers.L2(0.01), name="d"),
    ),
    (lambda: keras.layers.Dropout(0.25, name="drop"), layers.Dropout(0.25, name="drop")),
]


def _comparable(config):
    """A jnet config with nested configs and floats normalised, for equality."""

    def norm(v):
        if isinstance(v, dict) and "class_name" in v:
            obj = deserialize_keras_object(v)
            return (type(obj).__name__, norm(obj.get_config()))
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        if isinstance(v, float):
            return round(v, 6)
        return v

    return norm(config)


@pytest.mark.parametrize("make_keras,ours", KERAS_PAIRS, ids=lambda p: type(p).__name__)
def test_keras_written_configs_load(make_keras, ours):
    config = json_round_trip(keras.saving.serialize_keras_object(make_keras()))
    loaded = deserialize_keras_object(config)
    assert type(loaded) is type(ours)
    got, want = _comparable(loaded.get_config()), _comparable(ours.get_config())
    if isinstance(ours, layers.Layer):  # Keras's dtype policy becomes its name; initializers become objects
        got.pop("dtype"), want.pop("dtype")
        for key in ("kernel_initializer", "bias_initializer"):
            if key in got:
                got[key] = type(initializers.get(loaded.get_config()[key]))
                want[key] = type(initializers.get(ours.get_config()[key]))
        assert loaded.dtype == "float32"
    if isinstance(ours, optimizers.Optimizer):  # jnet's default names differ ("SGD"); the rest must match
        got.pop("name"), want.pop("name")
    assert got == want


def test_keras_configs_through_family_deserializers_compute_as_keras():
    """What jnet builds from a Keras config computes what Keras builds from the same config."""
    w = W
    kreg = keras.regularizers.L1L2(0.1, 0.2)
    reg = regularizers.deserialize(json_round_trip(keras.regularizers.serialize(kreg)))
    np.testing.assert_allclose(reg(jnp.asarray(w)), np.asarray(kreg(w)), rtol=1e-6)
    kcon = keras.constraints.MaxNorm(1.5, axis=1)
    con = constraints.deserialize(json_round_trip(keras.constraints.serialize(kcon)))
    np.testing.assert_allclose(con(jnp.asarray(w)), np.asarray(kcon(w)), rtol=1e-6)
    config = json_round_trip(keras.initializers.serialize(keras.initializers.Identity(gain=3.0)))
    init = initializers.deserialize(config)  # Keras's config drops the gain: Keras reloads gain 1 too
    np.testing.assert_allclose(
        init(jax.random.key(0), (2, 3)), np.asarray(keras.initializers.deserialize(config)((2, 3)))
    )
    kconst = keras.initializers.get(json_round_trip(keras.initializers.serialize(keras.initializers.Constant(0.7))))
    np.testing.assert_allclose(initializers.get(keras.initializers.serialize(kconst))(None, (2,)), [0.7, 0.7])
    y_true, y_pred = np.array([[0.0, 1.0], [1.0, 0.0]], np.float32), np.array([[0.2, 0.9], [0.6, 0.1]], np.float32)
    kloss = keras.losses.BinaryCrossentropy(label_smoothing=0.2)
    loss = losses.deserialize(json_round_trip(keras.losses.serialize(kloss)))
    np.testing.assert_allclose(loss(y_true, y_pred), np.asarray(kloss(y_true, y_pred)), rtol=1e-6)
    assert (
        losses.deserialize(json_round_trip(keras.losses.serialize(keras.losses.mean_absolute_error)))
        is losses.mean_absolute_error
    )
    for name in ("relu", "gelu", "swish", "softmax", "hard_sigmoid"):
        config = json_round_trip(keras.saving.serialize_keras_object(keras.activations.get(name)))
        fn = activations.deserialize(config)
        np.testing.assert_allclose(fn(jnp.asarray(w)), np.asarray(keras.activations.get(name)(w)), rtol=1e-5, atol=1e-6)
        assert activations.get(config) is fn
    kopt = keras.optimizers.Adam(0.01, beta_2=0.99)
    opt = optimizers.deserialize(json_round_trip(keras.optimizers.serialize(kopt)))
    assert (
        isinstance(opt, optimizers.Adam)
        and opt.learning_rate == pytest.approx(0.01)
        and opt.beta_2 == pytest.approx(0.99)
    )
    ksched = keras.optimizers.Adam(keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5))
    sched_opt = optimizers.deserialize(json_round_trip(keras.optimizers.serialize(ksched)))
    assert float(sched_opt.get_config()["learning_rate"]["config"]["decay_rate"]) == 0.5


def test_keras_layer_config_builds_the_same_layer():
    klayer = keras.layers.Dense(
        2, activation="tanh", kernel_initializer=keras.initializers.Constant(0.5), bias_initializer="ones"
    )
    layer = layers.deserialize(json_round_trip(keras.layers.serialize(klayer)))
    variables = layer.init(jax.random.key(0), jax.ShapeDtypeStruct((1, 3), jnp.float32))
    y, _ = layer.apply(variables, jnp.asarray(W))
    klayer.build((None, 3))
    with jax.numpy_rank_promotion("allow"):  # Keras's bias add broadcasts implicitly
        want = np.asarray(klayer(W))
    np.testing.assert_allclose(y, want, rtol=1e-6)


def test_keras_only_arguments_that_matter_are_refused():
    config = json_round_trip(keras.saving.serialize_keras_object(keras.optimizers.Adam(loss_scale_factor=2.0)))
    with pytest.raises(ValueError, match="Adam.*loss_scale_factor"):
        deserialize_keras_object(config)
    config = json_round_trip(keras.saving.serialize_keras_object(keras.optimizers.Adam(use_ema=True)))
    assert deserialize_keras_object(config).use_ema  # supported since the EMA landed
    config = json_round_trip(keras.saving.serialize_keras_object(keras.initializers.GlorotUniform()))
    config["config"]["input_axes"] = [0]
    with pytest.raises(ValueError, match="GlorotUniform.*input_axes"):
        initializers.deserialize(config)


# --------------------------------------------------------------------------- custom objects


def test_registration_names_and_lookup():
    assert get_registered_name(SumSquares) == "test_serial>SumSquares"
    assert get_registered_name(twice_tanh) == "test_serial>twice_tanh"
    assert get_registered_name(initializers.Zeros) == "Zeros"
    assert get_registered_object("test_serial>SumSquares") is SumSquares
    assert get_registered_object("nope>Nothing") is None
    assert get_registered_object("mine", custom_objects={"mine": cube}) is cube
    assert get_custom_objects()["test_serial>twice_tanh"] is twice_tanh
    with pytest.raises(ValueError, match="without a get_config"):
        register_keras_serializable("test_serial")(type("NoConfig", (), {}))

    @jnet.register_serializable(package="test_serial_old")  # jnet's spelling keeps working
    def halve(x):
        return x / 2

    assert get_registered_name(halve) == "test_serial_old>halve"
    assert activations.get("test_serial_old>halve") is halve


def test_registered_objects_resolve_everywhere():
    reg = regularizers.get("test_serial>SumSquares")
    assert isinstance(reg, SumSquares) and reg(jnp.ones(2)) == pytest.approx(1.0)
    assert activations.get("test_serial>twice_tanh") is twice_tanh
    assert activations.serialize(twice_tanh) == "test_serial>twice_tanh"
    config = json_round_trip(serialize_keras_object(SumSquares(0.25)))
    assert config["registered_name"] == "test_serial>SumSquares"
    again = deserialize_keras_object(config)
    assert isinstance(again, SumSquares) and again.factor == 0.25
    fn_config = json_round_trip(serialize_keras_object(twice_tanh))
    assert fn_config["config"] == "test_serial>twice_tanh" and deserialize_keras_object(fn_config) is twice_tanh
    layer = layers.Dense(2, activation=twice_tanh, kernel_regularizer=SumSquares(0.1))
    clone = layers.deserialize(json_round_trip(layers.serialize(layer)))
    assert clone.activation == "test_serial>twice_tanh" or clone.activation is twice_tanh
    assert activations.get(clone.activation) is twice_tanh
    assert isinstance(clone.kernel_regularizer, SumSquares) and clone.kernel_regularizer.factor == 0.1


def test_custom_object_scope_resolves_names_and_nests():
    with pytest.raises(ValueError, match=r"Unknown initializer 'scaled_ones'.*register_keras_serializable"):
        initializers.get("scaled_ones")
    with custom_object_scope({"scaled_ones": ScaledOnes}):
        init = initializers.get("scaled_ones")
        assert isinstance(init, ScaledOnes)
        with custom_object_scope({"cube": cube}):
            assert activations.get("cube") is cube
            assert isinstance(initializers.get("scaled_ones"), ScaledOnes)  # outer scope still open
        with pytest.raises(ValueError, match="Unknown activation 'cube'"):
            activations.get("cube")
    with pytest.raises(ValueError, match="Unknown initializer 'scaled_ones'"):
        initializers.get("scaled_ones")
    with jnet.utils.CustomObjectScope({"my_loss": cube}):
        wrapped = losses.get("my_loss")
        assert isinstance(wrapped, losses.LossFunctionWrapper) and wrapped.fn is cube


def test_get_custom_objects_is_live():
    get_custom_objects()["cube_fn"] = cube
    try:
        assert activations.get("cube_fn") is cube
    finally:
        del get_custom_objects()["cube_fn"]
    with pytest.raises(ValueError, match="cube_fn"):
        activations.get("cube_fn")


def _model():
    model = jnet.Sequential(
        [
            jnet.Input((3,)),
            layers.Dense(2, kernel_initializer=ScaledOnes(0.5), kernel_regularizer=SumSquares(0.01)),
            layers.Dense(1),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_unknown_class_error_names_it_and_how_to_register():
    config = json_round_trip(layers.serialize(layers.Dense(2, kernel_initializer=ScaledOnes(2.0))))
    with pytest.raises(ValueError, match=r"Unknown class 'ScaledOnes'.*register_keras_serializable.*custom_objects"):
        layers.deserialize(config)
    with pytest.raises(ValueError, match=r"Unknown class 'NoSuchThing'.*register_keras_serializable"):
        deserialize_keras_object(
            {"module": "my_module", "class_name": "NoSuchThing", "config": {}, "registered_name": "NoSuchThing"}
        )
    # A class saved from the user's own module is never swapped for the same-named built-in.
    with pytest.raises(ValueError, match=r"Unknown class 'Dense'"):
        deserialize_keras_object(
            {"module": "my_project.layers", "class_name": "Dense", "config": {"units": 2}, "registered_name": "Dense"}
        )
    with pytest.raises(ValueError, match=r"Unknown function 'no_such_fn'"):
        deserialize_keras_object(
            {"module": "builtins", "class_name": "function", "config": "no_such_fn", "registered_name": "function"}
        )
    with pytest.raises(ValueError, match="lambda"):
        deserialize_keras_object({"class_name": "__lambda__", "config": {"value": "..."}})
    layer = layers.deserialize(config, custom_objects={"ScaledOnes": ScaledOnes})
    assert layer.kernel_initializer == ScaledOnes(2.0)


def test_load_model_and_json_find_custom_objects_through_scopes(tmp_path):
    model = _model()
    x = np.asarray(W)
    path = tmp_path / "m.keras"
    model.save(path)
    with pytest.raises(jnet.saving.CheckpointError, match="ScaledOnes"):
        jnet.models.load_model(path)
    with custom_object_scope({"ScaledOnes": ScaledOnes}):
        loaded = jnet.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)

    text = model.to_json()
    config = json.loads(text)
    assert config["class_name"] == "Sequential" and config["compile_config"]["loss"] == "mse"
    with pytest.raises(ValueError, match="ScaledOnes"):
        jnet.models.model_from_json(text)
    clone = jnet.models.model_from_json(text, custom_objects={"ScaledOnes": ScaledOnes})
    assert clone.get_config() == model.get_config() and clone.compiled
    # Built from the config with the custom initializer: the first kernel is 0.5 everywhere.
    kernel = jax.tree_util.tree_leaves(clone.current_variables()["params"])
    assert any(np.allclose(k, 0.5) and k.shape == (3, 2) for k in kernel)
    with custom_object_scope({"ScaledOnes": ScaledOnes}):
        assert jnet.models.model_from_json(text).get_config() == model.get_config()
    with pytest.raises(ValueError, match="not valid JSON"):
        jnet.models.model_from_json("{not json")


def test_saving_weights_functions(tmp_path):
    model, other = _model(), _model()
    other.set_weights([w + 1.0 for w in other.get_weights()])
    jnet.saving.save_weights(model, tmp_path / "w.weights.h5")
    jnet.saving.load_weights(other, tmp_path / "w.weights.h5")
    for a, b in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
