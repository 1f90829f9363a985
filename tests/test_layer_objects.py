"""Layers own their weights (Keras 3 semantics over the pure core): sharing, nesting, freezing,
eager calls, accessors, Keras-style subclassed layers and models, add_loss."""

import contextlib

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest

import jnet
from jnet import layers

RS = np.random.RandomState(0)
X = RS.randn(16, 4).astype(np.float32)
Y = RS.randn(16, 1).astype(np.float32)


def KERAS_SIDE():  # noqa: N802 - Keras relies on rank promotion, which jnet's tests make an error
    return jax.numpy_rank_promotion("allow")


@contextlib.contextmanager
def _nothing():
    yield


# ---------------------------------------------------------------------- sharing


def test_nested_model_predicts_exactly_as_the_trained_base():
    base = jnet.Sequential([jnet.Input((4,)), layers.Dense(8, activation="relu"), layers.Dense(1)])
    base.compile(optimizer="sgd", loss="mse")
    base.fit(X, Y, epochs=2, batch_size=8, verbose=0)
    i = jnet.Input((4,))
    wrapper = jnet.Model(i, base(i))
    np.testing.assert_array_equal(wrapper.predict(X, verbose=0), base.predict(X, verbose=0))
    # and training the wrapper trains the base's layers (one set of weights)
    wrapper.compile(optimizer="sgd", loss="mse")
    before = base.get_weights()[0].copy()
    wrapper.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    assert not np.allclose(base.get_weights()[0], before)
    np.testing.assert_array_equal(wrapper.predict(X, verbose=0), base.predict(X, verbose=0))


