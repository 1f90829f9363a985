"""Keras 3's Model / Layer attributes that jnet adds in jnet/models/keras_attributes.py and
jnet/layers/keras_attributes.py, checked against Keras 3 (JAX backend) on the same models:
`get_state_tree` / `set_state_tree`, `path`, the compile settings, the step functions,
`dtype_policy`, `input_dtype`, `autocast`, `supports_jit`, `call_signature_parameters`,
`symbolic_call`, `metrics`, `add_metric`; and `metric.variables` as variables."""

import os

import jax
import keras
import numpy as np
import pytest

import jnet

X = np.array([[1.0], [0.5], [-1.0], [2.0]], "float32")
Y = np.array([[1.0], [0.0], [0.0], [1.0]], "float32")


def sequential(k):
    return k.Sequential(
        [
            k.Input(shape=(1,), name="my_input"),
            k.layers.Dense(1, activation="sigmoid", name="my_dense"),
            k.layers.BatchNormalization(name="bn"),
        ],
        name="my_sequential",
    )


def compiled(k, weights=None, **kwargs):
    model = sequential(k)
    if weights is not None:
        model.set_weights(weights)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"], **kwargs)
    return model


@pytest.fixture(scope="module")
def trained():
    """The same model trained one epoch (two steps) by jnet and by Keras from jnet's weights."""
    jm = compiled(jnet)
    # Keras numbers optimizer names per process ("adam_8" after other tests); jnet's is "adam".
    keras.backend.clear_session()
    with jax.numpy_rank_promotion("allow"):
        km = compiled(keras, jm.get_weights())
        km.fit(X, Y, batch_size=2, epochs=1, shuffle=False, verbose=0)
    jm.fit(X, Y, batch_size=2, epochs=1, shuffle=False, verbose=0)
    return jm, km


def _keys(tree):
    return {k: _keys(v) if isinstance(v, dict) else None for k, v in tree.items()}


def _assert_tree_close(a, b):
    assert _keys(a) == _keys(b)
    for k in a:
        if isinstance(a[k], dict):
            _assert_tree_close(a[k], b[k])
        else:
            np.testing.assert_allclose(np.asarray(a[k], "float64"), np.asarray(b[k], "float64"), rtol=1e-5, atol=1e-6)


def test_get_state_tree_matches_keras(trained):
    jm, km = trained
    jt, kt = jm.get_state_tree("numpy_array"), km.get_state_tree("numpy_array")
    assert set(jt) == {"trainable_variables", "non_trainable_variables", "optimizer_variables", "metrics_variables"}
    assert _keys(jt["trainable_variables"]) == {
        "my_sequential": {"my_dense": {"kernel": None, "bias": None}, "bn": {"gamma": None, "beta": None}}
    }
    assert "my_sequential_my_dense_kernel_momentum" in jt["optimizer_variables"]["adam"]
    assert _keys(jt["metrics_variables"]) == {
        "loss": {"total": None, "count": None},
        "mean_absolute_error": {"total": None, "count": None},
    }
    _assert_tree_close(jt, kt)
    assert isinstance(jm.get_state_tree()["trainable_variables"]["my_sequential"]["bn"]["gamma"], jax.Array)
    with pytest.raises(ValueError, match="value_format"):
        jm.get_state_tree("lists")


def _paths(k):
    out = {}
    d = k.layers.Dense(2)
    out["unbuilt"] = d.path
    d.build((None, 3))
    out["built"] = d.path
    inp = k.Input((3,))
    f = k.Model(inp, k.layers.Dense(2, name="d")(inp), name="func")
    out["functional"] = (f.path, f.layers[1].path)
    seq = k.Sequential([k.layers.Dense(2, name="a")], name="seq")
    out["deferred"] = (seq.path, seq.layers[0].path)
    seq(np.ones((1, 3), "float32"))
    out["sequential"] = (seq.path, seq.layers[0].path)

    class Block(k.layers.Layer):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.inner = k.layers.Dense(2, name="inner")

        def call(self, x):
            return self.inner(x)

    class Sub(k.Model):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.block = Block(name="blk")
            self.out = k.layers.Dense(1, name="o")

        def call(self, x):
            return self.out(self.block(x))

    m = Sub(name="sub")
    m(np.ones((1, 3), "float32"))
    out["subclassed"] = (m.path, m.block.path, m.block.inner.path, m.out.path)
    return out


