"""Shape ops on arrays of strings, computed with numpy.

JAX arrays hold no strings, so `jnet.ops.expand_dims(np.array(["a", "b"]), -1)` cannot run on
jax. As in Keras on TensorFlow, the shape ops (those that only move elements) take string
arrays: on one they run with numpy and return a numpy array of strings. In a graph model these
are the ops that may stand between a string `jnet.Input` and its string layer; they run in the
host stage (see `jnet.layers.preprocessing.host`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["STRING_OPS", "has_strings", "run_on_strings"]

_STRING_DTYPES = ("string", "str", "bytes", "object")


def _is_text(x) -> bool:
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "US" or (x.dtype.kind == "O" and x.size > 0 and isinstance(x.flat[0], (str, bytes)))
    if isinstance(x, (list, tuple)) and x:
        return _is_text(x[0]) if isinstance(x[0], (list, tuple, np.ndarray)) else isinstance(x[0], (str, bytes))
    return False


def _arr(x):
    return x if isinstance(x, np.ndarray) else np.asarray(x)


def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def _reshape(x, newshape):
    shape = (newshape,) if isinstance(newshape, int) else tuple(-1 if d is None else d for d in newshape)
    return np.reshape(_arr(x), shape)


def _squeeze(x, axis=None):
    x = _arr(x)
    if axis is not None:
        for a in axis if isinstance(axis, (tuple, list)) else (axis,):
            if x.shape[a] != 1:
                raise ValueError(f"squeeze: axis {a} of a tensor of shape {x.shape} does not have length 1")
    return np.squeeze(x, axis=_axis(axis))


def _convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    if dtype is not None and not (isinstance(dtype, str) and dtype in _STRING_DTYPES or dtype in (str, bytes, object)):
        raise ValueError(f"convert_to_tensor: strings cannot be converted to dtype {dtype!r}")
    if sparse or ragged:
        raise ValueError("convert_to_tensor: strings become a dense array (sparse and ragged are not supported)")
    return _arr(x)


STRING_OPS = {
    "expand_dims": lambda x, axis: np.expand_dims(_arr(x), _axis(axis)),
    "reshape": _reshape,
    "squeeze": _squeeze,
    "transpose": lambda x, axes=None: np.transpose(_arr(x), axes),
    "ravel": lambda x: np.ravel(_arr(x)),
    "concatenate": lambda xs, axis=0: np.concatenate([_arr(x) for x in xs], axis=axis),
    "stack": lambda x, axis=0: np.stack([_arr(v) for v in x], axis=axis),
    "convert_to_tensor": _convert_to_tensor,
}


def has_strings(args, kwargs) -> bool:
    """Whether an op's arguments hold a string array (or a list of them, for concatenate/stack)."""
    for a in list(args) + list(kwargs.values()):
        if _is_text(a):
            return True
    return False


def run_on_strings(name, args, kwargs):
    """`jnet.ops.<name>(*args, **kwargs)` on string arrays, with numpy.

    Raises:
        TypeError: for an op that does not take strings.
    """
    fn = STRING_OPS.get(name.rsplit(".", 1)[-1])
    if fn is None:
        raise TypeError(
            f"ops.{name} got an array of strings; of jnet.ops only the shape ops take strings "
            f"({', '.join(sorted(STRING_OPS))})"
        )
    return fn(*args, **kwargs)
