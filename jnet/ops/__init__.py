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

from jnet.ops import (  # noqa: F401
    _einops,
    _nn_activations,
    _nn_conv,
    _nn_ctc,
    _nn_misc,
    _numpy_create,
    _numpy_elementwise,
    _numpy_reduce,
    _numpy_shape,
    core,
    image,
    linalg,
    math,
    nn,
    numpy,
)
from jnet.ops.numpy import _public

# the flat namespace holds every op (as keras.ops does), image ops excepted
for _m in (
    _numpy_create,
    _numpy_elementwise,
    _numpy_reduce,
    _numpy_shape,
    _nn_activations,
    _nn_conv,
    _nn_ctc,
    _nn_misc,
    math,
    linalg,
    core,
    _einops,
):
    globals().update(_public(_m))
del _m


def _symbolic_dispatch():
    """Every op called on symbolic tensors (from `jnet.Input`) records a graph node instead of
    computing, as `keras.ops` does on Keras tensors; on arrays it runs as written."""
    import functools
    import inspect
    import types

    from jnet.core.symbolic import has_symbolic, symbolic_op
    from jnet.ops._strings import STRING_OPS, has_strings, run_on_strings

    static = {"shape", "ndim", "dtype", "is_tensor", "convert_to_numpy", "standardize_dtype", "result_type"}

    def wrap(fn, qualified):
        takes_sparse = "sparse" in inspect.signature(fn).parameters
        takes_strings = qualified.rsplit(".", 1)[-1] in STRING_OPS  # shape ops: numpy on string arrays

        @functools.wraps(fn)
        def op(*args, **kwargs):
            if has_symbolic(args, kwargs):
                if takes_sparse and inspect.signature(fn).bind_partial(*args, **kwargs).arguments.get("sparse"):
                    raise ValueError(
                        f"{qualified}: `sparse=True` on a symbolic tensor: jnet's graph models carry "
                        "dense tensors; call the op on arrays for a sparse BCOO, or pass sparse=False"
                    )
                return symbolic_op(qualified, args, kwargs)
            if takes_strings and has_strings(args, kwargs):
                return run_on_strings(qualified, args, kwargs)
            return fn(*args, **kwargs)

        op.__jnet_op__ = qualified
        return op

    namespaces = {"": globals()}
    namespaces.update(
        {
            name: vars(mod)
            for name, mod in (
                ("numpy", numpy),
                ("nn", nn),
                ("math", math),
                ("linalg", linalg),
                ("core", core),
                ("image", image),
            )
        }
    )
    for prefix, space in namespaces.items():
        for name, fn in list(space.items()):
            if (
                name.startswith("_")
                or name in static
                or not isinstance(fn, types.FunctionType)
                or getattr(fn, "__jnet_op__", None)
            ):
                continue
            space[name] = wrap(fn, f"{prefix}.{name}" if prefix else name)


_symbolic_dispatch()
del _symbolic_dispatch
