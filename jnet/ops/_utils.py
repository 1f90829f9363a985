"""Argument conversion shared by every op: unwrap Variables, apply Keras's default dtypes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jnet import config


def unwrap(x):
    """`x` with any object that defines `__jax_array__` (a jnet Variable) replaced by its array.
    jnp functions of this JAX version refuse such objects, so every op calls this first."""
    if hasattr(x, "__jax_array__") and not isinstance(x, jax.Array):
        return x.__jax_array__()
    return x


def unwrap_tree(tree):
    """`unwrap` applied to every leaf of a (possibly nested) structure."""
    return jax.tree_util.tree_map(unwrap, tree, is_leaf=lambda v: hasattr(v, "__jax_array__"))


def tensor(x, dtype=None):
    """`x` as a jax array, with Keras's defaults: Python floats become `floatx()`; lists of
    Variables and arrays are stacked."""
    x = unwrap(x)
    if dtype is not None:
        return jnp.asarray(unwrap_tree(x), dtype=dtype_of(dtype))
    if isinstance(x, jax.Array):
        return x
    if isinstance(x, float) or (isinstance(x, (list, tuple)) and _has_float(x)):
        return jnp.asarray(unwrap_tree(x), dtype=config.floatx())
    if isinstance(x, np.ndarray) and x.dtype == np.float64:
        return jnp.asarray(x, dtype=config.floatx())
    return jnp.asarray(unwrap_tree(x))


def _has_float(seq):
    for v in seq:
        if isinstance(v, (list, tuple)):
            if _has_float(v):
                return True
        elif isinstance(v, float):
            return True
    return False


def dtype_of(dtype):
    """A jnp dtype from any Keras dtype spelling (`None` -> `floatx()`)."""
    from jnet.backend import standardize_dtype

    return jnp.dtype(standardize_dtype(dtype))


def to_float(x):
    """`x` as an inexact array: integer and boolean inputs become `floatx()`, as Keras's
    transcendental ops do."""
    x = tensor(x)
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        x = x.astype(config.floatx())
    return x
