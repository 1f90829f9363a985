"""Initial values of many variables at once, fast, with exactly the values of the one-by-one path.

Each variable's value is `variable.initial_value(path_key(key, path))`; this module only changes
how that is computed. On CPU, XLA compiles every random draw's threefry hash as its own loop, and
for a big model (ResNet50: 54 random kernels) that compilation is most of the first call. So:

- constant initializers (`Zeros`, `Ones`, `Constant`) are filled on the host and copied over:
  nothing to compile;
- the random bits of every weight drawn by jnet's normal/uniform initializers are hashed in one
  threefry loop over all their elements (chunked), then each initializer turns its weight's bits
  into values itself: it is handed a key of a "replay" PRNG implementation whose `random_bits`
  returns those bits. This reproduces jax's bits exactly because, with
  `jax_threefry_partitionable` (jax's default), element `i` of a draw from `key` is
  `threefry(key, (0, i))` folded to one word, the same hash `fold_in(key, i)` applies;
- anything else (orthogonal, a seeded or a user's initializer, another PRNG) draws as before;
- all of it is one jitted program, cached per process by the weights' initializers, shapes and
  dtypes, so building the same model again compiles nothing.
"""

from __future__ import annotations

import dataclasses
import functools
import zlib

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["initial_values", "path_hash"]

# Elements hashed by one threefry loop: bounds the loop's temporaries (five uint32 arrays).
CHUNK = 1 << 24


def path_hash(path: str) -> int:
    """The number `path_key` folds into the key for the variable at `path`."""
    return zlib.crc32(path.encode()) & 0x7FFFFFFF


def initial_values(key, pairs) -> list:
    """`[variable.initial_value(path_key(key, path)) for path, variable in pairs]`, with few
    compilations (see the module docstring).

    Args:
        key: a PRNG key (typed or raw), the key of this initialisation.
        pairs: `[(path, Variable)]`, the variables to initialise and their paths.

    Returns:
        The initial arrays, in the order of `pairs`.

    Example:
    ```python
    values = initial_values(jax.random.key(0), variable_paths(layer._variable_tree()))
    ```
    """
    out = [None] * len(pairs)
    drawn = []
    for i, (_, v) in enumerate(pairs):
        if v.initializer is None:
            out[i] = v.initial_value(None)
            continue
        fill = _constant_fill(v)
        if fill is not None:
            out[i] = jnp.asarray(np.full(v.shape, fill))
        else:
            drawn.append(i)
    if not drawn:
        return out
    replay = _threefry_partitionable(key)
    plans = tuple(_plan(pairs[i][1], replay) for i in drawn)
    hashes = np.asarray([path_hash(pairs[i][0]) for i in drawn], np.uint32)
    for i, value in zip(drawn, _program(plans, [pairs[i][1] for i in drawn])(key, hashes)):
        out[i] = value
    return out


# --------------------------------------------------------------------------- sorting the weights


def _constant_fill(v):
    """The scalar a constant initializer fills `v` with (a numpy scalar of `v.dtype`), else None."""
    from jnet import initializers

    init, kind = v.initializer, type(v.initializer)
    if kind not in (initializers.Zeros, initializers.Ones, initializers.Constant):
        return None
    try:
        dtype = np.dtype(v.dtype)
    except TypeError:  # a key dtype: left to the initializer
        return None
    if kind is initializers.Zeros:
        return np.zeros((), dtype)
    if kind is initializers.Ones:
        return np.ones((), dtype)
    if not isinstance(init.value, (int, float)) or isinstance(init.value, bool):
        return None
    # Converted by jax, as `jnp.full` converts it inside the initializer.
    return np.asarray(_fill_scalar(init.value, dtype.name))


@functools.lru_cache(maxsize=64)
def _fill_scalar(value, dtype):
    return jax.device_get(jnp.full((), value, dtype))


def _threefry_partitionable(key) -> bool:
    """Whether draws from `key` hash element `i` as `threefry(key, (0, i))` (see the module
    docstring), so their bits can be hashed together."""
    if not jax.config.jax_threefry_partitionable:
        return False
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        return str(jax.random.key_impl(key)) == "threefry2x32"
    return jax.config.jax_default_prng_impl == "threefry2x32"


def _plan(v, replay):
    """How weight `v` is drawn: `("replay", signature)` (bits hashed with the others), `("draw",
    signature)` (its initializer draws them) or `("custom", None)` (a user's initializer: drawn
    the same way, but its program is not cached). Equal plans draw equal values."""
    init = v.initializer
    if type(init).__module__ != "jnet.initializers" or not dataclasses.is_dataclass(init):
        return ("custom", None)
    fields = tuple((f.name, getattr(init, f.name)) for f in dataclasses.fields(init))
    try:
        hash(fields)
        dtype = np.dtype(v.dtype)
    except TypeError:  # an unhashable config, a key dtype
        return ("custom", None)
    signature = (type(init), fields, v.shape, dtype.name)
    replayable = (
        replay
        and isinstance(init, _replayable_kinds())
        and getattr(init, "seed", None) is None
        and jnp.issubdtype(dtype, jnp.floating)
        and 0 < v.size < 2**32
    )
    return ("replay" if replayable else "draw", signature)


