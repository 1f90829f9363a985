"""Sequential and graph models: building, naming, nesting, config, errors."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jnet
from jnet import layers


def _shapes(tree):
    return jax.tree_util.tree_map(jnp.shape, tree)


def test_sequential_seed_stack_and_summary(capsys):
    model = jnet.models.Sequential()
    model.add(layers.Dense(32, input_shape=(784,)))
    model.add(layers.Dense(10))
    model.add(layers.Dense(20))
    model.summary()
    out = capsys.readouterr().out
    assert "dense_2 (Dense)" in out and "(None, 20)" in out
    assert "Total params: 25,670" in out
    assert model.count_params() == 784 * 32 + 32 + 32 * 10 + 10 + 10 * 20 + 20
    assert model(jnp.ones((3, 784))).shape == (3, 20)


def test_names_are_deterministic_per_model():
    def build():
        return jnet.Sequential([layers.Dense(4, input_shape=(3,)), layers.Dense(2), layers.Dense(1, name="head")])

    a, b = build(), build()
    assert [l.name for l in a.layers] == ["dense", "dense_1", "head"]
    assert _shapes(a.current_variables()) == _shapes(b.current_variables())


def test_duplicate_name_is_an_error():
    x = jnet.Input((3,))
    y = layers.Dense(2, name="same")(layers.Dense(3, name="same")(x))
    with pytest.raises(ValueError, match="duplicate layer name 'same'"):
        jnet.Model(x, y)


def test_multi_io_dict_inputs_and_shared_layer():
    a, b = jnet.Input((4,), name="a"), jnet.Input((4,), name="b")
    shared = layers.Dense(3)
    model = jnet.Model([a, b], {"x": shared(a), "y": shared(b)})
    v = model.init(jax.random.key(0))
    assert list(v["params"]) == ["dense"]  # one set of params for the shared layer
    xa, xb = jnp.ones((2, 4)), jnp.zeros((2, 4))
    out, _ = jax.jit(model.apply)(v, {"a": xa, "b": xb})
    k, bias = v["params"]["dense"]["kernel"], v["params"]["dense"]["bias"]
    np.testing.assert_allclose(out["x"], xa @ k + bias[None], rtol=1e-6)
    np.testing.assert_allclose(out["y"], np.broadcast_to(bias[None], (2, 3)), rtol=1e-6)
    with pytest.raises(ValueError, match="missing \\['b'\\]"):
        model.apply(v, {"a": xa})


def test_unreachable_output_names_the_input():
    a, b = jnet.Input((4,), name="a"), jnet.Input((3,), name="b")
    with pytest.raises(ValueError, match="Input 'b'"):
        jnet.Model(a, layers.Dense(2)(b))


def test_wrong_input_shape_names_the_input():
    model = jnet.Sequential([layers.Dense(2, input_shape=(4,))])
    with pytest.raises(ValueError, match="expects shape \\(None, 4\\), got \\(1, 5\\)"):
        model(jnp.ones((1, 5)))


def test_nested_models_both_ways_and_grad_vmap():
    inner = jnet.Sequential([layers.Dense(3), layers.Dense(2)])  # deferred: built when called
    x = jnet.Input((4,))
    graph = jnet.Model(x, inner(layers.Dense(4)(x)))
    outer = jnet.Sequential([jnet.Input((4,)), graph, layers.Dense(1)])
    v = outer.init(jax.random.key(1))
    assert _shapes(v["params"]["model"]["sequential"]) == {
        "dense": {"bias": (3,), "kernel": (4, 3)},
        "dense_1": {"bias": (2,), "kernel": (3, 2)},
    }

    def loss(params, xb):
        y, _ = outer.apply({"params": params, "state": {}}, xb)
        return jnp.sum(y**2)

    g = jax.jit(jax.grad(loss))(v["params"], jnp.ones((5, 4)))
    assert _shapes(g) == _shapes(v["params"])
    per_example = jax.vmap(lambda xi: outer.apply(v, xi[None])[0][0])(jnp.ones((5, 4)))
    assert per_example.shape == (5, 1)


def test_config_round_trip_is_json_and_rebuilds_same_tree():
    a = jnet.Input((4,), name="a")
    h = layers.Dense(8, activation="relu", kernel_regularizer=jnet.regularizers.L2(0.1))(a)
    model = jnet.Model(a, [layers.Dense(1, name="p")(h), layers.Dense(3, name="q")(h)])
    config = json.loads(json.dumps(model.get_config()))
    clone = jnet.Model.from_config(config)
    assert clone.get_config() == model.get_config()
    assert _shapes(clone.init(jax.random.key(0))) == _shapes(model.init(jax.random.key(0)))


def test_set_get_weights_round_trip_and_shape_check():
    model = jnet.Sequential([layers.Dense(3, input_shape=(2,))])
    w = [np.arange(6, dtype=np.float32).reshape(2, 3), np.ones(3, np.float32)]
    model.set_weights(w)
    np.testing.assert_array_equal(model.get_weights()[0], w[0])
    with pytest.raises(ValueError, match="expects shape \\(2, 3\\)"):
        model.set_weights([np.zeros((3, 3)), np.ones(3)])


def test_regularizer_penalty_is_exposed():
    model = jnet.Sequential([layers.Dense(2, input_shape=(2,), kernel_regularizer=jnet.regularizers.L2(0.5))])
    model.set_weights([np.full((2, 2), 2.0, np.float32), np.zeros(2, np.float32)])
    assert float(model.penalty(model.current_variables()["params"])) == pytest.approx(0.5 * 16.0)


def test_trainable_false_shows_in_mask_and_summary(capsys):
    frozen = layers.Dense(2, input_shape=(3,), trainable=False)
    model = jnet.Sequential([frozen, layers.Dense(1)])
    mask = model.trainable_mask(model.current_variables()["params"])
    assert mask["dense"]["kernel"] is False and mask["dense_1"]["kernel"] is True
    model.summary()
    assert "Non-trainable params: 8" in capsys.readouterr().out


def test_sequential_pop_and_bad_add():
    model = jnet.Sequential([layers.Dense(4, input_shape=(3,)), layers.Dense(2)])
    assert model.pop().units == 2
    assert model(jnp.ones((1, 3))).shape == (1, 4)
    with pytest.raises(TypeError, match="expects a jnet layer"):
        model.add("dense")


def test_deferred_sequential_builds_from_first_data():
    model = jnet.Sequential([layers.Dense(4), layers.Dense(2)])
    assert not model.built
    assert model(jnp.ones((5, 7))).shape == (5, 2)
    assert model.get_weights()[0].shape == (7, 4)


def test_model_output_shape_follows_keras():
    a, b = jnet.Input((3,)), jnet.Input((None, 2))
    single = jnet.Model(a, layers.Dense(4)(a))
    assert single.output_shape == (None, 4)
    multi = jnet.Model([a, b], {"x": layers.Dense(1)(a), "y": layers.Dense(5)(b)})
    assert multi.output_shape == [(None, 1), (None, None, 5)]
    seq = jnet.Sequential([jnet.Input((7,)), layers.Dense(2)])
    assert seq.output_shape == (None, 2)


def test_int64_input_takes_int32_arrays_without_warning():
    # Without x64, JAX holds int64 data as int32: the model must not ask for int64 on every trace.
    import warnings

    x = jnet.Input((3,), dtype="int64")
    model = jnet.Model(x, jnet.layers.Embedding(10, 2)(x))
    model.compile("sgd", "mse")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        model.fit(np.ones((4, 3), "int64"), np.ones((4, 3, 2), "float32"), verbose=0)
        assert model.predict(np.ones((4, 3), "int64"), verbose=0).shape == (4, 3, 2)
