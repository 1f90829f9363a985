"""Random draws, as in `keras.random`: `normal`, `uniform`, `dropout`, ..., and `SeedGenerator`.

A `seed` is an int (the same numbers every call), a `SeedGenerator` (fresh numbers every
call), a jax key, or `None` (a fresh draw from the global seed, `jnet.utils.set_random_seed`).

Eagerly a `SeedGenerator` holds a counter that advances each draw. Inside
`rng_scope(key)` (entered by a layer's pure `apply` with the step's key) it instead returns
`fold_in(fold_in(key, seed), k)` for its k-th draw (seed: the generator's int seed) in that scope and leaves its own
state alone, so jitted steps differ when their key differs and repeat when it is the same.

```python
gen = jnet.random.SeedGenerator(42)
a = jnet.random.normal((2,), seed=gen)
b = jnet.random.normal((2,), seed=gen)   # differs from a
with jnet.random.rng_scope(jax.random.key(0)):
    c = jnet.random.uniform((2,), seed=gen)   # from the scope's key
```
"""

from __future__ import annotations

import contextlib
import itertools
import threading

import jax
import jax.numpy as jnp

from jnet import config
from jnet.ops._utils import unwrap
from jnet.utils import rng as _rng

_local = threading.local()
_ids = itertools.count()


def _scopes():
    if not hasattr(_local, "stack"):
        _local.stack = []
    return _local.stack


@contextlib.contextmanager
def rng_scope(key):
    """Within this block, `SeedGenerator`s draw from `key` (a typed or raw jax key) without
    changing their eager state; the k-th draw in the scope of a generator made with int
    `seed` is `fold_in(fold_in(key, seed), k)`. Scopes nest; the innermost is used."""
    key = draw_seed(key)  # a typed key from an int, raw key data or a typed key
    scope = {"key": key, "counts": {}}
    _scopes().append(scope)
    try:
        yield scope
    finally:
        _scopes().pop()


def in_rng_scope():
    """Whether an `rng_scope` is active in this thread."""
    return bool(_scopes())


class SeedGenerator:
    """A source of fresh keys: each `next()` gives a new one.

    Args:
        seed: Int initial seed; `None` takes one from the global seed.
        name: Optional name.

    Example:
    >>> gen = jnet.random.SeedGenerator(1)
    >>> jnet.random.uniform((3,), seed=gen)
    """

    def __init__(self, seed=None, name=None, **kwargs):
        if seed is None:
            seed = int(jax.random.randint(_rng.next_key(), (), 0, 2**31 - 1))
        if not isinstance(seed, int):
            raise ValueError(f"SeedGenerator: `seed` must be an int or None; received {seed!r}")
        self.name = name or f"seed_generator_{next(_ids)}"
        self._initial_seed = seed
        self._id = next(_ids)
        self.state = 0  # draws made eagerly

    def next(self, ordered=True):
        """A new jax key (typed)."""
        scopes = _scopes()
        if scopes:
            scope = scopes[-1]
            k = scope["counts"].get(self._id, 0)
            scope["counts"][self._id] = k + 1
            base = jax.random.fold_in(scope["key"], self._initial_seed)
            return jax.random.fold_in(base, k)
        key = jax.random.fold_in(jax.random.key(self._initial_seed), self.state)
        self.state += 1
        return key

    def get_config(self):
        return {"seed": self._initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def draw_seed(seed):
    """A jax key from a Keras-style `seed` (int, SeedGenerator, jax key or None).

    Raises:
        ValueError: for any other kind of seed.
    """
    if isinstance(seed, SeedGenerator):
        return seed.next()
    if seed is None:
        return _rng.next_key()
    if isinstance(seed, int) and not isinstance(seed, bool):
        return jax.random.key(seed)
    if isinstance(seed, jax.Array):
        if jnp.issubdtype(seed.dtype, jax.dtypes.prng_key):
            return seed
        if seed.dtype == jnp.uint32 and seed.shape == (2,):
            return jax.random.wrap_key_data(seed)
        if seed.ndim == 0 and jnp.issubdtype(seed.dtype, jnp.integer):
            return jax.random.key(seed)
    raise ValueError(f"seed must be an int, a SeedGenerator, a jax key or None; received {seed!r}")


def _dt(dtype):
    return jnp.dtype(dtype or config.floatx())


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Samples from a normal distribution."""
    return jax.random.normal(draw_seed(seed), tuple(shape), _dt(dtype)) * stddev + mean


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Samples from a uniform distribution on `[minval, maxval)`.

    Raises:
        ValueError: for a non-float dtype (use `randint`).
    """
    dt = _dt(dtype)
    if not jnp.issubdtype(dt, jnp.floating):
        raise ValueError(f"uniform: `dtype` must be a float type (use randint for ints); received {dt}")
    return jax.random.uniform(draw_seed(seed), tuple(shape), dt, minval, maxval)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Samples from a normal distribution truncated to two standard deviations."""
    dt = _dt(dtype)
    return jax.random.truncated_normal(draw_seed(seed), -2.0, 2.0, tuple(shape), dt) * stddev + mean


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers uniformly from `[minval, maxval)`."""
    return jax.random.randint(draw_seed(seed), tuple(shape), minval, maxval, jnp.dtype(dtype))


def categorical(logits, num_samples, dtype="int32", seed=None):
    """`num_samples` class indices per row of the 2-D `logits`: shape `(batch, num_samples)`."""
    logits = jnp.asarray(unwrap(logits))
    if logits.ndim != 2:
        raise ValueError(f"categorical: `logits` must be 2-D (batch, classes); received shape {logits.shape}")
    out = jax.random.categorical(draw_seed(seed), logits[:, None, :], axis=-1, shape=(logits.shape[0], num_samples))
    return out.astype(dtype)


def dropout(inputs, rate, noise_shape=None, seed=None):
    """`inputs` with each entry zeroed with probability `rate`, the rest scaled by `1 / (1 - rate)`.

    Raises:
        ValueError: when `rate` is not in [0, 1).
    """
    if not 0 <= rate < 1:
        raise ValueError(f"dropout: `rate` must be in [0, 1); received {rate}")
    x = jnp.asarray(unwrap(inputs))
    shape = x.shape if noise_shape is None else tuple(d if d is not None else s for d, s in zip(noise_shape, x.shape))
    keep = jax.random.bernoulli(draw_seed(seed), 1.0 - rate, shape)
    return jnp.where(keep, x / (1.0 - rate), jnp.zeros_like(x))


def shuffle(x, axis=0, seed=None):
    """`x` permuted randomly along `axis`."""
    return jax.random.permutation(draw_seed(seed), jnp.asarray(unwrap(x)), axis=axis, independent=False)


def gamma(shape, alpha, dtype=None, seed=None):
    """Samples from a Gamma(alpha, 1) distribution."""
    return jax.random.gamma(draw_seed(seed), alpha, tuple(shape), _dt(dtype))


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    """Samples from Binomial(`counts`, `probabilities`), as floats by default."""
    dt = _dt(dtype)
    out = jax.random.binomial(
        draw_seed(seed), jnp.asarray(counts, "float32"), jnp.asarray(probabilities, "float32"), tuple(shape)
    )
    return out.astype(dt)


def beta(shape, alpha, beta, dtype=None, seed=None):
    """Samples from a Beta(`alpha`, `beta`) distribution."""
    return jax.random.beta(draw_seed(seed), alpha, beta, tuple(shape), _dt(dtype))
