"""jnet.random: Keras's seed semantics eagerly, and keys from rng_scope under jit."""

import jax
import numpy as np
import pytest

import jnet
from jnet import random as jr


def test_int_seed_repeats_and_generator_advances():
    a = jr.normal((4,), seed=1)
    np.testing.assert_array_equal(a, jr.normal((4,), seed=1))
    gen = jr.SeedGenerator(3)
    x, y = jr.uniform((4,), seed=gen), jr.uniform((4,), seed=gen)
    assert not np.allclose(x, y)
    gen2 = jr.SeedGenerator(3)  # same seed: same sequence
    np.testing.assert_array_equal(x, jr.uniform((4,), seed=gen2))
    assert gen.state == 2


def test_distributions_shapes_ranges_and_moments():
    n = (20000,)
    u = jr.uniform(n, 2.0, 3.0, seed=0)
    assert u.dtype == np.float32 and 2.0 <= float(u.min()) and float(u.max()) < 3.0
    z = jr.normal(n, mean=1.0, stddev=2.0, seed=1)
    assert abs(float(z.mean()) - 1.0) < 0.05 and abs(float(z.std()) - 2.0) < 0.05
    t = jr.truncated_normal(n, stddev=1.0, seed=2)
    assert float(abs(t).max()) <= 2.0
    r = jr.randint((100,), 3, 7, seed=3)
    assert r.dtype == np.int32 and set(np.unique(r)) == {3, 4, 5, 6}
    c = jr.categorical(np.log(np.array([[0.0, 1.0], [1.0, 0.0]], "float32") + 1e-9), 5, seed=4)
    np.testing.assert_array_equal(c, [[1] * 5, [0] * 5])
    g = jr.gamma(n, 3.0, seed=5)
    assert abs(float(g.mean()) - 3.0) < 0.1
    b = jr.binomial(n, 10, 0.3, seed=6)
    assert b.dtype == np.float32 and abs(float(b.mean()) - 3.0) < 0.1
    be = jr.beta(n, 2.0, 6.0, seed=7)
    assert abs(float(be.mean()) - 0.25) < 0.01
    s = jr.shuffle(np.arange(10), seed=8)
    assert sorted(np.asarray(s).tolist()) == list(range(10))


def test_dropout_scales_and_rejects_bad_rate():
    x = np.ones((1000,), "float32")
    y = np.asarray(jr.dropout(x, 0.25, seed=0))
    assert set(np.unique(y).tolist()) <= {0.0, float(np.float32(1.0) / np.float32(0.75))}
    assert abs((y == 0).mean() - 0.25) < 0.05
    with pytest.raises(ValueError, match="rate"):
        jr.dropout(x, 1.0)


def test_none_seed_follows_global_seed():
    jnet.utils.set_random_seed(5)
    a = jr.normal((3,))
    jnet.utils.set_random_seed(5)
    np.testing.assert_array_equal(a, jr.normal((3,)))


def test_rng_scope_under_jit():
    gen = jr.SeedGenerator(7)

    @jax.jit
    def step(key):
        with jr.rng_scope(key):
            return jr.dropout(np.ones((64,), "float32"), 0.5, seed=gen), jr.normal((2,), seed=gen)

    a1, n1 = step(jax.random.key(0))
    a2, n2 = step(jax.random.key(1))
    a1b, n1b = step(jax.random.key(0))
    assert not np.array_equal(a1, a2)  # a different step key gives different draws
    np.testing.assert_array_equal(a1, a1b)  # the same key repeats them
    np.testing.assert_array_equal(n1, n1b)
    assert gen.state == 0  # the scope leaves the eager state alone
    with jr.rng_scope(jax.random.key(0)):
        k1, k2 = gen.next(), gen.next()
    assert not np.array_equal(jax.random.key_data(k1), jax.random.key_data(k2))  # draws differ within a scope


def test_bad_seed_is_rejected():
    with pytest.raises(ValueError, match="seed"):
        jr.normal((2,), seed="x")
    with pytest.raises(ValueError, match="uniform"):
        jr.uniform((2,), dtype="int32")
