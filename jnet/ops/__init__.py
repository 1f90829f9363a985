"""`jnet.ops`: the backend-neutral tensor functions of `keras.ops`, on JAX.

Every op takes jax arrays, NumPy arrays, Python scalars/lists or jnet Variables and returns
jax arrays, so they work eagerly and under `jax.jit` / `grad` alike.

```python
from jnet import ops
x = ops.reshape(ops.arange(6), (2, 3))
ops.softmax(ops.cast(x, "float32"))
```
Sub-namespaces: `ops.numpy`, `ops.nn`, `ops.math`, `ops.linalg`, `ops.image`, `ops.core`.
"""

from jnet.ops import core, image, linalg, math, nn, numpy  # noqa: F401
from jnet.ops import _einops, _nn_activations, _nn_conv, _nn_misc
from jnet.ops import _numpy_create, _numpy_elementwise, _numpy_reduce, _numpy_shape
from jnet.ops.numpy import _public

# the flat namespace holds every op (as keras.ops does), image ops excepted
for _m in (_numpy_create, _numpy_elementwise, _numpy_reduce, _numpy_shape, _nn_activations, _nn_conv, _nn_misc,
           math, linalg, core, _einops):
    globals().update(_public(_m))
del _m