def test_training_a_sequential_trains_the_encoder_object():
    encoder = jnet.Sequential([jnet.Input((4,)), layers.Dense(3, name="enc")])
    model = jnet.Sequential([encoder, layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    before = encoder.get_weights()[0].copy()
    model.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    after = encoder.get_weights()[0]
    assert not np.allclose(after, before)
    np.testing.assert_array_equal(after, model.get_weights()[0])


def test_shared_layer_in_two_models_is_one_set_of_weights():
    shared = layers.Dense(2, name="shared")
    a_in, b_in = jnet.Input((4,)), jnet.Input((4,))
    a = jnet.Model(a_in, layers.Dense(1)(shared(a_in)))
    b = jnet.Model(b_in, shared(b_in))
    a.compile(optimizer="sgd", loss="mse")
    a.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    np.testing.assert_allclose(b.predict(X, verbose=0), X @ shared.kernel.numpy() + shared.bias.numpy(), rtol=1e-5)


def test_reusing_a_built_layer_on_another_shape_raises():
    d = layers.Dense(3)
    a = jnet.Input((4,))
    jnet.Model(a, d(a))
    with pytest.raises(ValueError, match=r"Dense 'dense': expected last axis 4, got 6 \(input shape \(None, 6\)\)"):
        d(jnet.Input((6,)))


def test_feature_extractor_shares_weights():
    x = jnet.Input((4,))
    h = layers.Dense(5, activation="relu", name="h")(x)
    model = jnet.Model(x, layers.Dense(1)(h))
    extractor = jnet.Model(model.input, model.get_layer("h").output)
    assert model.get_layer("h").output is h
    np.testing.assert_allclose(
        extractor.predict(X, verbose=0),
        np.maximum(X @ model.get_layer("h").kernel.numpy() + model.get_layer("h").bias.numpy(), 0),
        rtol=1e-5,
    )


def test_transfer_learning_recipe_matches_keras():
    """Keras's guide: freeze the base (BatchNorm stays in inference mode), train a head, then
    unfreeze and fine-tune with a low rate, the base called with `training=False` so BatchNorm
    keeps its statistics. The frozen phase equals Keras 3 on the same weights. In the fine-tune
    phase jnet keeps the `training=False` given in the graph, as the guide intends; Keras 3
    overrides it with fit's `training=True` (keras-team/keras#20285) and moves the statistics."""

    def build(lib):
        L = lib.layers
        base = lib.Sequential([lib.Input((4,)), L.Dense(6, activation="relu"), L.BatchNormalization()])
        i = lib.Input((4,))
        out = L.Dense(1)(base(i, training=False))
        return base, lib.Model(i, out)

    jbase, jmodel = build(jnet)
    with KERAS_SIDE():
        kbase, kmodel = build(keras)
        kmodel.set_weights([np.asarray(w) for w in jmodel.get_weights()])
    for base, model, lib in ((jbase, jmodel, jnet), (kbase, kmodel, keras)):
        with KERAS_SIDE() if lib is keras else _nothing():
            base.trainable = False
            model.compile(optimizer=lib.optimizers.SGD(0.1), loss="mse")
            model.fit(X, Y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    assert len(jbase.trainable_weights) == len(kbase.trainable_weights) == 0
    for a, b in zip(jmodel.get_weights(), kmodel.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=2e-4, atol=2e-5)
    with KERAS_SIDE():
        expected = kmodel.predict(X, verbose=0)
    np.testing.assert_allclose(jmodel.predict(X, verbose=0), expected, rtol=2e-4, atol=2e-5)
    # fine-tune: everything trains except BatchNorm's statistics (inference mode kept)
    jbase.trainable = True
    assert len(jbase.trainable_weights) == 4
    stats = [w.numpy().copy() for w in jbase.non_trainable_weights]
    kernel = jbase.layers[0].kernel.numpy().copy()
    jmodel.compile(optimizer=jnet.optimizers.SGD(0.01), loss="mse")
    jmodel.fit(X, Y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(jbase.non_trainable_weights, stats):
        np.testing.assert_array_equal(a.numpy(), b)
    assert not np.allclose(jbase.layers[0].kernel.numpy(), kernel)


def test_frozen_layer_is_not_trained_and_shows_in_counts():
    frozen = layers.Dense(3, trainable=False)
    model = jnet.Sequential([jnet.Input((4,)), frozen, layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    before = frozen.get_weights()
    model.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    for a, b in zip(frozen.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    assert [v.path for v in model.non_trainable_weights] == ["dense/kernel", "dense/bias"]
    assert len(model.trainable_weights) == 2


# ---------------------------------------------------------------------- eager use and accessors


def test_eager_call_build_and_accessors():
    d = layers.Dense(3)
    y = d(np.ones((2, 4)))
    assert y.shape == (2, 3) and d.built
    np.testing.assert_allclose(y, np.ones((2, 4)) @ d.kernel.numpy() + d.bias.numpy(), rtol=1e-6)
    assert [w.name for w in d.weights] == ["kernel", "bias"] and d.kernel.path == "dense/kernel"
    assert d.count_params() == 15 and d.kernel.trainable and d.kernel.shape == (4, 3)
    e = layers.Dense(2)
    e.build((None, 5))
    assert e.built and e.kernel.shape == (5, 2) and e.compute_output_shape((None, 5)) == (None, 2)
    e.kernel.assign(np.ones((5, 2)))
    np.testing.assert_array_equal(e.get_weights()[0], np.ones((5, 2)))
    bn = layers.BatchNormalization()
    bn(np.ones((2, 3)))
    assert [w.name for w in bn.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [w.name for w in bn.non_trainable_weights] == ["moving_mean", "moving_variance"]
    lstm = layers.LSTM(2)
    lstm(np.ones((1, 3, 4), np.float32))
    assert lstm.cell.kernel.shape == (4, 8) and [w.name for w in lstm.weights] == ["kernel", "recurrent_kernel", "bias"]


def test_eager_batchnorm_training_updates_moving_stats():
    bn = layers.BatchNormalization(momentum=0.5)
    x = RS.randn(8, 3).astype(np.float32)
    bn(x, training=True)
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.5 * x.mean(0), rtol=1e-5, atol=1e-6)
    bn(x)  # inference leaves them alone
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.5 * x.mean(0), rtol=1e-5, atol=1e-6)


def test_pure_core_does_not_touch_the_objects():
    d = layers.Dense(2)
    d(np.ones((1, 3)))
    kept = d.kernel.numpy().copy()
    v = d.init(jax.random.key(1), jax.ShapeDtypeStruct((1, 3), jnp.float32))
    assert not np.allclose(v["params"]["kernel"], kept)
    out, _ = jax.jit(d.apply)(v, jnp.ones((1, 3)))
    np.testing.assert_allclose(out, np.ones((1, 3)) @ v["params"]["kernel"] + v["params"]["bias"][None], rtol=1e-6)
    np.testing.assert_array_equal(d.kernel.numpy(), kept)
    # per-weight keys: kernel and bias never share a key (a random bias is not a copy of the kernel)
    r = layers.Dense(2, bias_initializer="random_normal").init(
        jax.random.key(0), jax.ShapeDtypeStruct((1, 2), jnp.float32)
    )
    assert not np.allclose(r["params"]["bias"], r["params"]["kernel"][0])


def test_set_weights_lists_every_mismatch():
    model = jnet.Sequential([jnet.Input((4,)), layers.Dense(3), layers.Dense(1)])
    with pytest.raises(
        ValueError, match=r"expected 4 arrays, got 3.*weight 0 \(dense/kernel\) expects shape \(4, 3\), got \(4, 4\)"
    ):
        model.set_weights([np.zeros((4, 4)), np.zeros(3), np.zeros((3, 1))])


def test_add_weight_bad_arguments_name_the_layer():
    class Bad(layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(-1, 2), name="w")

        def call(self, x):
            return x

    with pytest.raises(ValueError, match=r"Bad 'bad'.*add_weight\(name='w'\).*non-negative ints"):
        Bad()(np.ones((1, 2)))

    class BadInit(layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(2,), initializer="no_such_init")

    with pytest.raises(ValueError, match=r"BadInit 'bad_init'.*no_such_init"):
        BadInit()(np.ones((1, 2)))


# ---------------------------------------------------------------------- Keras-style subclassing


class Linear(layers.Layer):
    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal", trainable=True)
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True)

    def call(self, inputs):
        return inputs @ self.w + self.b

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class MLPBlock(layers.Layer):
    """Sublayers as attributes (one in a list), built on first call."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.linears = [Linear(8), Linear(4)]
        self.out = Linear(1)

    def call(self, inputs):
        x = jax.nn.relu(self.linears[0](inputs))
        x = jax.nn.relu(self.linears[1](x))
        return self.out(x)


@pytest.fixture
def keras_style_broadcasting():
    """Keras user code broadcasts `(batch, n) + (n,)`; jnet's tests otherwise forbid it."""
    with jax.numpy_rank_promotion("allow"):
        yield


def test_subclassed_layer_with_add_weight_runs_everywhere(tmp_path, keras_style_broadcasting):
    lin = Linear(4)
    assert lin(np.ones((2, 3))).shape == (2, 4)
    assert [w.shape for w in lin.weights] == [(3, 4), (4,)]
    block = MLPBlock()
    block(np.ones((2, 3)))
    assert len(block.weights) == 6 and [l.name for l in block._sublayers()] == ["linear", "linear_1", "linear_2"]
    model = jnet.Sequential([jnet.Input((4,)), Linear(4), MLPBlock()])
    model.compile(optimizer="adam", loss="mse")
    model.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    path = tmp_path / "custom.jnet"
    model.save(path)
    loaded = jnet.load_model(path, custom_objects={"Linear": Linear, "MLPBlock": MLPBlock})
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-6)


def test_subclassed_layer_without_get_config_cannot_be_saved():
    class Scaled(layers.Layer):
        def __init__(self, factor, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

    with pytest.raises(TypeError, match="Scaled writes its own __init__.*must define get_config"):
        Scaled(2.0).get_config()


class TinyModel(jnet.Model):
    def __init__(self, hidden=8, **kwargs):
        super().__init__(**kwargs)
        self.hidden = hidden
        self.dense1 = layers.Dense(hidden, activation="relu")
        self.dropout = layers.Dropout(0.5)
        self.dense2 = layers.Dense(1)

    def call(self, inputs, training=False):
        return self.dense2(self.dropout(self.dense1(inputs), training=training))

    def get_config(self):
        return {**super().get_config(), "hidden": self.hidden}


def test_subclassed_model_compile_fit_predict_save_load(tmp_path):
    model = TinyModel()
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    history = model.fit(X, Y, epochs=2, batch_size=8, verbose=0)
    assert set(history.history) >= {"loss", "mae"}
    assert [l.name for l in model.layers] == ["dense", "dropout", "dense_1"]
    assert model.count_params() == 4 * 8 + 8 + 8 + 1
    np.testing.assert_array_equal(model.predict(X, verbose=0), model.predict(X, verbose=0))  # no dropout
    lines = []
    model.summary(print_fn=lines.append)
    assert any("dense_1 (Dense)" in l and "9" in l for l in lines)
    model.save_weights(tmp_path / "w.jnet")
    other = TinyModel()
    other.build((None, 4))
    other.load_weights(tmp_path / "w.jnet")
    np.testing.assert_array_equal(other.predict(X, verbose=0), model.predict(X, verbose=0))
    model.save(tmp_path / "m.jnet")
    loaded = jnet.load_model(tmp_path / "m.jnet", custom_objects={"TinyModel": TinyModel})
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))


def test_subclassed_model_without_get_config(tmp_path):
    class NoConfig(jnet.Model):
        def __init__(self):
            super().__init__()
            self.d = layers.Dense(1)

        def call(self, x):
            return self.d(x)

    # Keras's auto-config: an __init__ without arguments is rebuilt from nothing.
    model = NoConfig()
    model(np.ones((1, 4)))
    assert model.get_config() == {}
    model.save(tmp_path / "m.jnet")
    loaded = jnet.load_model(tmp_path / "m.jnet", custom_objects={"NoConfig": NoConfig})
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))

    class NeedsUnits(jnet.Model):
        def __init__(self, units):
            super().__init__()
            self.d = layers.Dense(units)

        def call(self, x):
            return self.d(x)

    model = NeedsUnits(2)
    model(np.ones((1, 4)))
    with pytest.raises(TypeError, match="NeedsUnits is a subclassed model whose __init__ takes arguments: define"):
        model.save(tmp_path / "n.jnet")


def test_model_without_call_or_graph_is_refused():
    with pytest.raises(TypeError, match="subclass it and define call"):
        jnet.Model()


# ---------------------------------------------------------------------- losses


def test_add_loss_and_activity_regularizer_match_keras():
    def build(lib):
        L = lib.layers
        i = lib.Input((4,))
        h = L.Dense(3, activity_regularizer=lib.regularizers.L2(0.1))(i)
        return lib.Model(i, L.Dense(1)(h))

    jm = build(jnet)
    with KERAS_SIDE():
        km = build(keras)
        km.set_weights([np.asarray(w) for w in jm.get_weights()])
        km.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
        kl = km.evaluate(X, Y, batch_size=16, verbose=0)
        kl_partial = km.evaluate(X, Y, batch_size=12, verbose=0)  # last batch: 4 rows
        km.fit(X, Y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    jm.compile(optimizer=jnet.optimizers.SGD(0.05), loss="mse")
    jl = jm.evaluate(X, Y, batch_size=16, verbose=0)
    np.testing.assert_allclose(jl, kl, rtol=1e-5)
    # the padded last batch's activity penalty counts its real rows only
    np.testing.assert_allclose(jm.evaluate(X, Y, batch_size=12, verbose=0), kl_partial, rtol=1e-5)
    jm.fit(X, Y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(jm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-4, atol=1e-6)

    class Penalised(layers.Layer):
        def call(self, x):
            self.add_loss(jnp.sum(x) * 0.0 + 2.0)
            return x

    p = Penalised()
    p(np.ones((1, 2)))
    assert [float(l) for l in p.losses] == [2.0]
    x = jnet.Input((4,))
    model = jnet.Model(x, layers.Dense(1)(Penalised()(x)))
    model.compile(optimizer="sgd", loss="mse")
    with pytest.warns(UserWarning, match=r"adds a loss in call\(\) \(add_loss\).*padded"):
        model.fit(X[:12], Y[:12], batch_size=8, epochs=1, verbose=0)


def test_eager_training_call_gives_nested_dropout_a_key():
    class Block(jnet.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = jnet.layers.Dense(8)
            self.dropout = jnet.layers.Dropout(0.5)

        def call(self, inputs):  # Keras style: no training / rng arguments
            return self.dropout(self.dense(inputs))

    block = Block()
    x = np.ones((4, 3), "float32")
    a, b = np.asarray(block(x, training=True)), np.asarray(block(x, training=True))
    assert not np.allclose(a, b)
    assert np.any(a == 0)
    np.testing.assert_array_equal(np.asarray(block(x)), np.asarray(block(x)))


def test_compile_without_a_loss_needs_losses_from_the_model():
    class Penalised(layers.Layer):
        def call(self, x):
            self.add_loss(jnp.mean(jnp.square(x)))
            return x

    x = jnet.Input((4,))
    model = jnet.Model(x, Penalised()(layers.Dense(2)(x)))
    model.compile(optimizer="sgd")
    history = model.fit(X, np.zeros((16, 2), np.float32), batch_size=16, epochs=2, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0]  # the added loss alone trains
    # Nothing compiled needs targets: Keras fits and evaluates on x alone.
    before = model.evaluate(X, verbose=0)
    history = model.fit(X, batch_size=16, epochs=1, verbose=0)
    np.testing.assert_allclose(history.history["loss"][0], before, rtol=1e-5)
    assert model.evaluate(X, verbose=0) < before
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"fit: y is required .*compile\(\) gave a loss"):
        model.fit(X, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="evaluate: y is required"):
        model.evaluate(X, verbose=0)
    plain = jnet.Sequential([jnet.Input((4,)), layers.Dense(1)])
    plain.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="compile\\(\\) was called without a loss, and no layer adds one"):
        plain.fit(X, Y, epochs=1, verbose=0)


def test_inputs_by_keras_keyword():
    # Keras names call's first argument `inputs`; jnet's built-ins take it by that name too.
    x = np.arange(6, dtype="float32").reshape(2, 3)
    dense = jnet.layers.Dense(2)
    np.testing.assert_allclose(np.asarray(dense(inputs=x)), np.asarray(dense(x)))
    t = jnet.Input((3,))
    assert tuple(jnet.layers.Dense(4)(inputs=t).shape) == (None, 4)
    with pytest.raises(TypeError, match="without inputs"):
        dense(other=x)