def test_paths_match_keras():
    jnet.backend.clear_session(free_memory=False)
    keras.backend.clear_session()
    jp = _paths(jnet)
    with jax.numpy_rank_promotion("allow"):
        kp = _paths(keras)
    assert jp == kp
    assert jp["subclassed"][2] == "sub/blk/inner"


def test_compile_settings_match_keras(tmp_path):
    for k in (jnet, keras):
        m = sequential(k)
        assert (m.loss, m.jit_compile, m.run_eagerly, m.steps_per_execution) == (None, True, False, 1), k
        m.compile(optimizer="sgd", loss="mae", steps_per_execution=3, run_eagerly=True)
        assert (m.loss, m.jit_compile, m.run_eagerly, m.steps_per_execution) == ("mae", False, True, 3), k
        m.run_eagerly = False
        assert m.run_eagerly is False
    jm = compiled(jnet)
    # A .keras file carries a steps_per_execution Keras can run ("auto" is jnet's).
    path = os.path.join(tmp_path, "m.keras")
    jm.save(path)
    with jax.numpy_rank_promotion("allow"):
        assert keras.saving.load_model(path).steps_per_execution == 1
    jm.steps_per_execution = 2
    assert jm.get_compile_config()["steps_per_execution"] == 2
    with pytest.raises(ValueError, match="steps_per_execution"):
        jm.steps_per_execution = 0


def _state(m, with_optimizer=True):
    values = lambda vs: [np.asarray(v.value) for v in vs]  # noqa: E731
    opt = [np.asarray(getattr(v, "value", v)) for v in m.optimizer.variables]
    parts = [values(m.trainable_variables), values(m.non_trainable_variables)]
    return tuple(parts + ([opt] if with_optimizer else []) + [values(m.metrics_variables)])


def test_step_functions_match_keras(trained):
    """Keras's JAX step functions over `train_step` / `test_step` / `predict_step`, run by hand
    from the trained models' state (stateless: the models are left as they were)."""
    results = []
    for m in trained:
        assert m.make_predict_function(force=True) is None
        m.make_train_function(force=True)
        m.make_test_function(force=True)
        assert m.make_predict_function() is m.predict_function
        with jax.numpy_rank_promotion("allow"):
            logs, state = m.train_function(_state(m), iter([(X[2:], Y[2:])]))
            tlogs, _ = m.test_function(_state(m, with_optimizer=False)[:2] + (state[3],), iter([(X, Y)]))
            preds, _ = m.predict_function(_state(m)[:2], iter([X[:2], X[2:]]))
        results.append((logs, tlogs, np.asarray(preds), state[0]))
    (jl, jt, jp, jw), (kl, kt, kp, kw) = results
    for j, k in ((jl, kl), (jt, kt)):
        np.testing.assert_allclose(float(j["loss"]), float(k["loss"]), rtol=1e-5)
        np.testing.assert_allclose(float(j["mae"]), float(k["mae"]), rtol=1e-5)
    np.testing.assert_allclose(jp, kp, rtol=1e-5)
    assert jp.shape == (2, 1)  # steps_per_execution 1: one batch per call
    jm = compiled(jnet)
    assert jm.train_function is None and jm.test_function is None and jm.predict_function is None
    before = trained[0].get_weights()
    trained[0].jax_state_sync()  # outside fit: nothing to copy
    assert all(np.array_equal(a, b) for a, b in zip(before, trained[0].get_weights()))


