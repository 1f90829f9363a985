"""Subclassed models whose `call` takes a list or a dict of inputs train, evaluate and predict
as in Keras 3 (the engine feeds flat arrays; the model puts them back in the structure)."""

import jax
import keras
import numpy as np
import pytest

import jnet


def make(K):
    class Pair(K.Model):
        def __init__(self):
            super().__init__()
            self.dense = K.layers.Dense(1)

        def call(self, inputs):
            a, b = inputs
            return self.dense(K.ops.concatenate([a, b], -1))

    class ByName(K.Model):
        def __init__(self):
            super().__init__()
            self.dense = K.layers.Dense(1)

        def call(self, inputs):
            return self.dense(K.ops.concatenate([inputs["a"], inputs["b"]], -1))

    return Pair(), ByName()


rng = np.random.default_rng(0)
A, B = rng.random((10, 3)).astype("float32"), rng.random((10, 2)).astype("float32")
Y = rng.random((10, 1)).astype("float32")


@pytest.mark.parametrize("kind", ["list", "dict"])
def test_fit_evaluate_predict_match_keras(kind):
    x = [A, B] if kind == "list" else {"a": A, "b": B}
    j = make(jnet)[kind == "dict"]
    k = make(keras)[kind == "dict"]
    for m in (j, k):
        m.compile("sgd", "mse")
    j(x)
    with jax.numpy_rank_promotion("allow"):  # Keras's own Dense adds a (1,) bias
        k(x)
        k.set_weights(j.get_weights())
        hk = k.fit(x, Y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
        k_pred, k_eval = k.predict(x, verbose=0), k.evaluate(x, Y, verbose=0)
    hj = j.fit(x, Y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(hj, hk, rtol=1e-5)
    np.testing.assert_allclose(j.predict(x, verbose=0), k_pred, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(j.evaluate(x, Y, verbose=0), k_eval, rtol=1e-5)
    assert j.input_names == (["input_0", "input_1"] if kind == "list" else ["a", "b"])


def test_unbuilt_model_builds_from_the_structure_and_refuses_another():
    model = make(jnet)[1]
    model.compile("sgd", "mse")
    assert np.isfinite(model.fit({"a": A, "b": B}, Y, verbose=0).history["loss"][0])
    with pytest.raises(ValueError, match="structured as"):
        model.predict({"a": A}, verbose=0)
