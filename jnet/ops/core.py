"""`jnet.ops.core`: conversion, shapes, gradients, control flow and scatter/slice ops
(`keras.ops.core`), on `jax` and `jax.lax`. Functions given to control-flow ops run on jax
arrays and must be traceable (no Python branching on values)."""

from __future__ import annotations

import builtins

import jax
import jax.numpy as jnp
import numpy as np

from jnet.ops._utils import dtype_of, tensor, unwrap, unwrap_tree


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """`x` (array, list, scalar, jnet Variable) as a jax array; Python floats become `floatx()`.

    As in Keras on JAX, a sparse `BCOO` stays sparse unless `sparse=False` (then it is made
    dense); a dense `x` stays dense whatever `sparse` says.

    Text (a string, or lists / arrays of strings) stays a NumPy string array: JAX has no string
    dtype, and jnet's text layers (`TextVectorization`, `StringLookup`, a model with a string
    `Input`) read strings on the host.

    Raises:
        ValueError: with `ragged=True` (JAX has no ragged tensors).
    """
    if ragged:
        raise ValueError("convert_to_tensor: `ragged=True` is not supported (JAX has no ragged tensors)")
    if dtype in (None, "string", str) and _is_text(x):
        return np.asarray(x, dtype=str)
    if _is_sparse(x):
        if sparse is not None and not sparse:
            return tensor(x.todense(), dtype=dtype)
        return x if dtype is None else x.astype(dtype_of(dtype))
    return tensor(x, dtype=dtype)


def _is_text(x) -> bool:
    if isinstance(x, (str, bytes)):
        return True
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "USO" and x.size > 0 and isinstance(x.flat[0], (str, bytes))
    if isinstance(x, (list, tuple)) and x:
        return _is_text(x[0])
    return False


def _is_sparse(x):
    from jax.experimental import sparse as jsparse

    return isinstance(x, jsparse.JAXSparse)


def convert_to_numpy(x):
    """`x` as a NumPy array (a sparse `BCOO` made dense)."""
    if _is_sparse(x):
        x = x.todense()
    return np.asarray(unwrap(x))


def is_tensor(x):
    """Whether `x` is a jax array (including tracers inside `jit`) or a sparse `BCOO`."""
    return isinstance(unwrap(x), jax.Array) or _is_sparse(x)


def cast(x, dtype):
    """`x` cast to `dtype`."""
    return tensor(x).astype(dtype_of(dtype))


def saturate_cast(x, dtype):
    """`x` cast to `dtype`, values first clipped to the target's range (no wrap-around)."""
    x = tensor(x)
    target = dtype_of(dtype)
    if x.dtype != jnp.bool_ and target != jnp.bool_ and not jnp.issubdtype(x.dtype, jnp.complexfloating):
        src, dst = _info(x.dtype), _info(target)
        lo, hi = builtins.max(src.min, dst.min), builtins.min(src.max, dst.max)
        x = jnp.clip(x, jnp.array(lo, x.dtype), jnp.array(hi, x.dtype))
    return x.astype(target)


def _info(dt):
    return jnp.iinfo(dt) if jnp.issubdtype(dt, jnp.integer) else jnp.finfo(dt)


def shape(x):
    """The shape of `x` as a tuple (`None` for unknown axes of symbolic tensors)."""
    x = unwrap(x)
    return tuple(x.shape) if hasattr(x, "shape") else tuple(np.shape(x))


def dtype(x):
    """The dtype name of `x`, e.g. `"float32"`."""
    from jnet.backend import standardize_dtype

    x = unwrap(x)
    return standardize_dtype(x.dtype if hasattr(x, "dtype") else tensor(x).dtype)


def stop_gradient(variable):
    """`variable` with its gradient blocked."""
    return jax.lax.stop_gradient(tensor(variable))


def custom_gradient(f):
    """Decorate `f(*args)` returning `(output, grad_fn)`, where `grad_fn(upstream)` returns the
    gradients for `args`; jnet Variables passed in are used by value.

    Example:
    ```python
    @jnet.ops.custom_gradient
    def log1pexp(x):
        e = jnet.ops.exp(x)
        return jnet.ops.log(1 + e), lambda upstream: upstream * (1 - 1 / (1 + e))
    ```
    """
    wrapped = jax.custom_gradient(f)

    def call(*args, **kwargs):
        return wrapped(*unwrap_tree(args), **unwrap_tree(kwargs))

    call.__name__ = getattr(f, "__name__", "custom_gradient")
    call.__doc__ = f.__doc__
    return call


def cond(pred, true_fn, false_fn):
    """`true_fn()` if `pred` else `false_fn()`, traceable (`jax.lax.cond`); both branches must
    return the same structure of shapes and dtypes."""
    return jax.lax.cond(tensor(pred), true_fn, false_fn)


