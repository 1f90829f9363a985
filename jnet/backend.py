"""Backend utilities, as in `keras.backend`: settings, dtype names and promotion, session reset.

```python
from jnet import backend
backend.standardize_dtype(int)            # "int32"
backend.result_type("int8", "uint8")      # "int16"
```
"""

from __future__ import annotations

import collections
import gc

import jax
import jax.numpy as jnp
import numpy as np

from jnet.config import backend, epsilon, floatx, image_data_format, set_epsilon, set_floatx, set_image_data_format  # noqa: F401  (re-exported, as keras.backend does)

_PYTHON_DTYPES = {bool: "bool", int: "int32", float: "float32", complex: "complex64", str: "string"}
_STRING_ALIASES = {"int": "int32", "float": "float32", "double": "float64", "uint": "uint32"}
_uids = collections.defaultdict(int)


def standardize_dtype(dtype=None):
    """The canonical string name of a dtype: `None` -> `floatx()`, `int` -> `"int32"`,
    `np.float32` / `jnp.float32` / `"float32"` -> `"float32"`.

    Raises:
        ValueError: when `dtype` names no dtype.
    """
    if dtype is None:
        return floatx()
    if dtype in _PYTHON_DTYPES:
        return _PYTHON_DTYPES[dtype]
    if isinstance(dtype, str):
        dtype = _STRING_ALIASES.get(dtype, dtype)
        if dtype == "string":
            return dtype
    if hasattr(dtype, "name") and not isinstance(dtype, (np.dtype, type)):
        dtype = dtype.name  # e.g. a DTypePolicy or an object with a dtype name
    try:
        return jnp.dtype(dtype).name
    except TypeError as err:
        raise ValueError(f"standardize_dtype: invalid dtype {dtype!r}") from err


def is_float_dtype(dtype):
    """Whether `dtype` is a floating-point type."""
    return np.issubdtype(jnp.dtype(standardize_dtype(dtype)), np.floating)


def is_int_dtype(dtype):
    """Whether `dtype` is a (signed or unsigned) integer type."""
    return np.issubdtype(jnp.dtype(standardize_dtype(dtype)), np.integer)


def result_type(*dtypes):
    """The dtype an op on arguments of these dtypes returns (JAX's promotion lattice, so
    `int8 + uint8 -> int16`, `int + float -> float`); Python `int`/`float` are weak types and
    a Python float turns an integer result into `floatx()`. With no arguments: `floatx()`.

    Example:
    >>> jnet.backend.result_type("int32", "float16")
    'float16'
    """
    strong = [standardize_dtype(d) for d in dtypes if d not in (int, float, bool, complex)]
    weak = [d for d in dtypes if d in (int, float, bool, complex)]
    if not strong:
        if not weak:
            return floatx()
        order = [bool, int, float, complex]
        widest = max(weak, key=order.index)
        return floatx() if widest is float else _PYTHON_DTYPES[widest]
    out = jnp.dtype(strong[0])
    for d in strong[1:]:
        out = jnp.promote_types(out, d)
    if float in weak and not jnp.issubdtype(out, jnp.inexact):
        out = jnp.dtype(floatx())
    elif int in weak and out == jnp.bool_:
        out = jnp.dtype("int32")
    return out.name


def is_keras_tensor(x):
    """Whether `x` is a symbolic tensor of a graph model (made by `jnet.Input` or a layer/op
    called on one). Symbolic tensors carry the class attribute `_keras_tensor = True`."""
    return bool(getattr(x, "_keras_tensor", False))


def get_uid(prefix=""):
    """A counter per prefix: 1 on the first call with `prefix`, then 2, 3, ..."""
    _uids[prefix] += 1
    return _uids[prefix]


def clear_session(free_memory=True):
    """Reset the uid counters and, with `free_memory`, run the garbage collector and drop
    JAX's compilation caches."""
    _uids.clear()
    if free_memory:
        gc.collect()
        jax.clear_caches()
