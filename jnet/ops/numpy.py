"""`jnet.ops.numpy`: the numpy-like ops of `keras.ops.numpy`, on `jax.numpy`."""

from jnet.ops import _numpy_create as _create
from jnet.ops import _numpy_elementwise as _elementwise
from jnet.ops import _numpy_reduce as _reduce
from jnet.ops import _numpy_shape as _shape


def _public(module):
    """The ops a module defines (not the helpers and modules it imports)."""
    return {
        k: v
        for k, v in vars(module).items()
        if not k.startswith("_") and callable(v) and getattr(v, "__module__", None) == module.__name__
    }


for _m in (_create, _elementwise, _reduce, _shape):
    globals().update(_public(_m))
del _m