class Tracked(jnet.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = jnet.metrics.Mean(name="seen")

    def call(self, inputs, training=False):
        return inputs


def test_layer_attributes_match_keras():
    jd, kd = jnet.layers.Dense(2), keras.layers.Dense(2)
    assert str(jd.dtype_policy) == str(kd.dtype_policy) == '<DTypePolicy "float32">'
    assert jd.input_dtype == kd.input_dtype == "float32"
    mixed = (jnet.layers.Dense(2, dtype="mixed_bfloat16"), keras.layers.Dense(2, dtype="mixed_bfloat16"))
    assert mixed[0].input_dtype == mixed[1].input_dtype == "bfloat16"
    assert mixed[0].dtype_policy.compute_dtype == "bfloat16"
    jd.dtype_policy = "bfloat16"
    assert jd.compute_dtype == "bfloat16"
    assert jd.autocast is kd.autocast is True
    assert jd.supports_jit is kd.supports_jit is True
    with pytest.raises(ValueError, match="autocast=False"):
        jd.autocast = False
    for k in (jnet, keras):
        with pytest.raises(NotImplementedError, match="add_metric"):
            k.layers.Dense(2).add_metric(1.0)
        assert k.layers.Dense(2).metrics == [] and k.layers.Dense(2).metrics_variables == []
    assert Tracked().call_signature_parameters == ["inputs", "training"]
    spec = jnet.layers.Dense(5).symbolic_call(jax.ShapeDtypeStruct((2, 3), "float32"))
    assert tuple(spec.shape) == (2, 5)
    layer = Tracked()
    layer.seen.update_state(np.array([1.0, 3.0]))
    assert layer.metrics == [layer.seen]
    assert [v.path for v in layer.metrics_variables] == ["seen/count", "seen/total"]
    np.testing.assert_allclose([v.numpy() for v in layer.metrics_variables], [2.0, 4.0])


def test_metric_variables_are_variables():
    """Keras code assigns a stateless loop's metric state back variable by variable, and
    passes `metric.variables` into its jitted steps."""
    metric = jnet.metrics.CategoricalAccuracy()
    y = np.eye(3, dtype="float32")[[0, 1, 2, 0]]
    step = jax.jit(lambda mv, yt, yp: metric.stateless_update_state(mv, yt, yp))
    mv = step(metric.variables, y, y)  # the handles enter jit as their arrays
    mv = step(mv, y, np.roll(y, 1, axis=0))
    for variable, value in zip(metric.variables, mv):
        variable.assign(value)
    assert float(metric.result()) == pytest.approx(5 / 8)  # 4 of 4, then 1 of 4
    assert [v.name for v in metric.variables] == ["count", "total"]
    with pytest.raises(ValueError, match="shape"):
        metric.variables[0].assign(np.zeros(3))


def test_optimizer_variables_after_fit_follow_trainable_order(trained):
    states = []
    for m in trained:
        m.make_train_function(force=True)
        with jax.numpy_rank_promotion("allow"):
            _, state = m.train_function(_state(m), iter([(X[2:], Y[2:])]))
        states.append(state[0])
    for a, b in zip(*states):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_set_state_tree_round_trip(trained):
    """Last in the module: trains the fixture's Keras model on."""
    jm, km = trained
    fresh = compiled(jnet)
    fresh.fit(X, Y, batch_size=4, epochs=1, verbose=0)  # a train state to write into
    fresh.set_state_tree(km.get_state_tree("numpy_array"))
    _assert_tree_close(fresh.get_state_tree("numpy_array"), km.get_state_tree("numpy_array"))
    # Training goes on from Keras's state: the next epoch matches Keras's next epoch.
    jh = fresh.fit(X, Y, batch_size=2, epochs=1, shuffle=False, verbose=0).history
    with jax.numpy_rank_promotion("allow"):
        kh = km.fit(X, Y, batch_size=2, epochs=1, shuffle=False, verbose=0).history
    np.testing.assert_allclose(jh["loss"], kh["loss"], rtol=1e-4)
    for a, b in zip(fresh.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="unknown variable name"):
        fresh.set_state_tree({"weights": {}})
