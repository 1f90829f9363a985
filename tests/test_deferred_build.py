"""Deferred building as in Keras: a Sequential without an input shape builds on first call or
fit, `summary()` before that prints what is known, and `build(input_shape)` works on every
model kind."""

import io
import re

import jax
import numpy as np
import pytest

import jnet
from jnet import layers

keras = pytest.importorskip("keras")


def _summary(model):
    out = io.StringIO()
    model.summary(print_fn=lambda line, **kw: out.write(line + "\n"))
    return out.getvalue()


def _totals(text):
    """The three totals lines, with Keras's box characters dropped."""
    return [re.sub(r"\s+", " ", line).strip() for line in text.splitlines() if "params:" in line]


def test_unbuilt_sequential_summary_then_fit_builds_it():
    model = jnet.Sequential([layers.Dense(3), layers.Dense(1)])
    kmodel = keras.Sequential([keras.layers.Dense(3), keras.layers.Dense(1)])
    text = _summary(model)
    assert not model.built and model.weights == []
    assert text.count("0 (unbuilt)") == 2 and "?" in text
    assert _totals(text) == _totals(_summary(kmodel))  # "Total params: 0 (0.00 B)", ...
    model.compile("adam", "mse")
    model.fit(np.ones((8, 5), "float32"), np.zeros((8, 1), "float32"), verbose=0)
    assert model.built
    with jax.numpy_rank_promotion("allow"):
        kmodel.build((None, 5))
    text = _summary(model)
    assert "(None, 3)" in text and "(None, 1)" in text and "unbuilt" not in text
    assert _totals(text) == _totals(_summary(kmodel))  # "Total params: 22 (88.00 B)", ...


def test_sequential_builds_on_first_call_and_on_build():
    model = jnet.Sequential([layers.Dense(3)])
    assert model(np.ones((2, 4), "float32")).shape == (2, 3)
    assert model.count_params() == 15
    model = jnet.Sequential()
    model.add(layers.Dense(3))
    with pytest.raises(ValueError, match="not built"):
        model.count_params()
    model.build((None, 6))
    assert model.built and model.count_params() == 21
    assert model.predict(np.ones((5, 6), "float32"), verbose=0).shape == (5, 3)
    model.build((None, 6))  # the same shape again: nothing to do
    with pytest.raises(ValueError, match="cannot be built with input_shape"):
        model.build((None, 7))  # Keras refuses too


def test_functional_build_checks_the_shape():
    inp = jnet.Input((4,))
    model = jnet.Model(inp, layers.Dense(2)(inp))
    model.build((None, 4))
    model.build((8, 4))
    with pytest.raises(ValueError, match=r"already built for input shape\(s\) \(None, 4\)"):
        model.build((None, 5))


def test_subclassed_model_build_creates_its_weights():
    class Net(jnet.Model):
        def __init__(self):
            super().__init__()
            self.hidden = layers.Dense(3)
            self.out = layers.Dense(1)

        def call(self, x):
            return self.out(self.hidden(x))

    model = Net()
    assert "0 (unbuilt)" in _summary(model)
    model.build((None, 4))  # Keras 3 warns and builds nothing here; jnet builds the layers
    assert model.built and model.count_params() == 4 * 3 + 3 + 3 + 1
    assert model(np.ones((2, 4), "float32")).shape == (2, 1)
    assert "unbuilt" not in _summary(model)


def test_build_config_round_trip():
    layer = layers.Dense(3)
    layer.build((None, 4))
    config = layer.get_build_config()
    assert config == {"input_shape": (None, 4)}
    fresh = layers.Dense.from_config(layer.get_config())
    fresh.build_from_config(config)
    assert fresh.built and [w.shape for w in fresh.weights] == [(4, 3), (3,)]

    model = jnet.Sequential([layers.Dense(3)])
    model.build((None, 4))
    clone = jnet.Sequential.from_config(model.get_config())
    clone.build_from_config(model.get_build_config())
    assert clone.built and clone.count_params() == model.count_params()


def test_clone_model_sequential_has_fresh_weights():
    model = jnet.Sequential([jnet.Input((4,)), layers.Dense(3), layers.Dense(1)])
    clone = jnet.models.clone_model(model)
    assert clone is not model and clone.inputs[0].shape == (None, 4)
    assert [l.name for l in clone.layers] == [l.name for l in model.layers]
    assert all(a is not b for a, b in zip(clone.layers, model.layers))
    assert not np.allclose(clone.get_weights()[0], model.get_weights()[0])  # new weights
    clone.set_weights(model.get_weights())
    x = np.ones((2, 4), "float32")
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    with pytest.raises(ValueError, match="call_function is for functional models"):
        jnet.models.clone_model(model, call_function=lambda layer, *a, **k: layer(*a, **k))


def test_clone_model_functional_with_clone_call_functions_and_inputs():
    inp = jnet.Input((4,), name="x")
    shared = layers.Dense(4)
    h = shared(inp)
    model = jnet.Model({"x": inp}, [h, layers.Dense(2)(shared(h))])

    def add_dropout(layer, *args, **kwargs):
        out = layer(*args, **kwargs)
        return layers.Dropout(0.5)(out) if isinstance(layer, layers.Dense) else out

    clone = jnet.models.clone_model(model, call_function=add_dropout)
    assert [type(l).__name__ for l in clone.layers].count("Dropout") == 3
    assert clone.count_params() == model.count_params()  # the shared layer is cloned once
    clone.set_weights(model.get_weights())
    x = {"x": np.ones((2, 4), "float32")}
    for a, b in zip(clone.predict(x, verbose=0), model.predict(x, verbose=0)):  # inference: dropout is off
        np.testing.assert_allclose(a, b, atol=1e-6)
    renamed = jnet.models.clone_model(
        model,
        clone_function=lambda layer: (
            layers.Dense(layer.units, name="d_" + layer.name) if isinstance(layer, layers.Dense) else layer
        ),
        input_tensors={"x": jnet.Input((4,))},
    )
    assert all(l.name.startswith("d_") for l in renamed.layers[1:])


def test_clone_model_recursive_and_subclassed():
    inner = jnet.Sequential([jnet.Input((4,)), layers.Dense(3)])
    outer = jnet.Sequential([jnet.Input((4,)), inner, layers.Dense(1)])
    names = []
    clone = jnet.models.clone_model(
        outer, clone_function=lambda l: names.append(l.name) or type(l).from_config(l.get_config()), recursive=True
    )
    assert clone.layers[0] is not inner and len(names) == 2  # the Dense layers, not the inner model
    assert clone.count_params() == outer.count_params()

    class Net(jnet.Model):
        def __init__(self, units=2, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.dense = layers.Dense(units)

        def call(self, x):
            return self.dense(x)

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    copy = jnet.models.clone_model(Net(units=5))
    assert isinstance(copy, Net) and copy.units == 5
    with pytest.raises(ValueError, match="subclassed"):
        jnet.models.clone_model(Net(), clone_function=lambda l: l)


def test_graph_utils_get_source_inputs_and_is_keras_tensor():
    a, b = jnet.Input((4,)), jnet.Input((3,))
    y = layers.Concatenate()([layers.Dense(2)(a), b])
    assert jnet.utils.get_source_inputs(y) == [a, b]
    assert jnet.utils.is_keras_tensor(y) and not jnet.utils.is_keras_tensor(np.ones(2))
    with pytest.raises(ValueError, match="get_source_inputs"):
        jnet.utils.get_source_inputs(np.ones(2))