def switch(index, branches, *operands):
    """`branches[index](*operands)`, with `index` clamped to the valid range (`jax.lax.switch`)."""
    return jax.lax.switch(tensor(index), branches, *unwrap_tree(operands))


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """Repeat `loop_vars = body(*loop_vars)` while `cond(*loop_vars)`; at most
    `maximum_iterations` times when given. A tuple/list of loop vars is unpacked into the
    calls; a single var is passed as is.

    Example:
    >>> jnet.ops.while_loop(lambda i: i < 10, lambda i: i + 1, 0)  # 10
    """
    as_tuple = isinstance(loop_vars, (tuple, list))
    state = tuple(unwrap_tree(tuple(loop_vars))) if as_tuple else (unwrap_tree(loop_vars),)

    def wrap(out):
        return tuple(out) if as_tuple else (out,)

    if maximum_iterations is None:
        out = jax.lax.while_loop(lambda s: cond(*s), lambda s: wrap(body(*s)), state)
    else:

        def c(s):
            return jnp.logical_and(cond(*s[0]), s[1] < maximum_iterations)

        out = jax.lax.while_loop(c, lambda s: (wrap(body(*s[0])), s[1] + 1), (state, 0))[0]
    return type(loop_vars)(out) if as_tuple else out[0]


def fori_loop(lower, upper, body_fun, init_val):
    """`val = body_fun(i, val)` for `i` in `range(lower, upper)`, starting from `init_val`."""
    return jax.lax.fori_loop(unwrap(lower), unwrap(upper), body_fun, unwrap_tree(init_val))


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """Loop `carry, y = f(carry, x)` over the leading axis of `xs`: `(final_carry, stacked_ys)`
    (`jax.lax.scan`)."""
    if xs is None and length is None:
        raise ValueError("scan: give `xs` or `length`")
    return jax.lax.scan(f, unwrap_tree(init), unwrap_tree(xs), length=length, reverse=reverse, unroll=unroll)


def associative_scan(f, elems, reverse=False, axis=0):
    """Inclusive scan of the associative binary `f` over `elems` along `axis`, in parallel
    (`jax.lax.associative_scan`); e.g. `f=add` gives a cumulative sum."""
    return jax.lax.associative_scan(f, unwrap_tree(elems), reverse=reverse, axis=axis)


def map(f, xs):  # noqa: A001  (Keras's name)
    """`f` applied to each slice of `xs` along its leading axis, results stacked (`jax.lax.map`)."""
    return jax.lax.map(f, unwrap_tree(xs))


def vectorized_map(function, elements):
    """`function` vectorised over the leading axis of `elements` (`jax.vmap`)."""
    return jax.vmap(function)(unwrap_tree(elements))


def unstack(x, num=None, axis=0):
    """The slices of `x` along `axis`, as a list.

    Raises:
        ValueError: when `num` does not match the axis length.
    """
    x = tensor(x)
    if num is not None and num != x.shape[axis]:
        raise ValueError(f"unstack: `num`={num} does not match axis {axis} of length {x.shape[axis]}")
    return [jnp.take(x, i, axis=axis) for i in builtins.range(x.shape[axis])]


def scatter(indices, values, shape):
    """A zero tensor of `shape` with `values` added at `indices` (`(n, rank)` or `(n, k)` for
    slices); duplicate indices accumulate."""
    indices, values = tensor(indices), tensor(values)
    zeros = jnp.zeros(tuple(shape), values.dtype)
    return zeros.at[tuple(jnp.moveaxis(indices, -1, 0))].add(values)


def scatter_update(inputs, indices, updates, reduction=None):
    """`inputs` with `updates` written at `indices` (`(n, k)`); `reduction` None (set), "add",
    "max", "min" or "mul".

    Raises:
        ValueError: for an unknown `reduction`.
    """
    inputs, indices, updates = tensor(inputs), tensor(indices), tensor(updates)
    at = inputs.at[tuple(jnp.moveaxis(indices, -1, 0))]
    ops = {None: at.set, "add": at.add, "max": at.max, "min": at.min, "mul": at.multiply}
    if reduction not in ops:
        raise ValueError(
            f"scatter_update: unknown `reduction` {reduction!r}; expected None, 'add', 'max', 'min' or 'mul'"
        )
    return ops[reduction](updates)


def slice(inputs, start_indices, shape):  # noqa: A001  (Keras's name)
    """The block of `inputs` of `shape` starting at `start_indices` (-1 in `shape`: to the end)."""
    inputs = tensor(inputs)
    start = unwrap(start_indices)
    sizes = tuple(inputs.shape[i] - int(start[i]) if s == -1 else s for i, s in enumerate(shape))
    return jax.lax.dynamic_slice(inputs, tuple(start) if isinstance(start, (list, tuple)) else start, sizes)


def slice_update(inputs, start_indices, updates):
    """`inputs` with the block at `start_indices` replaced by `updates`."""
    inputs, updates = tensor(inputs), tensor(updates)
    return jax.lax.dynamic_update_slice(inputs, updates.astype(inputs.dtype), tuple(unwrap(start_indices)))
