"""Keras example "Endpoint layer pattern" (keras-io examples/keras_recipes/endpoint_layer_pattern.py,
Keras 3 form: the loss goes through `add_loss`, Keras 3 has no `add_metric`), ported with
`import jnet as keras`, `from jnet import ops`; LogisticEndpoint, the functional training model,
the inference-only model sharing its weights and the subclassed LogReg are the example's.
Sizes: 1000 rows of 764 features -> 32 rows of 12, 2 epochs -> 1."""

import numpy as np
from guide_util import frameworks, guide_broadcasting, keras_ok  # noqa: F401

JNET, KERAS = frameworks()
N, D = 32, 12


def example(keras, ops):
    class LogisticEndpoint(keras.layers.Layer):
        def __init__(self, name=None):
            super().__init__(name=name)
            self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

        def call(self, logits, targets=None, sample_weight=None):
            if targets is not None:
                # Compute the training-time loss value and add it
                # to the layer using `self.add_loss()`.
                loss = self.loss_fn(targets, logits, sample_weight)
                self.add_loss(loss)

            # Return the inference-time prediction tensor (for `.predict()`).
            return ops.softmax(logits)

    def functional():
        inputs = keras.Input((D,), name="inputs")
        logits = keras.layers.Dense(1)(inputs)
        targets = keras.Input((1,), name="targets")
        sample_weight = keras.Input((1,), name="sample_weight")
        preds = LogisticEndpoint()(logits, targets, sample_weight)
        return keras.Model([inputs, targets, sample_weight], preds)

    def inference():
        inputs = keras.Input((D,), name="inputs")
        logits = keras.layers.Dense(1)(inputs)
        preds = LogisticEndpoint()(logits, targets=None, sample_weight=None)
        return keras.Model(inputs, preds)

    class LogReg(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1)
            self.logistic_endpoint = LogisticEndpoint()

        def call(self, inputs):
            # Note that all inputs should be in the first argument
            # since we want to be able to call `model.fit(inputs)`.
            logits = self.dense(inputs["inputs"])
            preds = self.logistic_endpoint(
                logits=logits, targets=inputs["targets"], sample_weight=inputs["sample_weight"]
            )
            return preds

    return functional, inference, LogReg


def make_data(seed):
    rng = np.random.default_rng(seed)
    return {
        "inputs": rng.random((N, D)).astype("float32"),
        "targets": rng.random((N, 1)).astype("float32"),
        "sample_weight": rng.random((N, 1)).astype("float32"),
    }


def test_functional_endpoint_matches_keras():
    data = make_data(0)
    functional, inference, _ = example(JNET[0], JNET[2])
    model = functional()
    with keras_ok():
        kfunctional, _, _ = example(KERAS[0], KERAS[2])
        km = kfunctional()
        km.set_weights([np.asarray(w) for w in model.get_weights()])
    model.compile(JNET[0].optimizers.Adam(1e-3))
    km.compile(KERAS[0].optimizers.Adam(1e-3))
    jh = model.fit(data, epochs=1, batch_size=8, shuffle=False, verbose=0).history
    with keras_ok():
        kh = km.fit(data, epochs=1, batch_size=8, shuffle=False, verbose=0).history
    np.testing.assert_allclose(jh["loss"], kh["loss"], rtol=1e-4, atol=1e-6)
    for a, b in zip(model.get_weights(), km.get_weights()):
        np.testing.assert_allclose(np.asarray(a), b, rtol=1e-4, atol=1e-6)

    # The inference-only model takes the trained weights; softmax over one unit is 1.
    inference_model = inference()
    inference_model.set_weights(model.get_weights())
    preds = inference_model.predict(make_data(1)["inputs"], verbose=0)
    np.testing.assert_allclose(preds, np.ones((N, 1)), rtol=1e-6)


def test_subclassed_endpoint_call():
    data = make_data(2)
    _, _, LogReg = example(JNET[0], JNET[2])
    model = LogReg()
    preds = model(data)
    # The added loss is the weighted BCE of the logits (Keras's sum-over-batch-size reduction).
    w, b = [np.asarray(v) for v in model.get_weights()]
    z = data["inputs"] @ w + b
    t, sw = data["targets"], data["sample_weight"]
    bce = np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))
    np.testing.assert_allclose(float(model.losses[0]), np.mean(bce * sw), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(preds), np.ones((N, 1)))


def test_subclassed_endpoint_fit():
    data = make_data(2)
    _, _, LogReg = example(JNET[0], JNET[2])
    model = LogReg()
    model.compile(JNET[0].optimizers.Adam(1e-3))
    history = model.fit(data, epochs=1, batch_size=8, verbose=0).history
    assert np.isfinite(history["loss"][0])