def _replayable_kinds():
    """Initializers that draw one normal or uniform array of the weight's own shape from the key
    (looked up late: `jnet.initializers` imports `jnet.core`)."""
    from jnet import initializers

    return (
        initializers.RandomNormal,
        initializers.RandomUniform,
        initializers.TruncatedNormal,
        initializers.VarianceScaling,
    )


# --------------------------------------------------------------------------- the program

_PROGRAMS: dict = {}


def _program(plans, variables):
    """The compiled `(key, path hashes) -> [initial arrays]` for weights drawn by `plans`."""
    cacheable = all(kind != "custom" for kind, _ in plans)
    program = _PROGRAMS.get(plans) if cacheable else None
    if program is not None:
        return program
    # Initializers, shapes and dtypes only: a cached program must not keep layers alive.
    specs = [(v.initializer, v.shape, v.dtype) for v in variables]
    replayed = [j for j, (kind, _) in enumerate(plans) if kind == "replay"]

    def draw_all(key, hashes):
        keys = jax.vmap(lambda h: jax.random.fold_in(key, h))(hashes)
        out = [None] * len(specs)
        for chunk in _chunks(replayed, specs):
            for j, value in zip(chunk, _replay_chunk(keys, chunk, specs)):
                out[j] = value
        for j, (init, shape, dtype) in enumerate(specs):
            if out[j] is None:
                out[j] = _as(init(keys[j], shape, dtype), dtype)
        return out

    program = jax.jit(draw_all)
    if cacheable:
        if len(_PROGRAMS) >= 256:
            _PROGRAMS.clear()
        _PROGRAMS[plans] = program
    return program


def _as(value, dtype):
    return jnp.asarray(value, dtype)  # as `Variable.initial_value`


def _chunks(indices, specs):
    """`indices` in runs of at most `CHUNK` elements (a bigger weight alone)."""
    chunks, current, size = [], [], 0
    for j in indices:
        n = int(np.prod(specs[j][1]))
        if current and size + n > CHUNK:
            chunks.append(current)
            current, size = [], 0
        current.append(j)
        size += n
    return chunks + ([current] if current else [])


def _replay_chunk(keys, chunk, specs):
    """The weights of `chunk`, their bits hashed by one threefry loop over all their elements."""
    from jax.extend.random import threefry2x32_p

    data = keys if keys.dtype == jnp.uint32 else jax.random.key_data(keys)
    sizes = [int(np.prod(specs[j][1])) for j in chunk]
    # Built from a runtime value so XLA does not constant-fold millions of counters.
    zero = (data[0, 0] & 0).astype(jnp.uint32)
    k1 = jnp.concatenate([jnp.broadcast_to(data[j, 0], (n,)) for j, n in zip(chunk, sizes)])
    k2 = jnp.concatenate([jnp.broadcast_to(data[j, 1], (n,)) for j, n in zip(chunk, sizes)])
    counts = jnp.concatenate([jax.lax.iota(jnp.uint32, n) + zero for n in sizes])
    x1, x2 = threefry2x32_p.bind(k1, k2, jnp.zeros_like(counts), counts)
    values, start = [], 0
    for j, n in zip(chunk, sizes):
        init, shape, dtype = specs[j]
        words = jnp.stack([x1[start : start + n].reshape(shape), x2[start : start + n].reshape(shape)], -1)
        values.append(_as(init(jax.random.wrap_key_data(words, impl=_replay_impl(shape)), shape, dtype), dtype))
        start += n
    return values


@functools.cache
def _replay_impl(shape):
    """A PRNG implementation whose key of shape `shape + (2,)` holds a draw's two threefry
    words per element, and whose `random_bits` folds them as jax's threefry does."""
    from jax.extend.random import define_prng_impl

    def random_bits(words, bit_width, bits_shape):
        if tuple(bits_shape) != shape:
            raise ValueError(f"replayed bits have shape {shape}, a draw of shape {tuple(bits_shape)} was asked")
        x1, x2 = words[..., 0], words[..., 1]
        if bit_width == 64:
            return (x1.astype(jnp.uint64) << 32) | x2.astype(jnp.uint64)
        bits = x1 ^ x2
        return bits if bit_width == 32 else bits.astype(jnp.dtype(f"uint{bit_width}"))

    def not_a_key(*args):
        raise TypeError("replayed bits cannot seed, split or fold a key")

    return define_prng_impl(
        key_shape=shape + (2,),
        seed=not_a_key,
        split=not_a_key,
        random_bits=random_bits,
        fold_in=not_a_key,
        name=f"jnet_replay{shape}",
    )
