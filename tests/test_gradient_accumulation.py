"""compile(..., gradient_accumulation_steps=N): N batches per update == one N-times-larger batch."""

import numpy as np
import pytest

import jnet
from jnet import optimizers


def _model():
    jnet.utils.set_random_seed(0)
    return jnet.Sequential([jnet.layers.Dense(6, activation="tanh", input_shape=(3,)), jnet.layers.Dense(2)])


def _data():
    rng = np.random.default_rng(1)
    return rng.normal(size=(16, 3)).astype(np.float32), rng.normal(size=(16, 2)).astype(np.float32)


def test_accumulated_steps_equal_one_large_batch():
    """Adam over several updates (tests/test_training.py checks one SGD update): the moments
    and step count advance once per N batches, exactly as with the N-times-larger batch."""
    make_opt = lambda: optimizers.Adam(0.01)  # noqa: E731
    x, y = _data()
    big = _model()
    big.compile(optimizer=make_opt(), loss="mse")
    big.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)  # 4 updates

    acc = _model()
    acc.compile(optimizer=make_opt(), loss="mse", gradient_accumulation_steps=2)
    acc.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)  # 8 batches, 4 updates

    plain = _model()
    plain.compile(optimizer=make_opt(), loss="mse")
    plain.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)  # 8 updates

    for a, b in zip(acc.get_weights(), big.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert max(np.max(np.abs(a - b)) for a, b in zip(plain.get_weights(), big.get_weights())) > 1e-3


def test_gradient_accumulation_steps_validated():
    model = _model()
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        model.compile(optimizer="sgd", loss="mse", gradient_accumulation_steps=0)
